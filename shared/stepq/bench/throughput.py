"""``stepq bench throughput``: state transitions per second, stepq embedded vs DBOS.

stepq: ``executions`` order sagas (happy path, 4 states each) started at once
on one ``EmbeddedRuntime`` (moto in-process; the orchestrator, worker and
scheduler loops as threads); the clock runs from the first start request to
the last execution's final commit (every outcome is then read and checked). ``extra_pumps`` adds orchestrator and worker pump
threads on the runtime's public objects (conditional writes keep racing
orchestrators correct); all threads share one GIL and moto's DynamoDB is
serialised behind one lock, so extra threads mostly add contention.

DBOS (PyPI ``dbos``, SQLite system database in a temporary folder): the same
saga as a workflow of four ``@DBOS.step`` functions (charge, reserve, ship,
confirm, as the saga's Charge, Reserve, Ship and Confirmed states), the same
number of workflows started at once with ``DBOS.start_workflow``. One step
counts as one transition. The ratio is stepq / DBOS.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepq.clock import monotonic

SAGA_INPUT = {"amount": 42, "items": ["book", "pen"]}


@dataclass(slots=True)
class ThroughputResult:
    executions: int
    stepq_transitions: int
    stepq_seconds: float
    dbos_transitions: int = 0
    dbos_seconds: float = 0.0
    extra_pumps: int = 0
    memory_transitions: int = 0  # the same run on the in-memory fakes (backend="memory")
    memory_seconds: float = 0.0

    @property
    def stepq_rate(self) -> float:
        return self.stepq_transitions / self.stepq_seconds if self.stepq_seconds else 0.0

    @property
    def dbos_rate(self) -> float:
        return self.dbos_transitions / self.dbos_seconds if self.dbos_seconds else 0.0

    @property
    def memory_rate(self) -> float:
        return self.memory_transitions / self.memory_seconds if self.memory_seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.stepq_rate / self.dbos_rate if self.dbos_rate else float("nan")


def run_stepq(
    executions: int, extra_pumps: int = 0, timeout: float = 1800.0, backend: str = "moto"
) -> tuple[int, float]:
    """(transitions, seconds) for ``executions`` concurrent order sagas."""
    from stepq.bench.cost import count_transitions
    from stepq.hosting.embedded import EmbeddedRuntime
    from stepq.hosting.pump import Pump
    from stepq.runtime.messages import EVENTS_QUEUE
    from stepq.testing import example

    definition, functions = example("order_saga")
    with EmbeddedRuntime(functions, backend=backend) as runtime:
        runtime.deploy("order_saga", definition)
        stop = threading.Event()
        threads = []
        for index in range(extra_pumps):
            for pump in (
                Pump(runtime.queues, [EVENTS_QUEUE], runtime.orchestrator.handle_batch),
                Pump(runtime.queues, runtime.task_queues, runtime.worker.handle_batch),
            ):
                thread = threading.Thread(
                    target=pump.run, args=(stop,), name=f"bench-pump-{index}", daemon=True
                )
                thread.start()
                threads.append(thread)
        try:
            started = monotonic()
            arns = [
                runtime.start("order_saga", {"order_id": f"o-{i}", **SAGA_INPUT}, name=f"tp-{i}")
                for i in range(executions)
            ]
            # The clock stops at the last final commit; outcomes are read after.
            runtime.wait_finished(arns, timeout=timeout)
            seconds = monotonic() - started
            headers = [runtime.wait(arn, timeout=timeout) for arn in arns]
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5)
        failed = [h.execution_id for h in headers if h.status != "SUCCEEDED"]
        if failed:
            raise RuntimeError(f"{len(failed)} sagas did not succeed, e.g. {failed[0]}")
        transitions = sum(count_transitions(runtime.history(arn)) for arn in arns)
    return transitions, seconds


def run_dbos(workflows: int) -> tuple[int, float]:
    """(steps, seconds) for ``workflows`` concurrent 4-step DBOS sagas on SQLite."""
    from dbos import DBOS

    with tempfile.TemporaryDirectory(prefix="stepq-bench-dbos-") as folder:
        url = f"sqlite:///{Path(folder) / 'dbos.sqlite'}"
        DBOS(config={"name": "stepq-bench", "system_database_url": url, "log_level": "WARNING"})
        steps = 0
        lock = threading.Lock()

        def counted() -> None:
            nonlocal steps
            with lock:
                steps += 1

        @DBOS.step()
        def charge(order: dict[str, Any]) -> dict[str, Any]:
            counted()
            return {"charge_id": f"ch-{order['order_id']}", "amount": order["amount"]}

        @DBOS.step()
        def reserve(order: dict[str, Any]) -> dict[str, Any]:
            counted()
            return {"reservation_id": f"rs-{order['order_id']}"}

        @DBOS.step()
        def ship(order: dict[str, Any]) -> dict[str, Any]:
            counted()
            return {"tracking_number": f"1Z-{order['order_id']}"}

        @DBOS.step()
        def confirm(
            order: dict[str, Any], payment: dict[str, Any], shipment: dict[str, Any]
        ) -> dict[str, Any]:
            counted()
            return {
                "order_id": order["order_id"],
                "status": "CONFIRMED",
                "charge_id": payment["charge_id"],
                "tracking": shipment["tracking_number"],
            }

        @DBOS.workflow()
        def saga(order: dict[str, Any]) -> dict[str, Any]:
            payment = charge(order)
            reserve(order)
            shipment = ship(order)
            return confirm(order, payment, shipment)

        DBOS.launch()
        try:
            started = monotonic()
            handles = [
                DBOS.start_workflow(saga, {"order_id": f"o-{i}", **SAGA_INPUT})
                for i in range(workflows)
            ]
            results = [h.get_result() for h in handles]
            seconds = monotonic() - started
        finally:
            DBOS.destroy(destroy_registry=True)
    if any(r.get("status") != "CONFIRMED" for r in results):
        raise RuntimeError("a DBOS saga did not confirm")
    return steps, seconds


def run_throughput(
    executions: int = 200,
    extra_pumps: int = 0,
    dbos: bool = True,
    log: Callable[[str], None] = print,
) -> ThroughputResult:
    log(f"stepq: {executions} concurrent order sagas on the embedded backend (moto) ...")
    transitions, seconds = run_stepq(executions, extra_pumps)
    result = ThroughputResult(executions, transitions, seconds, extra_pumps=extra_pumps)
    log(f"stepq: {executions} concurrent order sagas on the in-memory fakes ...")
    result.memory_transitions, result.memory_seconds = run_stepq(
        executions, extra_pumps, backend="memory"
    )
    if dbos:
        log(f"DBOS: {executions} concurrent 4-step workflows on SQLite ...")
        result.dbos_transitions, result.dbos_seconds = run_dbos(executions)
    return result


def report_lines(result: ThroughputResult) -> list[str]:
    pumps = 1 + result.extra_pumps
    lines = [
        f"stepq embedded (moto): {result.stepq_transitions} transitions in "
        f"{result.stepq_seconds:.2f} s ({result.executions} executions, {pumps} orchestrator + "
        f"{pumps} worker pump thread(s)): {result.stepq_rate:.1f}/s",
        f"stepq embedded (memory fakes): {result.memory_transitions} transitions in "
        f"{result.memory_seconds:.2f} s: {result.memory_rate:.1f}/s",
    ]
    if result.dbos_seconds:
        lines.append(
            f"DBOS (SQLite):  {result.dbos_transitions} steps in {result.dbos_seconds:.2f} s "
            f"({result.executions} workflows): {result.dbos_rate:.1f}/s"
        )
    lines.append("goal >= 300 transitions/s (on moto, the embedded backend the issue names)")
    memory_ratio = result.memory_rate / result.dbos_rate if result.dbos_rate else float("nan")
    lines.append(
        f"memory_transitions_per_second={result.memory_rate:.1f} memory_dbos_ratio={memory_ratio:.3f}"
    )
    lines.append(f"transitions_per_second={result.stepq_rate:.1f} dbos_ratio={result.ratio:.3f}")
    return lines
