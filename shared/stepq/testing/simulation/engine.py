"""The simulation: the real roles over simulated services, one seeded choice at a time.

Each step picks an actor: an orchestrator or a worker polls its queues
through the real ``Pump`` (receive -> handle_batch -> delete/dead-letter),
the scheduler ticks, the sweeper sweeps, the client starts, stops and
answers callbacks, the attacker forges messages, or the clock moves on.
A role that crashes (``Crash``) is replaced by a fresh instance, as a
restarted process; what it had received comes back after its visibility
timeout. After the main phase faults stop and everything runs until quiet,
time jumping to whatever is due next: what is still RUNNING then is stuck.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from stepq.backends.memory.blobs import MemoryBlobs
from stepq.backends.memory.queues import MemoryQueues
from stepq.clock import ManualClock
from stepq.hosting.pump import Pump
from stepq.runtime import codec
from stepq.runtime.applier.apply import Applier
from stepq.runtime.applier.config import RuntimeConfig, conflict_backoff
from stepq.runtime.backoff import Backoff, outage_backoff
from stepq.runtime.client import Client
from stepq.runtime.messages import EVENTS_QUEUE, task_queue
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.poison import DeadLetterSweeper, fail_owners
from stepq.runtime.ports import Received
from stepq.runtime.scheduler import Scheduler
from stepq.runtime.worker import Worker
from stepq.testing.simulation.attacker import forge
from stepq.testing.simulation.determinism import deterministic
from stepq.testing.simulation.faults import KINDS, Crash, FaultPlan, Faults
from stepq.testing.simulation.roles import GiveUps, Role, Verifier
from stepq.testing.simulation.services import FaultyQueues, FaultyStore, LimitedStore, Trace
from stepq.testing.simulation.workloads import (
    IDEMPOTENT,
    Workload,
    all_functions,
    generate,
    step_key,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
VISIBILITY = 60  # seconds, every queue
MAX_RECEIVES = 5
STORM_MAX = 60  # commits of one execution a conflict storm lasts, at most
ACTORS = (
    ("orchestrator", 30),
    ("worker", 30),
    ("scheduler", 4),
    ("sweeper", 2),
    ("client", 12),
    ("clock", 10),
    ("attacker", 2),
)
FUNCTIONS = all_functions()


@dataclass(slots=True)
class Started:
    """An execution the client was given an ARN for."""

    arn: str
    workload: Workload
    name: str
    stopped: bool = False


@dataclass(slots=True)
class Observed:
    """What the simulation saw the steps do (for the invariants)."""

    keys: dict[str, set[str]] = field(default_factory=dict)  # arn|step key -> idempotency keys
    tasks: dict[tuple[str, str], str] = field(default_factory=dict)  # (arn, task id) -> step key
    side_effects: dict[str, int] = field(default_factory=dict)  # arn|step key -> count
    gave_up: list[str] = field(default_factory=list)  # lost-race give-ups (contention)
    forged: set[str] = field(default_factory=set)  # message ids the attacker sent
    dead: dict[str, str] = field(default_factory=dict)  # message id -> why it was dead-lettered


class Simulation:
    def __init__(
        self,
        seed: int,
        *,
        defects: frozenset[str] = frozenset(),
        kinds: frozenset[str] = frozenset(KINDS),
        executions: int | None = None,
        max_steps: int = 600,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = ManualClock(START)
        self.trace = Trace()
        self.defects = defects
        self.max_steps = max_steps
        self.faults = Faults(
            random.Random(self.rng.getrandbits(64)), FaultPlan.draw(self.rng, kinds, START)
        )
        self.offload = self.rng.random() < 0.5  # a store with a blob store for large items
        self.store_inner = LimitedStore(self.clock, offload=self.offload)
        self.queues_inner = MemoryQueues(self.clock, blobs=MemoryBlobs())
        self.store = FaultyStore(self.store_inner, self.faults, self.trace, self.clock)
        self.queues = FaultyQueues(self.queues_inner, self.faults, self.trace, self.clock)
        self.store.before_commit = self._maybe_conflict_storm
        self.task_queues = sorted({task_queue(name) for name in FUNCTIONS})
        for name in [EVENTS_QUEUE, *self.task_queues]:
            self.queues_inner.ensure(name, max_receives=MAX_RECEIVES, visibility_timeout=VISIBILITY)
        self.observed = Observed()
        self.answers: list[tuple[str, str, Any]] = []  # callback answers the client owes
        self.functions = {name: self._step(name, fn) for name, fn in FUNCTIONS.items()}
        count = executions if executions is not None else self.rng.choice([1, 2, 2, 3, 4])
        large = "large_input" in kinds and self.rng.random() < 0.05
        self.workloads = [generate(self.rng, i, large=large and i == 0) for i in range(count)]
        self.to_start = list(range(count))
        self.started: list[Started] = []
        self.orchestrators = [Role(self._orchestrator) for _ in range(2)]
        self.workers = [Role(self._worker) for _ in range(2)]
        # Other processes' writers (conflict storms, expired visibility): one message
        # per poll, as a crowd of Lambda invocations each holding one result.
        self.rivals = [Role(lambda: self._orchestrator(1)), Role(lambda: self._worker(1))]
        self.scheduler = Scheduler(self.store, self.queues, self.clock)
        self.sweeper = DeadLetterSweeper(
            self.store, self.queues, self.clock, [EVENTS_QUEUE, *self.task_queues]
        )
        front = Orchestrator(self.store, self.queues, self.clock, self._config())
        self.client = Client(front, self.queues)
        self._nested = False
        self._draining = False
        self._storms: dict[str, int] = {}  # execution -> commits still preceded by rivals
        self.steps = 0
        self.stuck_reason = ""

    # --- building the roles ---------------------------------------------------------

    def _backoff(self, backoff: Backoff) -> Backoff:
        return Backoff(backoff.base, backoff.cap, rng=random.Random(self.rng.getrandbits(64)))

    def _config(self) -> RuntimeConfig:
        return RuntimeConfig(
            conflict_backoff=self._backoff(conflict_backoff()),
            sleep=self.clock.advance,  # a writer that backs off lets virtual time pass
            defects=self.defects,
        )

    def _pump(self, names: list[str], handler: Callable[..., Any], batch: int | None) -> Pump:
        return Pump(
            self.queues,
            names,
            handler,
            batch=batch or self.rng.choice([1, 1, 2, 3, 5, 10]),
            on_dead=self._dead,
            backoff=self._backoff(outage_backoff()),
        )

    def _orchestrator(self, batch: int | None = None) -> Pump:
        orchestrator = Orchestrator(self.store, self.queues, self.clock, self._config())
        return self._pump([EVENTS_QUEUE], orchestrator.handle_batch, batch)

    def _worker(self, batch: int | None = None) -> Pump:
        config = self._config()
        worker = Worker(
            self.functions,
            self.queues,
            self.clock,
            client=Verifier(self.answers),
            applier=Applier(self.store, self.clock, config),
            visibility_timeout=VISIBILITY,
        )
        return self._pump(list(self.task_queues), worker.handle_batch, batch)

    def _dead(self, queue: str, dead: list[tuple[Received, str]]) -> None:
        for received, reason in dead:
            self.observed.dead.setdefault(received.message_id, reason)
        fail_owners(self.store, self.queues, queue, dead, self.clock)

    # --- steps as the worker runs them ----------------------------------------------

    def _step(self, name: str, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        results: dict[str, Any] = {}  # idempotent_step's record: key -> first result

        def run(event: Any, context: Any) -> Any:
            key = getattr(context, "idempotency_key", "")
            # Keys are "<execution arn>:<frame origin>:<visit>:<attempt>" (origins
            # start with "/"); the task id is in the context's extra.
            arn = key[: key.index(":/")] if ":/" in key else key.rsplit(":", 2)[0]
            task_id = getattr(context, "extra", {}).get("task_id", "")
            step = f"{arn}|{step_key(name, event, getattr(context, 'attempt', 0))}"
            self.observed.keys.setdefault(step, set()).add(key)
            self.observed.tasks[(arn, task_id)] = step.split("|", 1)[1]
            self.trace.note("step", name, key)
            self._maybe_expire_visibility()
            if name not in IDEMPOTENT:
                return fn(event, context)
            if key in results:
                return results[key]
            result = fn(event, context)
            self.observed.side_effects[step] = self.observed.side_effects.get(step, 0) + 1
            results[key] = result
            return result

        run.__name__ = name
        return run

    def _maybe_expire_visibility(self) -> None:
        """The step runs past its message's visibility timeout: another worker gets it."""
        if self._nested or not self.faults.roll("visibility_expiry"):
            return
        self.clock.advance(VISIBILITY + 1)
        self._rival(self.rivals[1])

    def _maybe_conflict_storm(self, execution_id: str) -> None:
        """Other writers commit between this writer's reads and writes, again and again:
        for the next few commits on this execution a rival role runs first."""
        if self._nested:
            return
        if self.faults.roll("conflict_storm"):
            self._storms[execution_id] = self.rng.randint(5, STORM_MAX)
        left = self._storms.get(execution_id, 0)
        if left:
            self._storms[execution_id] = left - 1
            for _ in range(self.rng.randint(1, 3)):
                self._rival_for(execution_id)

    def _rival_for(self, execution_id: str) -> None:
        """A rival role polls a queue holding work of ``execution_id`` (if any)."""
        held = self.queues_inner._queues  # the simulator's own view
        now = self.clock.now()
        names = [
            name
            for name in [EVENTS_QUEUE, *self.task_queues]
            if any(m.visible_at <= now and execution_id in m.raw for m in held[name].messages)
        ]
        if not names:
            return
        name = self.rng.choice(names)
        self._nested = True
        try:
            (self.rivals[0] if name == EVENTS_QUEUE else self.rivals[1]).poll([name])
        finally:
            self._nested = False

    def _busy_task_queues(self) -> list[str]:
        """Task queues holding messages (polling empty ones only burns time)."""
        held = self.queues_inner._queues
        return [name for name in self.task_queues if held[name].messages]

    def _rival(self, role: Role) -> None:
        self._nested = True
        try:
            role.poll(None if role.pump.queue_names == [EVENTS_QUEUE] else self._busy_task_queues())
        finally:
            self._nested = False

    # --- the main loop ------------------------------------------------------------

    def run(self) -> None:
        # The roles log every injected failure; only the give-ups matter here.
        root, groups = logging.getLogger("stepq"), logging.getLogger("stepq.runtime.applier.groups")
        saved = root.level, groups.level, groups.propagate
        watcher = GiveUps(self.observed.gave_up)
        root.setLevel(logging.CRITICAL)
        groups.setLevel(logging.ERROR)
        groups.propagate = False
        groups.addHandler(watcher)
        try:
            self._run()
        finally:
            groups.removeHandler(watcher)
            root.level, groups.level, groups.propagate = saved

    def _run(self) -> None:
        with deterministic(self.clock, random.Random(self.rng.getrandbits(64))):
            self._setup()
            for step in range(1, self.max_steps + 1):
                self.steps = step
                self.step()
                if step % 25 == 0 and self._settled():
                    break
            self._drain()

    def _setup(self) -> None:
        deployed = set()
        for workload in self.workloads:
            if workload.machine not in deployed:
                self.store_inner.put_machine(workload.machine, workload.definition)
                deployed.add(workload.machine)

    def step(self) -> None:
        actor = self.rng.choices([a for a, _ in ACTORS], [w for _, w in ACTORS])[0]
        self.trace.note("actor", actor, self.clock.now().isoformat())
        if actor == "orchestrator":
            self._armed(self.rng.choice(self.orchestrators).poll)
        elif actor == "worker":
            worker = self.rng.choice(self.workers)
            busy = self._busy_task_queues() or self.task_queues
            self._armed(lambda: worker.poll([self.rng.choice(busy)]))
        elif actor == "scheduler":
            if not self.faults.down("scheduler", self.clock.now()):
                self._armed(self._tick)
        elif actor == "sweeper":
            self._armed(self.sweeper.sweep)
        elif actor == "client":
            self._client()
        elif actor == "attacker":
            if "attacker" in self.faults.plan.kinds:
                self._attack()
        else:
            self._advance()

    def _armed(self, action: Callable[[], Any]) -> Any:
        self.faults.armed = True
        try:
            return action()
        except Crash:
            return 1  # the scheduler or sweeper died mid-call: restarted, stateless
        finally:
            self.faults.armed = False

    def _tick(self) -> int:
        try:
            fired = self.scheduler.tick()
            swept = self.scheduler.sweep_quiet()  # every 5 virtual minutes at most
            return fired + (len(swept.reconciled) if swept else 0)
        except Exception:  # its loop logs and ticks again later
            return 0

    # --- the client ---------------------------------------------------------------

    def _client(self) -> bool:
        """One client action: a start, a stop, or a callback answer; False: nothing to do."""
        choices = []
        if self.to_start:
            choices.append("start")
        if self.answers:
            choices.append("answer")
        live = [s for s in self.started if not s.stopped]
        if live and not self._draining and self.rng.random() < 0.03:
            choices.append("stop")  # a caller that stops a running execution later
        if not choices:
            return False
        choice = self.rng.choice(choices)
        if choice == "stop":
            started = self.rng.choice(live)
            started.stopped = True
            self.client.stop_execution(started.arn, error="Stopped", cause="by the caller")
            return True
        if choice == "start":
            index = self.to_start.pop(self.rng.randrange(len(self.to_start)))
            workload = self.workloads[index]
            name = f"run-{self.seed}-{index}"
            arn = self.client.start_execution(workload.machine, name, workload.input)
            started = Started(arn, workload, name)
            self.started.append(started)
            if self.rng.random() < 0.1:  # a caller that changes its mind at once
                started.stopped = True
                self.client.stop_execution(arn, error="Changed", cause="mind")
            return True
        # A verifier answers one task, or everything it holds at once (a burst of
        # callbacks for one execution: its writers contend).
        burst = len(self.answers) if self.rng.random() < 0.3 else 1
        for _ in range(burst):
            kind, token, answer = self.answers.pop(self.rng.randrange(len(self.answers)))
            for _ in range(2 if self.rng.random() < 0.1 else 1):  # it may answer twice
                if kind == "success":
                    self.client.send_task_success(token, answer)
                else:
                    self.client.send_task_failure(token, error=answer[0], cause=answer[1])
        return True

    # --- the attacker ---------------------------------------------------------------

    def _attack(self) -> None:
        forge(self)

    # --- time ---------------------------------------------------------------------

    def _next_due(self) -> datetime | None:
        now = self.clock.now()
        due = [
            m.visible_at
            for q in self.queues_inner._queues.values()
            for m in q.messages
            if m.visible_at > now
        ]
        due += [codec.parse_instant(t.due) for t in self.store_inner._timers.values()]
        due += [w.end for w in self.faults.plan.outages.values() if w.end > now]
        later = [d for d in due if d is not None and d > now]
        return min(later) if later else None

    def _advance(self) -> None:
        """Time moves slowly while there is work (a real system commits many times a
        second), and jumps to what is due next when nothing can happen before it."""
        now = self.clock.now()
        outage = any(w.covers(now) for w in self.faults.plan.outages.values())
        if not outage and (self._visible_work() or self.to_start or self.answers):
            self.clock.advance(self.rng.choice([0.05, 0.2, 1, 3]))
            return
        due = self._next_due()
        if due is not None and self.rng.random() < 0.8:
            self.clock.set(due + timedelta(milliseconds=1))
        else:
            self.clock.advance(self.rng.choice([5, 30, 120]))

    def _visible_work(self) -> bool:
        now = self.clock.now()
        return any(
            m.visible_at <= now for q in self.queues_inner._queues.values() for m in q.messages
        )

    # --- the end --------------------------------------------------------------------

    def running(self) -> list[str]:
        out = []
        for started in self.started:
            with contextlib.suppress(Exception):
                if self.store_inner.get_execution(started.arn).status == "RUNNING":
                    out.append(started.arn)
        return out

    def _pending(self) -> bool:
        return any(q.messages for q in self.queues_inner._queues.values()) or bool(
            self.store_inner._timers
        )

    def _settled(self) -> bool:
        return not self.to_start and not self.answers and not self.running() and not self._pending()

    def _drain(self) -> None:
        """Faults off, outages over: run everything until quiet, jumping time to what is due."""
        self.faults.plan.outages.clear()
        self.faults.armed = False
        self._draining = True
        for _ in range(400):
            self._quiet()
            if not self.running() and not self._pending():
                return
            due = self._next_due()
            if due is None:
                if not self._pending():
                    return  # RUNNING with nothing that will ever wake it
                due = self.clock.now() + timedelta(seconds=VISIBILITY)
            self.clock.set(due + timedelta(milliseconds=1))
        self.stuck_reason = "still busy after 400 rounds of draining"

    def _quiet(self, limit: int = 2000) -> None:
        for _ in range(limit):
            busy = 0
            busy_queues = self._busy_task_queues()
            for role in self.orchestrators:
                busy += role.poll()
            for role in self.workers:
                busy += role.poll(busy_queues) if busy_queues else 0
            busy += self._tick()
            busy += self.sweeper.sweep()
            while self._client():
                busy += 1
            if not busy:
                return
