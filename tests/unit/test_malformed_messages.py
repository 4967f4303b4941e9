"""Bad input on the queues is always recognised as bad: refused at once, with a reason.

A body whose fields have the wrong type (a list where a task id belongs, a
number where an instant belongs, a lone surrogate in a string, NaN in a
result) is refused by ``parse_event`` / ``parse_task`` before anything is
applied: the batch handler reports it dead at once with a reason naming the
field, and the execution is left as it was. A value of the right type that
the core still cannot use is dead-lettered too, never retried until the
queue gives up; store and queue failures still are retried.

Everything runs on the real orchestrator, worker and applier over the
in-memory store and queues (the same contract as DynamoDB and SQS).
"""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.memory.store import MemoryStore
from stepq.backends.queue_wire import encode_body, parse_body
from stepq.clock import ManualClock
from stepq.core import events as ev
from stepq.errors import (
    ClaimCheckError,
    ConflictError,
    MalformedMessageError,
    MessageTooLargeError,
    NotFoundError,
    QueueError,
    StoreError,
)
from stepq.runtime import codec
from stepq.runtime.applier.apply import Applier
from stepq.runtime.batch import BatchResult, content_errors_are_malformed
from stepq.runtime.messages import (
    EVENTS_QUEUE,
    event_message,
    parse_event,
    parse_task,
    task_message,
    task_queue,
)
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.ports import Received
from stepq.runtime.signing import Keys
from stepq.runtime.worker import Worker

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"
ONE_TASK = {
    "StartAt": "A",
    "States": {"A": {"Type": "Task", "Resource": LAMBDA + "a", "End": True}},
}
AT = "2026-01-01T00:00:00+00:00"

# --- a small runtime on the memory backend ------------------------------------------

SIGNING_KEY = bytes(range(32))


class _Store(MemoryStore):
    """Every store here shares one signing key, so a test can sign what it sends."""

    def signing_key(self) -> bytes:
        return SIGNING_KEY


KEYS = Keys(_Store())


class System:
    """The orchestrator, and a worker recording its results itself, on one memory backend."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.calls: list[Any] = []  # the inputs the step ran with
        self.store = _Store(clock=self.clock)
        self.queues = MemoryQueues(clock=self.clock)
        for queue in (EVENTS_QUEUE, task_queue("a")):
            self.queues.ensure(queue)
        self.orchestrator = Orchestrator(self.store, self.queues, self.clock)
        applier = Applier(self.store, self.clock)
        self.worker = Worker({"a": self._step}, self.queues, self.clock, applier=applier)
        self.output: Any = {"done": True}

    def _step(self, event: Any, context: Any) -> Any:
        self.calls.append(event)
        return self.output

    def start(self, definition: dict[str, Any], data: Any = None) -> tuple[str, BatchResult]:
        self.store.put_machine("sm", definition)
        message = self.orchestrator.start_message("sm", "e1", {} if data is None else data)
        return message.body["execution_id"], self.orchestrator.handle_batch(
            [_received(message.body)]
        )

    def task_body(self) -> dict[str, Any]:
        """The task message commit 1 sent (taken off its queue)."""
        (task,) = self.queues.receive(task_queue("a"), 10)
        assert task.body is not None
        return task.body

    def state_of(self, arn: str) -> tuple[int, Any, int]:
        """The newest commit's seq and snapshot, and how many messages the queues hold."""
        latest = self.store.latest(arn)
        held = sum(self.queues.depth(q) for q in (EVENTS_QUEUE, task_queue("a")))
        return latest.seq, latest.snapshot, held


def _received(body: Any) -> Received:
    """``body`` as the runtime would have sent it: authentic, however malformed."""
    if isinstance(body, dict):
        queue = task_queue("a") if "command" in body else EVENTS_QUEUE
        body = KEYS.sign(queue, body)
    return Received(copy.deepcopy(body), json.dumps(body), "receipt", 1, "m-1")


def _started() -> tuple[System, str, dict[str, Any]]:
    system = System()
    arn, result = system.start(ONE_TASK)
    assert not result.dead and not result.failed
    return system, arn, system.task_body()


