"""Human tasks on the memory backend, stepped by hand: the worker's people runner
opens them, the inbox service acts on them, and only the inbox completes one.

The embedded runtime runs single-threaded here (``run_until_idle``), so each
test sees exactly the commits its steps caused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.clock import ManualClock
from stepq.core.people.model import HUMAN_TASK_RESOURCE, PROCESS_ACTIVITIES_RESOURCE
from stepq.errors import ActionRefusedError, TaskNotOpenError
from stepq.hosting.embedded import EmbeddedRuntime
from stepq.runtime.messages import EVENTS_QUEUE
from stepq.runtime.open_tasks import HUMAN_TOKEN, open_task, waiting_state
from stepq.runtime.people.directory import Directory
from stepq.runtime.people.documents import COMPLETED, HTASK, load_task, task_id_for
from stepq.runtime.people.service import REPAIR_AFTER, PeopleService
from stepq.runtime.signing import keys_of

APPROVE_BY_REQUESTER = {"Action": "Approve", "By": {"Requester": True}}
APPROVE_BY_EXECS = {"Action": "Approve", "By": {"Group": "Executives"}}


def human(transitions: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": HUMAN_TASK_RESOURCE,
        "Parameters": {"Title": "Approve the expense", "Transitions": transitions, **more},
        "ResultPath": "$.a",
        "End": True,
    }


def machine(state: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": state}}


APPROVAL = machine(
    human(
        [
            {"Name": "approved", "Requires": [APPROVE_BY_REQUESTER, APPROVE_BY_EXECS]},
            {"Name": "denied", "Requires": [{"Action": "Deny", "By": {"Group": "Executives"}}]},
        ]
    )
)


@pytest.fixture
def runtime() -> Iterator[EmbeddedRuntime]:
    rt = EmbeddedRuntime({}, backend="memory")
    Directory(rt.store).create("Executives", ["tom", "gary"])
    yield rt
    rt.close()


def service(rt: EmbeddedRuntime) -> PeopleService:
    return PeopleService(rt.store, rt.queues, rt.clock)


def request(rt: EmbeddedRuntime, definition: dict[str, Any], name: str = "r1") -> tuple[str, str]:
    """Start a request by jane; (execution ARN, the task id of its open task)."""
    rt.deploy("m", definition)
    arn = f"arn:aws:states:us-east-1:111111111111:execution:m:{name}"
    service(rt).create_request("jane", arn, [], lambda: rt.start("m", {"x": 1}, name))
    rt.run_until_idle()
    state = waiting_state(rt.store, keys_of(rt.queues, rt.store), arn)
    assert state is not None and len(state.tasks) == 1
    return arn, task_id_for(arn, next(iter(state.tasks)))


def token_of(rt: EmbeddedRuntime, arn: str) -> str:
    state = waiting_state(rt.store, keys_of(rt.queues, rt.store), arn)
    assert state is not None
    return next(iter(state.tokens))


def test_opening_writes_the_task_and_the_execution_waits(runtime: EmbeddedRuntime) -> None:
    arn, task_id = request(runtime, APPROVAL)
    found = load_task(runtime.store, task_id)
    assert found is not None
    task, _ = found
    assert (task.state, task.requester, task.status) == ("A", "jane", "OPEN")
    assert runtime.store.get_execution(arn).status == "RUNNING"
    submitted = [e for e in runtime.history(arn) if e["type"] == "TaskSubmitted"]
    assert submitted and token_of(runtime, arn) not in str(submitted)
    # The token is minted again from the table's key, never stored.
    svc = service(runtime)
    assert svc.completions.token(arn, task.run_task_id) == token_of(runtime, arn)
    assert token_of(runtime, arn) not in str(runtime.store.get_doc(HTASK, task_id).body)


def test_two_approvals_complete_the_task_and_resume(runtime: EmbeddedRuntime) -> None:
    arn, task_id = request(runtime, APPROVAL)
    svc = service(runtime)
    assert svc.act("jane", task_id, "Approve") == {"status": "OPEN"}
    assert svc.act("tom", task_id, "Approve") == {"status": "COMPLETED", "transition": "approved"}
    runtime.run_until_idle()
    header = runtime.store.get_execution(arn)
    assert header.status == "SUCCEEDED"
    result = header.output["a"]
    assert (result["Transition"], result["State"], result["CompletedBy"]) == (
        "approved",
        "A",
        "tom",
    )
    assert [a["By"] for a in result["Actions"]] == ["jane", "tom"]


def test_a_non_target_is_refused_and_the_refusal_recorded(runtime: EmbeddedRuntime) -> None:
    _, task_id = request(runtime, APPROVAL)
    svc = service(runtime)
    with pytest.raises(ActionRefusedError, match="not a target"):
        svc.act("mallory", task_id, "Approve")
    detail = svc.describe_task(task_id, "jane")
    assert [(r["who"], r["what"]) for r in detail["refused"]] == [("mallory", "Approve")]
    assert detail["actions"] == []


def test_a_callback_not_from_the_inbox_moves_nothing(runtime: EmbeddedRuntime) -> None:
    arn, task_id = request(runtime, APPROVAL)
    token = token_of(runtime, arn)
    with pytest.raises(TaskNotOpenError) as refused:
        open_task(runtime.store, keys_of(runtime.queues, runtime.store), token)
    assert (refused.value.code, str(refused.value)) == ("InvalidToken", HUMAN_TOKEN)
    # Past the API's check, the core ignores it too.
    before = len(runtime.history(arn))
    runtime.client.send_task_success(token, {"Transition": "approved"})
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "RUNNING"
    assert len(runtime.history(arn)) == before
    assert service(runtime).describe_task(task_id, "jane")["status"] == "OPEN"


def test_an_invalid_spec_fails_the_task(runtime: EmbeddedRuntime) -> None:
    # Resolved at run time (a static one is refused when the machine is created).
    state = human([])
    state["Parameters"] = {"Title": "t", "Transitions.$": "$.transitions"}
    runtime.deploy("bad", machine(state))
    arn = runtime.start("bad", {"transitions": [{"Name": "x", "Requires": []}]}, "b1")
    runtime.run_until_idle()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.error) == ("FAILED", "Stepq.InvalidHumanTask")
    assert "Transitions.0.Requires" in (header.cause or "")


def test_process_activities_run_as_a_task(runtime: EmbeddedRuntime) -> None:
    state = {
        "Type": "Task",
        "Resource": PROCESS_ACTIVITIES_RESOURCE,
        "Parameters": {"Activities": [{"Type": "Note", "Text": "hello"}]},
        "End": True,
    }
    runtime.deploy("pa", machine(state))
    arn = runtime.start("pa", {}, "p1")
    runtime.run_until_idle()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.output) == ("SUCCEEDED", {"Done": ["note added"]})


def test_opening_runs_the_tasks_activities_once(runtime: EmbeddedRuntime) -> None:
    note = {"Type": "Note", "Text": "waiting for the Executives"}
    definition = machine(
        human(
            [{"Name": "no", "Requires": [{"Action": "Deny", "By": {"Group": "Executives"}}]}],
            Activities=[note],
        )
    )
    arn, task_id = request(runtime, definition)
    runtime.run_until_idle()
    found = load_task(runtime.store, task_id)
    assert found is not None and found[0].opened
    # A re-sent RunTask (the operator's reconcile) opens it again: nothing repeats.
    from stepq.runtime.reconcile import Reconciler

    Reconciler(runtime.store, runtime.queues, runtime.clock, runtime.orchestrator.config).reconcile(
        arn
    )
    runtime.run_until_idle()
    detail = service(runtime).describe_task(task_id, "jane")
    assert [n["text"] for n in detail["notes"]] == ["waiting for the Executives"]
    assert [(a["who"], a["what"]) for a in detail["audit"]] == [
        ("jane", "CreateRequest"),
        ("process", "Note"),
    ]


def test_every_action_and_refusal_is_a_line_of_the_audit_trail(runtime: EmbeddedRuntime) -> None:
    arn, task_id = request(runtime, APPROVAL)
    svc = service(runtime)
    svc.act("jane", task_id, "Approve", comment="mine")
    with pytest.raises(ActionRefusedError):
        svc.act("mallory", task_id, "Approve")
    with pytest.raises(ActionRefusedError):
        svc.act("mallory", task_id, "Approve")  # again: a line of its own
    svc.claim("tom", task_id)
    svc.act("tom", task_id, "Approve")
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    lines = [(a["who"], a["what"], a.get("taskId")) for a in svc.audit_trail(arn)]
    assert lines == [
        ("jane", "CreateRequest", None),
        ("jane", "ActOnTask", task_id),
        ("mallory", "refused Approve", task_id),
        ("mallory", "refused Approve", task_id),
        ("tom", "ClaimTask", task_id),
        ("tom", "ActOnTask", task_id),
        ("tom", "TaskCompleted", task_id),
    ]
    assert svc.audit_trail(arn)[1]["detail"] == {"action": "Approve", "comment": "mine"}


def test_an_action_after_completion_is_refused(runtime: EmbeddedRuntime) -> None:
    _, task_id = request(runtime, APPROVAL)
    svc = service(runtime)
    svc.act("gary", task_id, "Deny")
    with pytest.raises(ActionRefusedError, match="completed"):
        svc.act("tom", task_id, "Approve")


def test_a_lost_completion_is_sent_again_when_the_task_is_read(runtime: EmbeddedRuntime) -> None:
    arn, task_id = request(runtime, APPROVAL)
    svc = service(runtime)
    sent: list[Any] = []
    real_send = svc.completions.send
    svc.completions.send = lambda *args: sent.append(args)  # type: ignore[method-assign]
    svc.act("gary", task_id, "Deny")  # the completing write, then "a crash": nothing sent
    runtime.run_until_idle()
    assert sent and runtime.store.get_execution(arn).status == "RUNNING"
    svc.completions.send = real_send  # type: ignore[method-assign]
    # Read at once, the completion may still be on its way: not sent again yet.
    assert svc.describe_task(task_id, "jane")["status"] == COMPLETED
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "RUNNING"
    later = ManualClock(runtime.clock.now() + REPAIR_AFTER)
    svc.clock = later
    assert svc.describe_task(task_id, "jane")["status"] == COMPLETED
    runtime.run_until_idle()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.output["a"]["Transition"]) == ("SUCCEEDED", "denied")


def test_concurrent_actors_complete_exactly_one_transition(runtime: EmbeddedRuntime) -> None:
    people = [f"p{i}" for i in range(8)]
    Directory(runtime.store).create("Board", people)
    definition = machine(
        human(
            [
                {
                    "Name": "yes",
                    "Requires": [{"Action": "Approve", "By": {"Group": "Board"}, "Count": 3}],
                },
                {
                    "Name": "no",
                    "Requires": [{"Action": "Deny", "By": {"Group": "Board"}, "Count": 3}],
                },
            ]
        )
    )
    arn, task_id = request(runtime, definition)
    svc = service(runtime)
    outcomes: list[Any] = []
    barrier = threading.Barrier(len(people))

    def act(person: str, action: str) -> None:
        barrier.wait()
        try:
            outcomes.append(svc.act(person, task_id, action))
        except ActionRefusedError as exc:
            outcomes.append(exc.reason)

    threads = [
        threading.Thread(target=act, args=(p, "Approve" if i % 2 else "Deny"))
        for i, p in enumerate(people)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    completions = [o for o in outcomes if isinstance(o, dict) and o["status"] == COMPLETED]
    assert len(completions) == 1
    runtime.run_until_idle()
    result = runtime.store.get_execution(arn).output["a"]
    assert result["Transition"] == completions[0]["transition"]
    assert 3 <= len(result["Actions"]) <= 5  # 3 of one kind, at most 2 of the other


def test_a_lost_completion_is_sent_again_by_the_operators_reconcile(
    runtime: EmbeddedRuntime,
) -> None:
    from stepq.runtime.reconcile import Reconciler

    arn, task_id = request(runtime, APPROVAL)
    svc = service(runtime)
    svc.completions.send = lambda *args: None  # type: ignore[method-assign]
    svc.act("gary", task_id, "Deny")  # completed in the document, never sent
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "RUNNING"
    config = runtime.orchestrator.config
    Reconciler(runtime.store, runtime.queues, runtime.clock, config).reconcile(arn)
    runtime.run_until_idle()  # the RunTask again: the runner finds it COMPLETED and sends it
    header = runtime.store.get_execution(arn)
    assert (header.status, header.output["a"]["Transition"]) == ("SUCCEEDED", "denied")


def test_nobody_becomes_the_requester_of_an_execution_started_otherwise(
    runtime: EmbeddedRuntime,
) -> None:
    from stepq.errors import ExecutionAlreadyExistsError
    from stepq.runtime.people.documents import REQUEST

    runtime.deploy("m", APPROVAL)
    arn = runtime.start("m", {"x": 1}, "plain")
    with pytest.raises(ExecutionAlreadyExistsError):
        service(runtime).create_request(
            "mallory", arn, [], lambda: runtime.start("m", {"x": 1}, "plain")
        )
    assert runtime.store.get_doc(REQUEST, arn) is None


def test_a_start_that_fails_leaves_no_request(runtime: EmbeddedRuntime) -> None:
    from stepq.runtime.people.documents import REQUEST

    arn = "arn:aws:states:us-east-1:111111111111:execution:m:never"

    def fails() -> str:
        raise RuntimeError("the machine is gone")

    with pytest.raises(RuntimeError):
        service(runtime).create_request("jane", arn, [], fails)
    assert runtime.store.get_doc(REQUEST, arn) is None


def test_a_worker_without_a_people_runner_fails_the_task(runtime: EmbeddedRuntime) -> None:
    runtime.worker.people = None  # e.g. a host that wires none
    runtime.deploy("m", APPROVAL)
    arn = runtime.start("m", {}, "nobody")
    runtime.run_until_idle()
    header = runtime.store.get_execution(arn)
    assert (header.status, header.error) == ("FAILED", "Stepq.PeopleUnavailable")


def test_the_completing_lines_survive_a_completion_delivered_first() -> None:
    """SQS may deliver the completion before anything sent just ahead of it, and the
    execution it finishes records no later line: whatever else the completing act
    sent is held back until after the completion is applied, and its ActOnTask and
    TaskCompleted lines are in the trail all the same (carried by the completion)."""
    clock = ManualClock()
    rt = EmbeddedRuntime({}, backend="memory", clock=clock)
    try:
        Directory(rt.store).create("Executives", ["tom", "gary"])
        arn, task_id = request(rt, APPROVAL)
        svc = service(rt)
        svc.act("gary", task_id, "Deny", comment="too dear")
        held = rt.queues.receive(EVENTS_QUEUE, 10)
        kinds = [r.body["event"]["type"] for r in held if r.body is not None]
        assert "CallbackReceived" in kinds
        for message in held:
            first = message.body is not None and message.body["event"]["type"] == "CallbackReceived"
            rt.queues.change_visibility(EVENTS_QUEUE, message.receipt, 0 if first else 600)
        rt.run_until_idle(fire_timers=False)
        assert rt.store.get_execution(arn).status == "SUCCEEDED"
        clock.advance(601)  # the rest arrives after the end: a finished execution drops it
        rt.run_until_idle(fire_timers=False)
        lines = [(a["who"], a["what"], a.get("detail")) for a in svc.audit_trail(arn)]
        assert lines[-2:] == [
            ("gary", "ActOnTask", {"action": "Deny", "comment": "too dear"}),
            ("gary", "TaskCompleted", {"transition": "denied"}),
        ]
        history = [e["type"] for e in rt.history(arn)]
        # In the commit that resumed the task, before the task's own events.
        assert history.index("RequestAuditRecorded", 2) < history.index("TaskSucceeded")
    finally:
        rt.close()


def test_a_repaired_completion_carries_the_same_lines(runtime: EmbeddedRuntime) -> None:
    from stepq.runtime.reconcile import Reconciler

    arn, task_id = request(runtime, APPROVAL)
    svc = service(runtime)
    svc.completions.send = lambda *args: None  # type: ignore[method-assign]  # a crash
    svc.act("gary", task_id, "Deny", comment="no")
    runtime.run_until_idle()
    assert runtime.store.get_execution(arn).status == "RUNNING"
    config = runtime.orchestrator.config
    Reconciler(runtime.store, runtime.queues, runtime.clock, config).reconcile(arn)
    runtime.run_until_idle()  # the runner finds the task COMPLETED and sends its completion
    assert runtime.store.get_execution(arn).status == "SUCCEEDED"
    lines = [(a["who"], a["what"], a.get("detail")) for a in svc.audit_trail(arn)]
    assert lines[-2:] == [
        ("gary", "ActOnTask", {"action": "Deny", "comment": "no"}),
        ("gary", "TaskCompleted", {"transition": "denied"}),
    ]
