"""What the state machine and version operations share: settings checks, revisions, pages.

- ``check_settings``: role ARN, logging, tracing and encryption as Step
  Functions checks them (``InvalidArn``, ``InvalidLoggingConfiguration``...).
- ``parse_definition``: the definition text -> dict, or ``InvalidDefinition``
  with every problem and its path (``core.definition``).
- ``write_revision``: a new store revision of a machine and its ``revision``
  document (the text as given and the settings it was made with).
- ``page``/``next_token``: opaque pagination tokens (``InvalidToken`` for a
  token this operation did not hand out).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from stepq.api.catalog import MachineDoc, RevisionDoc
from stepq.api.context import ApiContext
from stepq.api.protocol import ApiError
from stepq.core.definition import find_problems
from stepq.core.definition.machine_types import type_problems
from stepq.errors import Problem

_ROLE = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_LOG_GROUP = re.compile(
    r"^arn:aws[a-zA-Z-]*:logs:[a-z0-9-]+:\d{12}:log-group:[\w./#-]{1,512}(:\*)?$"
)
# A revision document holds the text as given when it fits an item comfortably;
# else Describe shows the stored definition re-serialized.
_MAX_TEXT_BYTES = 256 * 1024
DEFAULT_PAGE = 100
MAX_PAGE = 1000

T = TypeVar("T")

# --- settings -------------------------------------------------------------------


def check_role(role_arn: str) -> None:
    if not _ROLE.match(role_arn):
        raise ApiError(
            "InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {role_arn}'"
        )


def check_settings(params: dict[str, Any]) -> dict[str, Any]:
    """The settings in ``params`` (those present), checked; normalized as Describe shows them."""
    out: dict[str, Any] = {}
    if "roleArn" in params:
        check_role(params["roleArn"])
        out["roleArn"] = params["roleArn"]
    if "loggingConfiguration" in params:
        out["loggingConfiguration"] = _logging(params["loggingConfiguration"])
    if "tracingConfiguration" in params:
        out["tracingConfiguration"] = {
            "enabled": bool(params["tracingConfiguration"].get("enabled"))
        }
    if "encryptionConfiguration" in params:
        out["encryptionConfiguration"] = _encryption(params["encryptionConfiguration"])
    return out


def _logging(config: dict[str, Any]) -> dict[str, Any]:
    level = config.get("level", "OFF")
    if level not in ("ALL", "ERROR", "FATAL", "OFF"):
        raise ApiError("ValidationException", f"Invalid logging level: '{level}'")
    destinations = config.get("destinations") or []
    if level != "OFF" and not destinations:
        raise ApiError(
            "InvalidLoggingConfiguration",
            f"Invalid Logging Configuration: level {level} needs a CloudWatch Logs destination",
        )
    if len(destinations) > 1:
        raise ApiError(
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: at most one destination is supported",
        )
    for destination in destinations:
        group = (destination.get("cloudWatchLogsLogGroup") or {}).get("logGroupArn", "")
        if not _LOG_GROUP.match(group):
            raise ApiError(
                "InvalidLoggingConfiguration",
                f"Invalid Logging Configuration: Log Destination not a log group ARN: '{group}'",
            )
    out: dict[str, Any] = {
        "level": level,
        "includeExecutionData": bool(config.get("includeExecutionData")),
    }
    if destinations:
        out["destinations"] = destinations
    return out


def _encryption(config: dict[str, Any]) -> dict[str, Any]:
    kind = config.get("type")
    key = config.get("kmsKeyId")
    period = config.get("kmsDataKeyReusePeriodSeconds")
    if kind not in ("AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY"):
        raise ApiError("ValidationException", f"Invalid encryption type: '{kind}'")
    if kind == "AWS_OWNED_KEY" and (key is not None or period is not None):
        raise ApiError(
            "InvalidEncryptionConfiguration",
            "kmsKeyId and kmsDataKeyReusePeriodSeconds are only for CUSTOMER_MANAGED_KMS_KEY",
        )
    if kind == "CUSTOMER_MANAGED_KMS_KEY" and not key:
        raise ApiError(
            "InvalidEncryptionConfiguration", "CUSTOMER_MANAGED_KMS_KEY needs a kmsKeyId"
        )
    if period is not None and not 60 <= period <= 900:
        raise ApiError(
            "InvalidEncryptionConfiguration",
            "kmsDataKeyReusePeriodSeconds must be between 60 and 900",
        )
    return dict(config)


def check_type(machine_type: str) -> None:
    if machine_type not in ("STANDARD", "EXPRESS"):
        raise ApiError("ValidationException", f"Invalid state machine type: '{machine_type}'")


# --- definitions ----------------------------------------------------------------


def definition_problems(text: str, machine_type: str = "STANDARD") -> list[tuple[str, Problem]]:
    """Every problem of a definition text, each with Step Functions' diagnostic code."""
    try:
        source = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return [("INVALID_JSON_DESCRIPTION", Problem("", f"not valid JSON: {exc}"))]
    if not isinstance(source, dict):
        return [("SCHEMA_VALIDATION_FAILED", Problem("", "a definition must be a JSON object"))]
    problems = find_problems(source)
    if not problems:
        problems = type_problems(source, machine_type)
    return [(_code(p), p) for p in problems]