def _set(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``body`` with ``dotted`` (``event.at``) set, or deleted for ``...``."""
    out = copy.deepcopy(body)
    *parents, last = dotted.split(".")
    target = out
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return out


def _assert_refused_at_once(
    system: System, arn: str, result: BatchResult, before: tuple[int, Any, int], *fields: str
) -> str:
    assert not result.failed  # never left for redelivery
    ((_, reason),) = result.dead
    for name in fields:
        assert name in reason
    assert codec.is_unicode(reason)
    assert system.state_of(arn) == before  # no commit, nothing sent
    return reason


# --- the events queue -------------------------------------------------------------


def _result_body(arn: str, task_id: str) -> dict[str, Any]:
    event = ev.TaskSucceeded(task_id, {"ok": 1}, datetime(2026, 1, 1, tzinfo=UTC))
    return json.loads(encode_body(event_message(arn, event, f"result|{arn}|{task_id}").body))


@pytest.mark.parametrize(
    ("where", "value", "named"),
    [
        ("event.task_id", [1], "'event.task_id' is not a str"),
        ("event.task_id", {"a": 1}, "'event.task_id' is not a str"),
        ("event.task_id", "f\ud800", "'event.task_id' is not valid Unicode"),
        ("event.at", 5, "'event.at' is not an ISO 8601 instant"),
        ("event.at", {"a": 1}, "'event.at' is not an ISO 8601 instant"),
        ("event.at", "2026-01-01T00:00:00", "'event.at' is not an ISO 8601 instant"),
        ("event.at", "yesterday", "'event.at' is not an ISO 8601 instant"),
        ("event.at", "9999-12-31T23:59:59+00:00", "'event.at' is not between"),
        ("event.at", ..., "'event.at' is missing"),
        ("event.output", "\ud800", "'event.output' is not valid Unicode"),
        ("event.output", {"k": ["ok", "x\udfff"]}, "'event.output.k[1]' is not valid Unicode"),
        ("event.output", {"\ud800": 1}, "'event.output' has a key that is not valid Unicode"),
        ("event.output", [1, math.nan], "'event.output[1]' is nan, not a JSON number"),
        ("event.output", {"x": math.inf}, "'event.output.x' is inf, not a JSON number"),
        ("event.type", "Nonsense", "unknown event type 'Nonsense'"),
        ("event.type", ["TaskSucceeded"], "unknown event type"),
        ("event.type", ..., "'event.type' is missing"),
        ("event", "TaskSucceeded", "field 'event' is missing or not a dict"),
        ("event", ..., "field 'event' is missing or not a dict"),
        ("id", 5, "field 'id' is missing or not a str"),
        ("id", "\udcff", "field 'id' is not valid Unicode"),
        ("execution_id", ["arn"], "field 'execution_id' is missing or not a str"),
        ("version", "1", "field 'version' is not an int"),
        ("version", True, "field 'version' is not an int"),
        ("machine", 5, "field 'machine' is not a str"),
        ("name", {}, "field 'name' is not a str"),
        ("v", "1", "field 'v' is not an int"),
    ],
)
def test_a_malformed_event_is_dead_at_once_and_changes_nothing(
    where: str, value: Any, named: str
) -> None:
    system, arn, task = _started()
    good = _result_body(arn, task["command"]["task_id"])
    before = system.state_of(arn)
    result = system.orchestrator.handle_batch([_received(_set(good, where, value))])
    _assert_refused_at_once(system, arn, result, before, named)
    # The well-formed result still applies afterwards: only the bad one was refused.
    result = system.orchestrator.handle_batch([_received(good)])
    assert not result.dead and not result.failed
    assert system.store.get_execution(arn).status == "SUCCEEDED"


def test_fields_of_the_wrong_type_in_other_events_are_refused() -> None:
    system, arn, task = _started()
    before = system.state_of(arn)
    task_id = task["command"]["task_id"]
    bad_events = [
        (
            {"type": "TaskFailed", "task_id": task_id, "error": {"a": 1}, "cause": None, "at": AT},
            "'event.error'",
        ),
        (
            {"type": "TaskFailed", "task_id": task_id, "error": "E", "cause": 7, "at": AT},
            "'event.cause'",
        ),
        (
            {"type": "TaskTimedOut", "task_id": task_id, "at": AT, "heartbeat": "yes"},
            "'event.heartbeat' is not a bool",
        ),
        ({"type": "TaskHeartbeat", "task_id": task_id, "at": AT, "token": 1}, "'event.token'"),
        ({"type": "TimerFired", "timer_id": {"x": 1}, "at": AT}, "'event.timer_id'"),
        ({"type": "CallbackReceived", "token": 5, "at": AT}, "'event.token'"),
        (
            {"type": "CallbackReceived", "token": "t", "at": AT, "failed": 1},
            "'event.failed' is not a bool",
        ),
        ({"type": "StopRequested", "at": AT, "error": ["x"]}, "'event.error'"),
        ({"type": "StopRequested", "at": AT, "fail": None}, "'event.fail' is not a bool"),
    ]
    for event, named in bad_events:
        body = {"v": 1, "id": "x", "execution_id": arn, "event": event}
        result = system.orchestrator.handle_batch([_received(body)])
        _assert_refused_at_once(system, arn, result, before, named)


def test_a_malformed_message_in_a_batch_leaves_the_others_applied() -> None:
    system, arn, task = _started()
    good = _result_body(arn, task["command"]["task_id"])
    bad = _set(good, "event.at", 1767225600)
    received = [_received(bad), _received(good)]
    result = system.orchestrator.handle_batch(received)
    assert not result.failed
    assert [m for m, _ in result.dead] == [received[0]]
    assert system.store.get_execution(arn).status == "SUCCEEDED"


# --- the task queues --------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "value", "named"),
    [
        ("command.task_id", [1], "'command.task_id' is not a str"),
        ("command.input", {"s": "\ud800"}, "'command.input.s' is not valid Unicode"),
        ("command.input", math.nan, "'command.input' is nan"),
        ("command.function_name", 5, "'command.function_name' is not a str"),
        ("command.resource", None, "'command.resource' is not a str"),
        ("command.attempt", True, "'command.attempt' is not an int"),
        ("command.attempt", "0", "'command.attempt' is not an int"),
        ("command.attempt", 0.0, "'command.attempt' is not an int"),
        ("command.timeout_seconds", "5", "'command.timeout_seconds' is not an int"),
        ("command.heartbeat_seconds", [5], "'command.heartbeat_seconds' is not an int"),
        ("command.idempotency_key", None, "'command.idempotency_key' is not a str"),
        ("command.idempotency_key", ..., "'command.idempotency_key' is missing"),
        ("command.token", {"t": 1}, "'command.token' is not a str"),
        ("command.type", "StartTimer", "'command.timer_id' is missing"),
        ("command.type", "Nonsense", "not a valid command: unknown command type 'Nonsense'"),
        ("command", [], "field 'command' is missing or not a dict"),
        ("execution_id", 1, "field 'execution_id' is missing or not a str"),
    ],
)
def test_a_malformed_task_is_dead_at_once_and_its_step_never_runs(
    where: str, value: Any, named: str
) -> None:
    system, arn, task = _started()
    before = system.state_of(arn)
    result = system.worker.handle_batch([_received(_set(task, where, value))])
    _assert_refused_at_once(system, arn, result, before, named)
    assert system.calls == []


def test_a_command_that_is_not_a_run_task_is_refused() -> None:
    system, arn, task = _started()
    before = system.state_of(arn)
    body = {**task, "command": codec.encode_command(ev.CancelTask("f1:3"))}
    result = system.worker.handle_batch([_received(body)])
    assert (
        _assert_refused_at_once(system, arn, result, before) == "field 'command' is not a RunTask"
    )
    assert system.calls == []


@pytest.mark.parametrize(
    "after",
    [
        None,
        "commit-1",
        {"seq": "1", "snapshot": {}},
        {"seq": True, "snapshot": {}},
        {"seq": 1, "snapshot": []},
        {"seq": 1, "snapshot": {"state": "x", "machine": "sm", "version": 1}},
        {"seq": 1, "snapshot": {"state": {}, "machine": 5, "version": 1}},
        {"seq": 1, "snapshot": {"state": {}, "machine": "sm", "version": None}},
    ],
)
def test_a_malformed_carried_commit_is_only_ignored(after: Any) -> None:
    system, arn, task = _started()
    assert parse_task(_set(task, "after", after)).after is None
    result = system.worker.handle_batch([_received(_set(task, "after", after))])
    assert not result.dead and not result.failed
    assert system.store.get_execution(arn).status == "SUCCEEDED"


# --- content the core cannot use, and failures that are retried ----------------------

WAIT_FROM_INPUT = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Task", "Resource": LAMBDA + "a", "Next": "W"},
        "W": {"Type": "Wait", "SecondsPath": "$.s", "End": True},
    },
}
WAIT_FIRST = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}


def test_a_start_whose_input_the_core_cannot_use_is_not_retried() -> None:
    system = System()
    # Well-typed, but more seconds than a timedelta holds.
    arn, result = system.start(WAIT_FIRST, {"s": 10**30})
    assert not result.failed
    if result.dead:  # dead at once, naming what went wrong, and nothing committed
        assert "OverflowError" in result.dead[0][1]
        with pytest.raises(NotFoundError):
            system.store.get_execution(arn)
    else:  # or the core refuses it as the execution's own failure
        assert system.store.get_execution(arn).status == "FAILED"


def test_a_step_result_the_core_cannot_use_is_not_retried() -> None:
    system = System()
    arn, _ = system.start(WAIT_FROM_INPUT)
    task = system.task_body()
    system.output = {"s": 10**30}
    result = system.worker.handle_batch([_received(task)])
    assert not result.failed
    assert len(system.calls) == 1
    if result.dead:
        assert "OverflowError" in result.dead[0][1]
        assert system.state_of(arn)[0] == 1
    else:
        assert system.store.get_execution(arn).status == "FAILED"


class _UnavailableStore(_Store):
    """The table failing: every commit after the first is refused."""

    def append(self, execution_id: str, commit: Any) -> None:
        raise StoreError("throttled")


class _UnavailableQueues(MemoryQueues):
    """The queues failing once ``down`` is set."""

    down = False

    def send(self, queue: str, messages: list[Any]) -> None:
        if self.down:
            raise QueueError("throttled", "Throttling")
        super().send(queue, messages)


def test_store_and_queue_failures_are_still_retried() -> None:
    system = System()
    system.store = _UnavailableStore(clock=system.clock)
    system.queues = queues = _UnavailableQueues(clock=system.clock)
    for queue in (EVENTS_QUEUE, task_queue("a")):
        queues.ensure(queue)
    system.orchestrator = Orchestrator(system.store, queues, system.clock)
    arn, _ = system.start(ONE_TASK)
    good = _result_body(arn, system.task_body()["command"]["task_id"])
    result = system.orchestrator.handle_batch([_received(good)])  # the commit fails
    assert (result.dead, len(result.failed)) == ([], 1)
    queues.down = True
    system.store.put_machine("sm", ONE_TASK)
    message = system.orchestrator.start_message("sm", "e2", {})
    result = system.orchestrator.handle_batch([_received(message.body)])  # the send fails
    assert (result.dead, len(result.failed)) == ([], 1)


@pytest.mark.parametrize(
    "error",
    [
        StoreError("throttled"),
        ConflictError("lost"),
        QueueError("throttled", "Throttling"),
        MessageTooLargeError("too big"),  # a ValueError too, but a queue's refusal
        ClaimCheckError("S3 slow"),
        MalformedMessageError("already a reason"),
    ],
)
def test_stepq_errors_pass_through_the_content_guard(error: Exception) -> None:
    def record() -> None:
        raise error

    with pytest.raises(type(error)) as info:
        content_errors_are_malformed(record)()
    assert info.value is error


@pytest.mark.parametrize(
    "error",
    [
        TypeError("unhashable type: 'list'"),
        ValueError("bad"),
        KeyError("x"),
        IndexError("list index out of range"),
        AttributeError("'int' object has no attribute 'isoformat'"),
        OverflowError("Python int too large to convert to C int"),
        RecursionError("maximum recursion depth exceeded"),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    ],
)
def test_content_errors_become_malformed_with_their_kind(error: Exception) -> None:
    def record() -> None:
        raise error

    with pytest.raises(MalformedMessageError) as info:
        content_errors_are_malformed(record)()
    assert type(error).__name__ in str(info.value)
    assert codec.is_unicode(str(info.value))


# --- the wire format is unchanged ---------------------------------------------------

ARN = "arn:aws:states:us-east-1:111111111111:execution:sm:e1"
_WRITTEN_TODAY = [  # bodies exactly as the runtime writes them (@ARN@ stands for ARN)
    '{"v":1,"id":"start|@ARN@","execution_id":"@ARN@","event":{"type":"StartExecution","input":{"x":1},"at":"2026-01-01T00:00:00+00:00"},"machine":"sm","version":2,"name":"e1"}',
    '{"v":1,"id":"result|@ARN@|f1:3","execution_id":"@ARN@","event":{"type":"TaskSucceeded","task_id":"f1:3","output":[1,"\\u00e9",null],"at":"2026-01-01T00:00:01.250000+00:00"}}',
    '{"v":1,"id":"result|@ARN@|f1:3","execution_id":"@ARN@","event":{"type":"TaskFailed","task_id":"f1:3","error":"States.TaskFailed","cause":null,"at":"2026-01-01T00:00:01+00:00"}}',
    '{"v":1,"id":"timeout|@ARN@|f1:3","execution_id":"@ARN@","event":{"type":"TaskTimedOut","task_id":"f1:3","at":"2026-01-01T00:05:00+00:00","heartbeat":true}}',
    '{"v":1,"id":"beat|@ARN@|f1:3|x","execution_id":"@ARN@","event":{"type":"TaskHeartbeat","task_id":"f1:3","at":"2026-01-01T00:00:01+00:00","token":null}}',
    '{"v":1,"id":"timer|@ARN@|t1","execution_id":"@ARN@","event":{"type":"TimerFired","timer_id":"t1","at":"2026-01-01T01:00:00+00:00"}}',
    '{"v":1,"id":"callback|@ARN@|f1:3","execution_id":"@ARN@","event":{"type":"CallbackReceived","token":"tok","at":"2026-01-01T00:00:01+00:00","output":null,"error":"E","cause":"C","failed":true}}',
    '{"v":1,"id":"poison|@ARN@|m","execution_id":"@ARN@","event":{"type":"StopRequested","at":"2026-01-01T00:00:01+00:00","error":"stepq.PoisonMessage","cause":"...","fail":true}}',
    # No "v", a "Z" offset, a field this version does not know: all still fine.
    '{"id":"x","execution_id":"@ARN@","event":{"type":"TimerFired","timer_id":"t","at":"2026-01-01T00:00:00Z"},"later":1}',
]


@pytest.mark.parametrize("text", _WRITTEN_TODAY)
def test_bodies_written_today_still_parse(text: str) -> None:
    body = parse_body(text.replace("@ARN@", ARN))
    assert body is not None
    message = parse_event(body)
    assert message.execution_id == ARN
    assert codec.encode_event(message.event)["type"] == body["event"]["type"]


def test_a_task_body_written_today_still_parses() -> None:
    text = (
        '{"v":1,"id":"task|@ARN@|f1:3","execution_id":"@ARN@","command":{"type":"RunTask",'
        '"task_id":"f1:3","resource":"@LAMBDA@a","function_name":"a","input":{"x":1},"attempt":0,'
        '"idempotency_key":"@ARN@:f1:3","timeout_seconds":null,"heartbeat_seconds":null,'
        '"token":null,"qualifier":null},"after":{"seq":1,"snapshot":{"state":{},"machine":"sm",'
        '"version":1}}}'
    )
    text = text.replace("@ARN@", ARN).replace("@LAMBDA@", LAMBDA)
    message = parse_task(parse_body(text))
    assert message.command.function_name == "a"
    assert message.after == (1, {"state": {}, "machine": "sm", "version": 1})


# --- properties ---------------------------------------------------------------------

_text = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["\ud800", "a\udfff", "", "f1:3", AT, "2026-01-01", "TaskSucceeded"]),
)
_json_ish = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities too
    | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_instants = st.datetimes(
    min_value=datetime(1901, 1, 1),
    max_value=datetime(8998, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    ),
)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
_ids = st.text(min_size=1, max_size=12)
_opt = st.none() | st.text(max_size=8)
_events = st.one_of(
    st.builds(ev.StartExecution, _json, _instants),
    st.builds(ev.TaskSucceeded, _ids, _json, _instants),
    st.builds(ev.TaskFailed, _ids, _opt, _opt, _instants),
    st.builds(ev.TaskTimedOut, _ids, _instants, st.booleans()),
    st.builds(ev.TaskHeartbeat, _ids, _instants, _opt),
    st.builds(ev.TimerFired, _ids, _instants),
    st.builds(ev.CallbackReceived, _ids, _instants, _json, _opt, _opt, st.booleans()),
    st.builds(ev.StopRequested, _instants, _opt, _opt, st.booleans()),
)
_small_ints = st.none() | st.integers(min_value=0, max_value=10**6)
_run_tasks = st.builds(
    ev.RunTask,
    _ids,
    _ids,
    _opt,
    _json,
    st.integers(0, 10),
    _ids,
    _small_ints,
    _small_ints,
    _opt,
    _opt,
)


def _sent(body: dict[str, Any]) -> Any:
    """What a consumer receives: the body through the queue's encoding and back."""
    return parse_body(encode_body(body))


@settings(max_examples=300, deadline=None)
@given(_events, _ids, st.booleans())
def test_every_event_message_round_trips(event: ev.Event, arn: str, start: bool) -> None:
    extra = {"machine": "sm", "version": 3, "name": "e1"} if start else {}
    message = parse_event(_sent(event_message(arn, event, "id-1", **extra).body))
    assert (message.id, message.execution_id, message.event) == ("id-1", arn, event)
    assert (message.machine, message.version, message.name) == (
        (extra.get("machine"), extra.get("version"), extra.get("name"))
    )


@settings(max_examples=200, deadline=None)
@given(_run_tasks, _ids, st.none() | st.integers(1, 100))
def test_every_task_message_round_trips(command: ev.RunTask, arn: str, seq: int | None) -> None:
    after = None if seq is None else (seq, {"state": {"x": 1}, "machine": "sm", "version": 1})
    message = parse_task(_sent(task_message(arn, command, after).body))
    assert (message.execution_id, message.command, message.after) == (arn, command, after)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        _json_ish,
        st.dictionaries(
            st.sampled_from(
                [
                    "v",
                    "id",
                    "execution_id",
                    "event",
                    "command",
                    "machine",
                    "version",
                    "name",
                    "after",
                ]
            ),
            _json_ish,
        ),
    )
)
def test_random_bodies_raise_only_malformed(body: Any) -> None:
    for parse in (parse_event, parse_task):
        try:
            parse(body)
        except MalformedMessageError as exc:
            assert str(exc) and codec.is_unicode(str(exc))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            out.extend(_paths(inner, (*prefix, key)))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            out.extend(_paths(inner, (*prefix, i)))
    return out


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(_events.map(lambda e: ("event", e)), _run_tasks.map(lambda c: ("task", c))),
    _json_ish,
    st.data(),
)
def test_a_mutated_body_is_refused_or_still_sendable(made: Any, value: Any, data: Any) -> None:
    """Whatever one field of a real body is replaced with, the parse either refuses
    it (MalformedMessageError) or returns what the queues can carry on."""
    kind, item = made
    if kind == "event":
        body, parse = _sent(event_message("arn", item, "id").body), parse_event
    else:
        body, parse = _sent(task_message("arn", item).body), parse_task
    path = data.draw(st.sampled_from(_paths(body)))
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        parsed = parse(body)
    except MalformedMessageError:
        return
    again = parsed.event if kind == "event" else parsed.command
    resent = (
        event_message(parsed.execution_id, again, parsed.id)
        if kind == "event"
        else task_message(parsed.execution_id, again)
    )
    text = encode_body(resent.body)  # refuses NaN, as SQS's encoding does
    assert json.dumps(resent.body, ensure_ascii=False).encode("utf-8")  # no lone surrogate
    assert parse(parse_body(text)) is not None


