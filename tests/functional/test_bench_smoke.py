"""The lateness, throughput and API load benchmarks run end to end (small), so they cannot rot."""

from __future__ import annotations

from stepq.bench.lateness import report_lines as lateness_lines
from stepq.bench.lateness import run_lateness
from stepq.bench.throughput import report_lines as throughput_lines
from stepq.bench.throughput import run_throughput


def test_lateness_measures_a_wait_on_the_default_embedded_path() -> None:
    (result,) = run_lateness((1,), log=lambda _: None)
    assert result.seconds == 1
    assert -0.05 <= result.late < 1.0  # fired after due, and within the goal
    assert lateness_lines([result])[-1].startswith("timer_lateness_max_seconds=")


def test_throughput_counts_every_transition_on_both_backends() -> None:
    result = run_throughput(executions=10, dbos=False, log=lambda _: None)
    assert result.stepq_transitions == 40  # 10 sagas x 4 states
    assert result.memory_transitions == 40
    assert result.stepq_rate > 0 and result.memory_rate > 0
    last = throughput_lines(result)[-1]
    assert last.startswith("transitions_per_second=") and "dbos_ratio=" in last


def test_api_load_runs_both_targets_in_turns_and_finishes_what_it_starts() -> None:
    import re

    from stepq.bench.api_load import run

    lines = run(seconds=2.0, clients=1, log=lambda _: None, rounds=2)
    ours, theirs, ratio = lines
    for line, target in ((ours, "stepq-dev"), (theirs, "moto-server")):
        fields = dict(part.split("=", 1) for part in line.split()[1:])
        assert fields["target"] == target and fields["errors"] == "0", line
        assert float(fields["starts_per_s"]) > 0, line
    assert re.fullmatch(r"api_load ratio starts_per_s=\d+\.\d\d goal=(met|not met) .*", ratio)
