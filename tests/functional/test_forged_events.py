"""Issue 9, defects 5 and 8: nobody but the runtime's own parts moves an execution.

The attacker can send to and read every queue, dead-letter queue and the
claim-check bucket, but not the table. A message they send (forged, or an
authentic one tampered with, or sent to the other kind of queue) moves
nothing and runs no step: it is dead-lettered at once as unauthenticated, and
does not fail its execution either. No message, dead-letter copy or
claim-check object holds the signing key or an execution's token secret, so
nothing read off the queues mints a token.

Every test runs on the memory backend and on moto (the embedded runtime).
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import replace
from typing import Any

import pytest
from stepq.backends.memory.blobs import MemoryBlobs
from stepq.backends.memory.queues import MemoryQueues
from stepq.backends.memory.store import MemoryStore
from stepq.clock import ManualClock
from stepq.core import events as ev
from stepq.core.tokens import make_token
from stepq.runtime import codec
from stepq.runtime.applier.apply import Applier
from stepq.runtime.client import Client
from stepq.runtime.messages import EVENTS_QUEUE, event_message, task_message, task_queue
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.ports import Message
from stepq.runtime.signing import MAC_FIELD, UNAUTHENTICATED, Keys
from stepq.runtime.worker import Worker

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"
AT = "2026-01-01T00:00:00+00:00"
BACKENDS = ["memory", "moto"]
ONE_TASK = {
    "StartAt": "T",
    "States": {"T": {"Type": "Task", "Resource": LAMBDA + "step", "End": True}},
}
CALLBACK = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}},
            "End": True,
        }
    },
}


class Waiting:
    """An execution waiting for its task, whose message is still on its task queue."""

    def __init__(self, embedded: Any, backend: str, definition: dict[str, Any] = ONE_TASK):
        self.calls: list[Any] = []
        self.tokens: list[str] = []
        functions = {"step": self._step, "ask": lambda e, c: self.tokens.append(e["token"])}
        self.runtime = embedded(functions, backend=backend, visibility_timeout=0)
        self.runtime.deploy("sm", definition)
        self.arn = self.runtime.start("sm", {"n": 1}, "e1")
        self.events_pump, self.tasks_pump = self.runtime.pumps
        self.events_pump.poll_once()  # the start: commit 1 sends the task
        self.seq = self.runtime.store.latest(self.arn).seq
        self.task_id = codec.decode_state(
            self.runtime.store.latest(self.arn).snapshot["state"]
        ).tasks.popitem()[0]

    def _step(self, event: Any, context: Any) -> Any:
        self.calls.append(event)
        return {"real": event}

    @property
    def raw(self) -> Any:
        """The queues under the runtime's signing wrapper: what an attacker reaches."""
        return self.runtime.queues.inner

    def unmoved(self) -> bool:
        latest = self.runtime.store.latest(self.arn)
        return latest.status == "RUNNING" and latest.seq == self.seq

    def dead_letters(self, queue: str) -> list[tuple[dict[str, Any], str]]:
        """(body, reason) of every message in ``queue``'s dead-letter queue."""
        if self.runtime.backend == "memory":
            held = self.raw.peek(queue + "-dlq")
            return [(json.loads(text), attrs["stepq-reason"]) for text, attrs in held]
        sqs, out = self.runtime._sqs, []
        while True:
            reply = sqs.receive_message(
                QueueUrl=self.raw.url(queue + "-dlq"),
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
            )
            if not reply.get("Messages"):
                return out
            for m in reply["Messages"]:
                reason = m["MessageAttributes"]["stepq-reason"]["StringValue"]
                out.append((json.loads(m["Body"]), reason))
                sqs.delete_message(
                    QueueUrl=self.raw.url(queue + "-dlq"), ReceiptHandle=m["ReceiptHandle"]
                )


