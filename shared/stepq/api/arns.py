"""ARNs and names, made and checked as Step Functions makes and checks them.

Names are 1..80 characters with none of: whitespace, ``< > { } [ ]``,
``? *``, ``" # % \\ ^ | ~ ` $ & , ; : /`` or control characters
(U+0000-001F, U+007F-009F). ARNs carry the account and region the runtime was
configured with (``STEPQ_ACCOUNT``, ``AWS_REGION``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stepq.api.protocol import ApiError

MAX_NAME = 80
_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]")
_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):states:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<kind>stateMachine|execution|activity|mapRun|express):(?P<rest>.+)$"
)


def check_name(name: str, what: str = "name") -> None:
    """``InvalidName`` unless ``name`` is one Step Functions accepts."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        raise ApiError("InvalidName", f"Invalid Name: '{name}' (1 to {MAX_NAME} characters)")
    bad = _FORBIDDEN.search(name)
    if bad:
        raise ApiError(
            "InvalidName", f"Invalid Name: '{name}' ({what} may not contain {bad.group()!r})"
        )


@dataclass(frozen=True, slots=True)
class Arn:
    region: str
    account: str
    kind: str  # stateMachine, execution, activity, mapRun
    parts: tuple[str, ...]  # what follows the kind, split on ':'


def parse(arn: object, *kinds: str) -> Arn:
    """``InvalidArn`` unless ``arn`` is a states ARN of one of ``kinds``."""
    match = _ARN.match(arn) if isinstance(arn, str) else None
    if match is None or (kinds and match.group("kind") not in kinds):
        raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
    parts = tuple(match.group("rest").split(":"))
    if any(not p for p in parts):
        raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
    return Arn(match.group("region"), match.group("account"), match.group("kind"), parts)


class Arns:
    """The ARNs of one deployment (its region and account)."""

    def __init__(self, region: str, account: str) -> None:
        self.region = region
        self.account = account
        self._base = f"arn:aws:states:{region}:{account}"

    def machine(self, name: str, qualifier: str | int | None = None) -> str:
        """A state machine's ARN; with a qualifier: a version (number) or alias (name)."""
        arn = f"{self._base}:stateMachine:{name}"
        return arn if qualifier is None else f"{arn}:{qualifier}"

    def execution(self, machine: str, name: str) -> str:
        return f"{self._base}:execution:{machine}:{name}"

    def activity(self, name: str) -> str:
        return f"{self._base}:activity:{name}"

    def map_run(self, machine: str, execution: str, label: str) -> str:
        return f"{self._base}:mapRun:{machine}/{execution}:{label}"

    def own(self, arn: Arn, original: str) -> None:
        """Resources of another account or region do not exist here."""
        if (arn.region, arn.account) != (self.region, self.account):
            raise ApiError("InvalidArn", f"Invalid Arn: '{original}' (not this account or region)")
