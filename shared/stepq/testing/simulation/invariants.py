"""What must hold after every run, whatever the faults did.

- ``outcome``: each execution the client was given an ARN for exists and
  ends as the pure core ends it for the same input, callback answers and
  the timeouts the run observed (or ABORTED, if the client stopped it);
- ``lost-start``: ... and it exists at all (defects 3 and 6); ``start-overtaken``:
  one stopped right after its start exists (defect 2);
- ``stuck``: after draining nothing is RUNNING (defect 1);
- ``double-transition``: history ids are contiguous and each inbound
  message was applied by one commit;
- ``forged-accepted``: no commit applied a message the attacker sent (defect 5);
- ``poisoned``: no healthy execution failed as a poison message (defect 6);
- ``idempotency-key``: all runs of one step carry one idempotency key;
- ``side-effect-twice``: an ``idempotent_step``'s side effect happened once;
- ``contention-gave-up``: no writer gave up on lost commit races (defect 7).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from stepq.core.definition import load_definition
from stepq.core.machine import Machine
from stepq.runtime import codec
from stepq.runtime.applier.redelivery import cause_digest
from stepq.runtime.poison import POISON_ERROR
from stepq.runtime.ports import Commit
from stepq.testing.simulation.engine import FUNCTIONS, Simulation, Started
from stepq.testing.simulation.oracle import expected_outcome

INVARIANTS = (
    "outcome",
    "lost-start",
    "start-overtaken",
    "stuck",
    "double-transition",
    "forged-accepted",
    "poisoned",
    "idempotency-key",
    "side-effect-twice",
    "contention-gave-up",
)


GIVE_UP_RACES = 3  # a writer that gave up after this many lost races gave up on contention


@dataclass(frozen=True, slots=True)
class Violation:
    seed: int
    invariant: str
    execution: str
    detail: str

    def __str__(self) -> str:
        return f"seed={self.seed} {self.invariant}: {self.execution}: {self.detail}"


def check(sim: Simulation) -> list[Violation]:
    found: list[Violation] = []

    def violated(invariant: str, execution: str, detail: str) -> None:
        found.append(Violation(sim.seed, invariant, execution, detail[:400]))

    for started in sim.started:
        _check_execution(sim, started, violated)
    for step, keys in sim.observed.keys.items():
        if len(keys) > 1 and "forged" not in step:  # a forged task is forged-accepted's
            violated(
                "idempotency-key", step.split("|", 1)[0], f"{step[:200]} ran as {sorted(keys)}"
            )
    for step, count in sim.observed.side_effects.items():
        if count > 1:
            violated("side-effect-twice", step.split("|", 1)[0], f"{step[:200]} {count} times")
    for detail in sim.observed.gave_up:
        # One lost race after a long inline step is the budget working as meant.
        lost = re.search(r"after losing (\d+) commit races", detail)
        if lost is None or int(lost.group(1)) >= GIVE_UP_RACES:
            violated("contention-gave-up", "", detail)
    if sim.stuck_reason:
        violated("stuck", "", sim.stuck_reason)
    return found


def _commits(sim: Simulation, arn: str) -> list[Commit]:
    held = sim.store_inner._commits.get(arn, {})
    return [held[seq] for seq in sorted(held)]


def _check_execution(sim: Simulation, started: Started, violated: Any) -> None:
    arn = started.arn
    commits = _commits(sim, arn)
    if not commits:
        why = sim.observed.dead.get(f"start|{arn}", "")
        if started.stopped and "no execution" in why:  # its stop overtook it (defect 2)
            violated("start-overtaken", arn, "a stop sent right after the start left no execution")
        else:
            violated("lost-start", arn, "the client holds this ARN but the execution never existed")
        return
    header = sim.store_inner.get_execution(arn)
    # One transition once: history ids 1..n, each inbound message in one commit.
    ids = [e.get("id") for c in commits for e in c.events]
    if ids != list(range(1, len(ids) + 1)):
        violated("double-transition", arn, f"history ids are not 1..n: {ids[:40]}")
    causes = [cause for c in commits for cause in c.causes]
    if len(causes) != len(set(causes)):
        twice = sorted({c for c in causes if causes.count(c) > 1})
        violated("double-transition", arn, f"messages applied by more than one commit: {twice}")
    forged = {cause_digest(f) for f in sim.observed.forged} & set(causes)
    if forged:
        violated("forged-accepted", arn, f"{len(forged)} forged messages moved it")
        return  # its outcome is the forger's, not the core's
    if header.status == "RUNNING":
        violated("stuck", arn, f"RUNNING with nothing to wake it, after {len(commits)} commits")
        return
    if header.status == "FAILED" and header.error == POISON_ERROR:
        violated("poisoned", arn, f"failed as a poison message: {header.cause}")
        return
    if started.stopped and header.status == "ABORTED":
        return
    machine = _machine(started.workload.machine, started.workload.definition)
    expected = expected_outcome(
        machine,
        FUNCTIONS,
        started.workload.input,
        name=started.name,
        start=codec.parse_instant(header.start_time) or sim.clock.now(),
        region="us-east-1",
        account="111111111111",
        timed_out=_timed_out(sim, arn, commits, set(causes)),
    )
    actual = (header.status, header.output, header.error)
    wanted = (expected.status, expected.output, expected.error)
    if _canonical(actual) != _canonical(wanted):
        violated("outcome", arn, f"ended {_short(actual)}, the core says {_short(wanted)}")


_MACHINES: dict[tuple[str, str], Machine] = {}


def _machine(name: str, definition: dict[str, Any]) -> Machine:
    key = (name, json.dumps(definition, sort_keys=True))
    if key not in _MACHINES:
        if len(_MACHINES) > 500:  # generated machines differ per seed: keep the cache small
            _MACHINES.clear()
        _MACHINES[key] = Machine(load_definition(definition).raw, name=name)
    return _MACHINES[key]


def _timed_out(
    sim: Simulation, arn: str, commits: list[Commit], causes: set[str]
) -> dict[str, bool]:
    """Step keys whose timeout (or heartbeat) timer this execution applied -> heartbeat?"""
    tasks = {tid: key for (a, tid), key in sim.observed.tasks.items() if a == arn}
    from stepq.testing.simulation.workloads import step_key

    for commit in commits:
        for data in commit.commands:
            if data.get("type") == "RunTask" or ("task_id" in data and "attempt" in data):
                try:
                    command = codec.decode_command(data)
                except Exception:
                    continue
                task_id = getattr(command, "task_id", None)
                if task_id is not None and hasattr(command, "attempt"):
                    tasks[task_id] = step_key(command.function_name, command.input, command.attempt)
    out: dict[str, bool] = {}
    for task_id, key in tasks.items():
        if cause_digest(f"timeout|{arn}|{task_id}") in causes:
            out[key] = False
        ids = [
            f"heartbeat|{arn}|{task_id}",
            *(f"heartbeat|{arn}|{task_id}|{b}" for b in range(1, 20)),
        ]
        if any(cause_digest(i) in causes for i in ids):
            out[key] = True
    return out


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _short(value: Any) -> str:
    text = _canonical(value)
    return text if len(text) < 160 else text[:157] + "..."