def _forged_events(arn: str, task_id: str) -> list[Message]:
    at = codec.parse_instant(AT)
    assert at is not None
    events: list[ev.Event] = [
        ev.TaskFailed(task_id, "Forged", "a forged failure", at),
        ev.TaskSucceeded(task_id, {"forged": True}, at),
        ev.TaskTimedOut(task_id, at),
        ev.TaskTimedOut(task_id, at, heartbeat=True),
        ev.TimerFired("t-1", at),
        ev.StopRequested(at, error="Forged", cause="stopped by a forger"),
        ev.StopRequested(at, error="stepq.PoisonMessage", cause="forged", fail=True),
    ]
    messages = [event_message(arn, e, f"forged-{n}") for n, e in enumerate(events)]
    # ...and one with a made-up signature
    made_up = messages[0].body | {"id": "forged-mac", MAC_FIELD: "A" * 22}
    return [*messages, Message("forged-mac", made_up)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_forged_events_do_not_move_a_waiting_execution(embedded: Any, backend: str) -> None:
    w = Waiting(embedded, backend)
    forged = _forged_events(w.arn, w.task_id)
    w.raw.send(EVENTS_QUEUE, forged)
    w.events_pump.poll_once()
    w.events_pump.poll_once()  # nothing new: no fail event was sent for them
    assert w.unmoved()
    dead = w.dead_letters(EVENTS_QUEUE)
    assert sorted(b["id"] for b, _ in dead) == sorted(m.id for m in forged)
    assert {reason for _, reason in dead} == {UNAUTHENTICATED}
    assert w.runtime.sweeper.sweep() == 0  # the sweeper fails nothing for them either
    w.runtime.run_until_idle()  # the real step runs and its result is the one recorded
    header = w.runtime.store.get_execution(w.arn)
    assert (header.status, header.output) == ("SUCCEEDED", {"real": {"n": 1}})


@pytest.mark.parametrize("backend", BACKENDS)
def test_forged_and_tampered_task_messages_never_run_a_step(embedded: Any, backend: str) -> None:
    w = Waiting(embedded, backend)
    queue = task_queue("step")
    (authentic,) = w.raw.receive(queue, 10)
    w.raw.delete(queue, [authentic.receipt])
    body = authentic.body
    assert isinstance(body, dict) and MAC_FIELD in body and "after" in body
    unsigned = {k: v for k, v in body.items() if k != MAC_FIELD}
    other_input = copy.deepcopy(body)
    other_input["command"]["input"] = {"n": 666}
    other_snapshot = copy.deepcopy(body)
    other_snapshot["after"]["snapshot"]["state"]["frames"] = {}
    other_seq = body | {"after": {**body["after"], "seq": 7}}
    command = codec.decode_command(body["command"])
    assert isinstance(command, ev.RunTask)
    stranger = task_message(w.arn.replace(":e1", ":nobody"), command).body  # defect 8
    w.raw.send(
        queue,
        [
            Message("unsigned", unsigned),
            Message("input", other_input),
            Message("snapshot", other_snapshot),
            Message("seq", other_seq),
            Message("stranger", stranger),
        ],
    )
    # The authentic task body sent to the events queue is not an event the runtime sent.
    w.raw.send(EVENTS_QUEUE, [Message("cross", body)])
    w.runtime.run_until_idle()
    assert w.calls == []
    assert w.unmoved()
    dead = w.dead_letters(queue) + w.dead_letters(EVENTS_QUEUE)
    assert len(dead) == 6
    assert {reason for _, reason in dead} == {UNAUTHENTICATED}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_token_minted_with_a_wrong_secret_is_refused(embedded: Any, backend: str) -> None:
    w = Waiting(embedded, backend, CALLBACK)
    w.runtime.run_until_idle(fire_timers=False)
    (real,) = w.tokens
    state = codec.decode_state(w.runtime.store.latest(w.arn).snapshot["state"])
    task_id = state.tokens[real]
    for secret in (None, "guessed", "A" * 32):  # None: the in-process, ARN-derived key
        meta = replace(state.meta, token_secret=secret)
        forged = make_token(meta, task_id)
        assert forged != real
        w.runtime.client.send_task_success(forged, {"forged": True})
        w.runtime.client.send_task_failure(forged, "Forged", "no")
    w.runtime.run_until_idle(fire_timers=False)
    assert w.runtime.store.get_execution(w.arn).status == "RUNNING"
    w.runtime.client.send_task_success(real, {"real": True})
    w.runtime.run_until_idle(fire_timers=False)
    assert w.runtime.store.get_execution(w.arn).output == {"real": True}


@pytest.mark.parametrize("backend", BACKENDS)
def test_with_the_defect_switched_back_on_a_forgery_moves_the_execution(
    embedded: Any, backend: str
) -> None:
    """RuntimeConfig.defects={"unauthenticated"}: what the simulation must catch."""
    w = Waiting(embedded, backend)
    w.runtime.orchestrator.config.defects = frozenset({"unauthenticated"})
    w.raw.send(EVENTS_QUEUE, _forged_events(w.arn, w.task_id)[:1])  # a forged TaskFailed
    w.events_pump.poll_once()
    header = w.runtime.store.get_execution(w.arn)
    assert (header.status, header.error) == ("FAILED", "Forged")


# --- nothing secret leaves the table ------------------------------------------------------


def _secret_forms(secret: bytes | str) -> list[str]:
    raw = secret if isinstance(secret, bytes) else secret.encode()
    forms = [raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    if isinstance(secret, str):
        forms.append(secret)
    return [f.rstrip("=") for f in forms]


def test_no_message_dead_letter_or_claim_check_object_holds_a_secret() -> None:
    clock = ManualClock()
    store = MemoryStore(clock=clock)
    blobs = MemoryBlobs()
    # A tiny threshold: every message goes through the claim check.
    queues = MemoryQueues(clock=clock, blobs=blobs, claim_threshold=64)
    for name in (EVENTS_QUEUE, task_queue("ask"), task_queue("step")):
        queues.ensure(name)
    orchestrator = Orchestrator(store, queues, clock)
    tokens: list[str] = []
    worker = Worker(
        {"ask": lambda e, c: tokens.append(e["token"]), "step": lambda e, c: e},
        queues,
        clock,
        applier=Applier(store, clock),
    )
    store.put_machine("cb", CALLBACK)
    store.put_machine("one", ONE_TASK)
    client = Client(orchestrator, queues)
    arns = [client.start_execution("cb", "e1", {"n": 1}), client.start_execution("one", "e2")]
    orchestrator.handle_batch(queues.receive(EVENTS_QUEUE, 10))
    # Each task message as received (its claim-checked body fetched), then dead-lettered.
    bodies = {}
    for q in (task_queue("ask"), task_queue("step")):
        (received,) = queues.receive(q, 10)
        bodies[q] = received.body
        queues.dead_letter(q, received, "for the scan")
    texts = [json.dumps(body) for body in bodies.values()]
    texts += [text for q in bodies for text, _ in queues.peek(q + "-dlq")]
    blob_texts = [data.decode() for data in blobs._data.values()]
    assert blob_texts and any('"after"' in t for t in blob_texts)  # carried snapshots
    keys = Keys(store)
    secrets_ = [store.signing_key(), *(keys.token_secret(a) for a in arns)]
    scanned = "\n".join(
        [*texts, *blob_texts, *(json.dumps(store.latest(a).snapshot) for a in arns)]
    )
    for secret in secrets_:
        for form in _secret_forms(secret):
            assert form not in scanned
    assert "token_secret" not in scanned
    # The task still runs, and the callback still works, from what is left.
    for q, body in bodies.items():
        queues.send(q, [Message(f"again-{q}", body)])  # as it was, signature and all
        result = worker.handle_batch(queues.receive(q, 10))
        assert not result.dead and not result.failed, result
    (token,) = tokens
    client.send_task_success(token, {"ok": 1})
    orchestrator.handle_batch(queues.receive(EVENTS_QUEUE, 10))
    assert store.get_execution(arns[0]).output == {"ok": 1}
    assert store.get_execution(arns[1]).status == "SUCCEEDED"


def test_a_forged_claim_check_object_never_runs_a_step() -> None:
    """The attacker writes the bucket and sends a well-formed pointer to it."""
    clock = ManualClock()
    store, blobs = MemoryStore(clock=clock), MemoryBlobs()
    queues = MemoryQueues(clock=clock, blobs=blobs, claim_threshold=64)
    for name in (EVENTS_QUEUE, task_queue("step")):
        queues.ensure(name)
    calls: list[Any] = []
    orchestrator = Orchestrator(store, queues, clock)
    worker = Worker({"step": calls.append}, queues, clock, applier=Applier(store, clock))
    store.put_machine("one", ONE_TASK)
    Client(orchestrator, queues).start_execution("one", "e1", {"n": 1})
    orchestrator.handle_batch(queues.receive(EVENTS_QUEUE, 10))
    (authentic,) = queues.receive(task_queue("step"), 10)
    queues.delete(task_queue("step"), [authentic.receipt])
    tampered = copy.deepcopy(authentic.body)
    tampered["command"]["input"] = {"n": 666}
    queues.send(task_queue("step"), [Message("tampered", tampered)])  # stored in the bucket
    received = queues.receive(task_queue("step"), 10)
    result = worker.handle_batch(received)
    assert calls == []
    assert [reason for _, reason in result.dead] == [UNAUTHENTICATED]
