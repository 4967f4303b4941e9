"""``stepq machines sync DIR``: make the API's state machines match ``DIR/*.asl.json``.

The step after ``sam deploy``: each file is one machine, named by the file
(``order_saga.asl.json`` is ``order_saga``). A machine the API lacks is
created, one whose definition or role differs is updated; both publish a
version, so executions started by version or alias run what was published,
and running executions keep the version they started on. A machine that is
the same is left alone (no new version), so running the command twice
changes nothing. Machines without a file are never deleted.

The role: ``--role-arn`` for every machine, ``{name}`` replaced by the
machine's name; by default ``arn:aws:iam::ACCOUNT:role/stepq-{name}``, the
pattern the stack lets the worker assume (``IntegrationRolePattern``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepq.cli.api_client import ApiCallError, ApiClient, UnreachableError
from stepq.cli.app import CliError, out, print_json

SUFFIX = ".asl.json"
DEFAULT_ROLE = "arn:aws:iam::{account}:role/stepq-{name}"
_MISSING = "StateMachineDoesNotExist"


@dataclass(frozen=True, slots=True)
class Synced:
    """What ``sync`` did (or, with ``dry_run``, would do) to one machine."""

    name: str
    action: str  # created, updated, unchanged, would create, would update, failed
    arn: str = ""
    version_arn: str = ""
    detail: str = ""

    def line(self) -> str:
        if self.action == "failed":
            return f"failed {self.name}: {self.detail}"
        shown = f"{self.action} {self.name}"
        if self.version_arn:
            shown += f" (version {self.version_arn.rsplit(':', 1)[-1]})"
        elif self.detail:
            shown += f" ({self.detail})"
        return shown

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "action": self.action,
            "stateMachineArn": self.arn,
            "stateMachineVersionArn": self.version_arn,
            "detail": self.detail,
        }


def definition_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise CliError(f"{directory} is not a directory", 2)
    found = sorted(p for p in directory.glob(f"*{SUFFIX}") if len(p.name) > len(SUFFIX))
    if not found:
        raise CliError(f"{directory} has no *{SUFFIX} definitions", 2)
    return found


def role_template(given: str | None, api: ApiClient) -> str:
    """``given``, or the default role in the API's account (asked once)."""
    if given is not None:
        return given
    return DEFAULT_ROLE.replace("{account}", api.where("give --role-arn")[1])


def _read(path: Path) -> tuple[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        return text, json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except ValueError as exc:
        raise CliError(f"{path} is not JSON: {exc}") from None


def _changes(described: dict[str, Any], parsed: Any, role: str) -> list[str]:
    changed = []
    try:
        same = json.loads(described.get("definition") or "null") == parsed
    except ValueError:
        same = False
    if not same:
        changed.append("definition")
    if described.get("roleArn") != role:
        changed.append("roleArn")
    return changed


def sync_one(api: ApiClient, path: Path, roles: str, dry_run: bool) -> Synced:
    """Create or update the machine ``path`` defines; never raises for the API's refusals."""
    name = path.name[: -len(SUFFIX)]
    try:
        text, parsed = _read(path)
        role = roles.replace("{name}", name)
        arn = api.machine_arn(name)
        try:
            described = api.call("describe_state_machine", stateMachineArn=arn)
        except ApiCallError as exc:
            if exc.error_code != _MISSING:
                raise
            if dry_run:
                return Synced(name, "would create", arn)
            reply = api.call(
                "create_state_machine",
                name=name,
                definition=text,
                roleArn=role,
                type="STANDARD",
                publish=True,
            )
            return Synced(
                name, "created", reply["stateMachineArn"], reply["stateMachineVersionArn"]
            )
        changed = _changes(described, parsed, role)
        if not changed:
            return Synced(name, "unchanged", arn)
        if dry_run:
            return Synced(name, "would update", arn, detail=" and ".join(changed))
        params: dict[str, Any] = {"stateMachineArn": arn, "publish": True}
        if "definition" in changed:
            params["definition"] = text
        if "roleArn" in changed:
            params["roleArn"] = role
        reply = api.call("update_state_machine", **params)
        return Synced(name, "updated", arn, str(reply.get("stateMachineVersionArn") or ""))
    except UnreachableError:
        raise  # nothing else will get through either: one line, not one per file
    except CliError as exc:  # the API's refusal, an unreadable file: this machine only
        return Synced(name, "failed", detail=exc.message)


def sync(api: ApiClient, directory: Path, role_arn: str | None, dry_run: bool) -> list[Synced]:
    """``sync_one`` for each ``*.asl.json`` in ``directory``, in name order."""
    files = definition_files(directory)
    roles = role_template(role_arn, api)
    return [sync_one(api, path, roles, dry_run) for path in files]


def report(results: list[Synced], *, json_output: bool) -> bool:
    """One line per machine (or the JSON list); False when one failed."""
    if json_output:
        print_json([r.as_json() for r in results])
    else:
        for result in results:
            out.print(result.line(), markup=False, highlight=False)
    return not any(r.action == "failed" for r in results)
