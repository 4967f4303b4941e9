"""``stepq bench``: the figures of issue 3 (cost, flat cost, throughput, timer lateness).

CONTRACT (others code against these signatures)::

    cost.run_cost(examples=None, log=print) -> (dict[str, Tally], Tally)
    cost.report_lines(results, overall) -> list[str]   # last: cost_per_million_transitions_usd=<n>
    flat.run_flat(iterations, early=5, log=print) -> FlatResult
    throughput.run_throughput(executions=200, extra_pumps=0, dbos=True, log=print) -> ThroughputResult
    throughput.report_lines(result) -> list[str]       # last: transitions_per_second=<n> dbos_ratio=<x>
    lateness.run_lateness(waits=(2, 3, 4), log=print) -> list[Lateness]

Everything runs in-process on moto (and DBOS on SQLite); nothing talks to AWS.
"""