_WRONG = {
    "str": st.one_of(
        st.integers(), st.lists(st.integers(), max_size=2), st.just({"a": 1}), st.just("x\ud800")
    ),
    "int": st.one_of(st.booleans(), st.text(max_size=3), st.floats(), st.just([1])),
    "bool": st.one_of(st.integers(), st.text(max_size=3), st.none()),
    "instant": st.one_of(
        st.integers(), st.just("2026-01-01T00:00:00"), st.just("nope"), st.none(), st.just([AT])
    ),
    "JSON value": st.one_of(st.just("\ud800"), st.just([math.nan]), st.just({"k": math.inf})),
}


def _kinds(cls: type) -> dict[str, str]:
    """Each field of ``cls``'s wire model and the kind of value it holds."""
    model = codec.wire_model(cls)
    return {
        name: next(m.name for m in info.metadata if isinstance(m, codec.Kind))
        for name, info in model.model_fields.items()
        if name != "type"
    }


@settings(max_examples=300, deadline=None)
@given(st.one_of(_events, _run_tasks), st.data())
def test_a_field_of_the_wrong_type_is_refused_by_name(item: Any, data: Any) -> None:
    kinds = _kinds(type(item))
    name = data.draw(st.sampled_from(sorted(kinds)))
    wrong = data.draw(_WRONG[kinds[name]])  # never None where None is allowed
    if isinstance(item, ev.RunTask):
        key, parse, body = "command", parse_task, _sent(task_message("arn", item).body)
    else:
        key, parse, body = "event", parse_event, _sent(event_message("arn", item, "id").body)
    body[key][name] = wrong
    with pytest.raises(MalformedMessageError, match=rf"'{key}\.{name}['.\[]"):
        parse(body)