def _code(problem: Problem) -> str:
    if problem.message.startswith('state name "') and "already used at" in problem.message:
        return "DUPLICATE_STATE_NAME"
    if problem.message.startswith("state name"):
        return "INVALID_STATE_NAME"
    if problem.path.endswith("/Resource"):
        return "INVALID_RESOURCE"
    return "SCHEMA_VALIDATION_FAILED"


def parse_definition(text: str, machine_type: str = "STANDARD") -> dict[str, Any]:
    """The definition as a dict, or ``InvalidDefinition`` naming every problem and its path."""
    problems = definition_problems(text, machine_type)
    if problems:
        shown = "; ".join(f"{code}: {p.message} at {p.path or '/'}" for code, p in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise ApiError("InvalidDefinition", f"Invalid State Machine Definition: '{shown}'{more}")
    result: dict[str, Any] = json.loads(text)
    return result


# --- revisions ------------------------------------------------------------------


def write_revision(
    ctx: ApiContext, name: str, text: str, definition: dict[str, Any], settings: MachineDoc
) -> RevisionDoc:
    """A new store revision of ``name`` and its document; ``settings`` takes its number."""
    revision = ctx.store.put_machine(name, definition)
    doc = RevisionDoc(
        definition=text if len(text.encode()) <= _MAX_TEXT_BYTES else None,
        revisionId=str(uuid.uuid4()),
        roleArn=settings.roleArn,
        updateDate=ctx.clock.now().isoformat(),
        loggingConfiguration=settings.loggingConfiguration,
        tracingConfiguration=settings.tracingConfiguration,
        encryptionConfiguration=settings.encryptionConfiguration,
    )
    ctx.store.put_doc("revision", f"{name}:{revision}", doc.model_dump(), None)
    settings.revision = revision
    settings.revisionId = doc.revisionId
    return doc


def read_revision(ctx: ApiContext, name: str, revision: int) -> tuple[str, RevisionDoc | None]:
    """The definition text of one store revision and its document (None if not written)."""
    found = ctx.store.get_doc("revision", f"{name}:{revision}")
    doc = None if found is None else RevisionDoc.model_validate(found.body)
    if doc is not None and doc.definition is not None:
        return doc.definition, doc
    definition, _ = ctx.store.get_machine(name, revision)
    return json.dumps(definition, indent=2), doc


# --- pages ----------------------------------------------------------------------


def page_size(params: dict[str, Any]) -> int:
    size = params.get("maxResults") or DEFAULT_PAGE
    if not 1 <= size <= MAX_PAGE:
        raise ApiError("ValidationException", f"maxResults must be between 0 and {MAX_PAGE}")
    return int(size)


def page(
    items: Sequence[T], keys: Sequence[str], params: dict[str, Any], operation: str
) -> tuple[list[T], str | None]:
    """One page of ``items`` (in order; ``keys`` their unique sort keys) and the next token."""
    size = page_size(params)
    start = 0
    token = params.get("nextToken")
    if token is not None:
        start = _resume(_read_token(token, operation), keys)
    chosen = list(items[start : start + size])
    more = start + size < len(items)
    return chosen, (_make_token(operation, keys[start + size - 1]) if more else None)


def _resume(last: str, keys: Sequence[str]) -> int:
    """Where the page after ``last`` starts (if ``last`` is gone: past where it was)."""
    try:
        return keys.index(last) + 1
    except ValueError:
        pass
    descending = len(keys) > 1 and keys[0] > keys[-1]
    for i, key in enumerate(keys):
        if (key < last) if descending else (key > last):
            return i
    return len(keys)


def _make_token(operation: str, key: str) -> str:
    raw = json.dumps({"op": operation, "after": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _read_token(token: str, operation: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, RecursionError):
        data = None
    if (
        not isinstance(data, dict)
        or data.get("op") != operation
        or not isinstance(data.get("after"), str)
    ):
        raise ApiError("InvalidToken", f"Invalid Token: '{token}'")
    return str(data["after"])
