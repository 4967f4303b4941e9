"""Preset dictionaries for compressing commit bodies (zlib ``zdict``).

A commit body is a few KB of JSON whose keys, event names and ARN prefixes
are the same in every execution. Plain zlib has to spell them out once per
commit; with a preset dictionary holding them it refers back to the
dictionary instead, which takes most commits of a typical workflow under
the 1 KB that one DynamoDB write unit covers.

The vocabulary is stepq's own (codec keys, history event names, ARN
prefixes), not any workflow's data. A stored body names its dictionary by
the Adler-32 checksum in its zlib header, so a dictionary must never change
once it has been used: add a new one and make it ``CURRENT`` instead.
"""

from __future__ import annotations

import zlib

# How the DynamoDB store sizes an item (the memory store applies the same rule):
COMPRESS_ABOVE = 512  # with a preset dictionary even small bodies shrink
MAX_ITEM_BYTES = 350 * 1024  # DynamoDB's limit is 400 KB; keep a margin

_WORDS_V1 = [
    # rare first: zlib finds the nearest match, so frequent words go last
    "MapRunFailed",
    "MapRunStarted",
    "MapRunSucceeded",
    "MapIterationFailed",
    "MapStateFailed",
    "ParallelStateFailed",
    "ExecutionAborted",
    "ExecutionTimedOut",
    "TaskTimedOut",
    "TaskFailed",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "TaskSubmitted",
    "WaitStateEntered",
    "WaitStateExited",
    "ChoiceStateEntered",
    "ChoiceStateExited",
    "ParallelStateEntered",
    "ParallelStateExited",
    "ParallelStateStarted",
    "ParallelStateSucceeded",
    "MapStateEntered",
    "MapStateExited",
    "MapStateStarted",
    "MapStateSucceeded",
    "MapIterationStarted",
    "MapIterationSucceeded",
    "PassStateEntered",
    "PassStateExited",
    "SucceedStateEntered",
    "SucceedStateExited",
    "FailStateEntered",
    "ExecutionFailed",
    "ExecutionSucceeded",
    "ExecutionStarted",
    "FinishExecution",
    "StartTimer",
    "ScheduleHeartbeatCheck",
    "CancelTask",
    "timer_purpose",
    "fire_at",
    "timer_id",
    "distributed",
    "tolerated_pct",
    "tolerated",
    "results",
    "children",
    "parent",
    "family",
    "scope",
    "slot",
    "index",
    "item",
    "kind",
    "retry_count",
    "retries",
    "retry",
    "variables",
    "scratch",
    "entered_id",
    "entered_at",
    "heartbeat_deadline",
    "beat",
    "heartbeat",
    "roleArn",
    "inputDetails",
    "truncated",
    "Cause",
    "Error",
    "cause",
    "error",
    '"heartbeatInSeconds":null',
    '"timeoutInSeconds":',
    "heartbeat_seconds",
    "timeout_seconds",
    '"token":null',
    "idempotency_key",
    "function_name",
    "attempt",
    "task_id",
    '"type":"RunTask"',
    "arn:aws:states:::lambda:invoke",
    ":function:",
    "arn:aws:lambda:",
    "LambdaFunctionScheduled",
    "LambdaFunctionStarted",
    "LambdaFunctionSucceeded",
    "TaskScheduled",
    "TaskStarted",
    "TaskSucceeded",
    "TaskStateEntered",
    "TaskStateExited",
    '"tokens":{}',
    '"timers":{}',
    '"tasks":{}',
    '"frames":{}',
    '"error":null,"cause":null',
    "last_event_id",
    "next_frame",
    '"stop_time":null',
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    '{"snapshot":{"state":{"meta":{"execution_arn":"arn:aws:states:',
    ":execution:",
    '","name":"',
    '","state_machine_arn":"arn:aws:states:',
    ":stateMachine:",
    '","state_machine_name":"',
    '","role_arn":"arn:aws:iam::',
    ":role/stepq-",
    '","start_time":"',
    '","input":',
    ',"token_secret":"',
    '"status":"',
    '"output":',
    '"machine":"',
    '"version":',
    '"commands":[',
    '"events":[',
    '{"id":',
    '"resource":"',
    '"input":',
    '"output":',
    '"name":"',
    '"details":{',
    '"previousEventId":',
    '"timestamp":"2026-',
    "T00:00:00+00:00",
    '"type":"',
]

DICTIONARY_V1 = "".join(_WORDS_V1).encode()

CURRENT = DICTIONARY_V1
BY_CHECKSUM = {zlib.adler32(d): d for d in (DICTIONARY_V1,)}


def compress(raw: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, CURRENT)
    return packer.compress(raw) + packer.flush()


def decompress(data: bytes) -> bytes:
    """Plain zlib, or zlib with one of the preset dictionaries (named in its header)."""
    if len(data) >= 6 and data[1] & 0x20:  # FDICT: the dictionary's Adler-32 follows
        checksum = int.from_bytes(data[2:6], "big")
        dictionary = BY_CHECKSUM.get(checksum)
        if dictionary is None:
            raise ValueError(f"unknown compression dictionary {checksum:#010x}")
        unpacker = zlib.decompressobj(zdict=dictionary)
        return unpacker.decompress(data) + unpacker.flush()
    return zlib.decompress(data)
