"""The process definition format: what a person writes (YAML or JSON), as pydantic models.

``process.py`` compiles it to ASL; docs/PEOPLE.md ("Process definitions") is
its reference. Keys are lower case and unknown keys are refused, so a typo
is a problem at its path rather than a setting silently ignored. The
constraints a human task's spec has (label syntax, lengths) are checked by
building the compiled pieces with ``model.py``'s own classes, so the two
cannot drift apart.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from stepq.core.people.model import Activity, Target, check_label

# State names become JSONPath fields ($.people.<State>) and parts of generated
# state names ("<State>.route"), so they are plain identifiers.
STATE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# A state machine's name, as CreateStateMachine accepts it.
PROCESS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_KEYWORD_TARGETS = {
    "requester": "Requester",
    "stakeholders": "Stakeholders",
    "admins": "Admins",
    "assignee": "Assignee",
}
_DURATION = re.compile(r"(\d+)\s*([dhms])")
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_ACTIVITY = TypeAdapter(Activity)


def _first_error(exc: ValidationError) -> str:
    return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")


def to_target(value: Any) -> Target:
    """``requester``, ``stakeholders``, ``admins``, ``assignee``, ``{group: X}`` or
    ``{person: Y}`` as the human task's Target."""
    if isinstance(value, Target):
        return value
    if isinstance(value, str) and value in _KEYWORD_TARGETS:
        return Target(**{_KEYWORD_TARGETS[value]: True})
    if isinstance(value, dict) and len(value) == 1:
        ((key, name),) = value.items()
        if key in ("group", "person") and isinstance(name, str):
            try:
                return Target(**{key.capitalize(): name})
            except ValidationError as exc:
                raise ValueError(_first_error(exc)) from None
    raise ValueError(
        f"{value!r} is not a target: use requester, stakeholders, admins, assignee, "
        "{group: NAME} or {person: ID}"
    )


def to_seconds(value: Any) -> int:
    """``3d``, ``36h``, ``90m``, ``1d12h`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or e.g. 3d, 36h, 90m")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        parts = _DURATION.findall(text)
        if text.isdigit():
            seconds = int(text)
        elif parts and "".join(f"{n}{u}" for n, u in parts) == text.replace(" ", ""):
            seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
        else:
            raise ValueError(f"{value!r} is not a duration: e.g. 3d, 36h, 90m, 45s or seconds")
    else:
        raise ValueError("a duration is a number of seconds or e.g. 3d, 36h, 90m")
    if not 1 <= seconds <= 31_536_000:
        raise ValueError(f"{value!r} is not between 1 second and 365 days")
    return seconds


By = Annotated[Target, BeforeValidator(to_target)]
Duration = Annotated[int, BeforeValidator(to_seconds)]


class _Format(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmailSpec(_Format):
    to: By
    subject: str
    body: str = ""


class ActivitySpec(_Format):
    """Exactly one of ``note: TEXT``, ``email: {to, subject, body?}``,
    ``add_stakeholders: [targets]``, ``remove_stakeholders: [targets]``."""

    note: str | None = None
    email: EmailSpec | None = None
    add_stakeholders: list[By] | None = None
    remove_stakeholders: list[By] | None = None

    @model_validator(mode="after")
    def _one(self) -> ActivitySpec:
        given = [k for k, v in self.__dict__.items() if v is not None]
        if len(given) != 1:
            raise ValueError(
                "an activity is exactly one of note, email, add_stakeholders, "
                f"remove_stakeholders (got {', '.join(given) or 'none'})"
            )
        try:  # the human task's own model decides what an activity may hold
            _ACTIVITY.validate_python(self.compile())
        except ValidationError as exc:
            raise ValueError(f"{given[0]}: {_first_error(exc)}") from None
        return self

    def compile(self) -> dict[str, Any]:
        if self.note is not None:
            return {"Type": "Note", "Text": self.note}
        if self.email is not None:
            email: dict[str, Any] = {
                "Type": "Email",
                "To": _target_json(self.email.to),
                "Subject": self.email.subject,
            }
            if self.email.body:
                email["Body"] = self.email.body
            return email
        kind, targets = (
            ("AddStakeholders", self.add_stakeholders)
            if self.add_stakeholders is not None
            else ("RemoveStakeholders", self.remove_stakeholders or [])
        )
        return {"Type": kind, "Targets": [_target_json(t) for t in targets]}


def _target_json(target: Target) -> dict[str, Any]:
    return target.model_dump(exclude_none=True)


Activities = list[ActivitySpec]


class RequirementSpec(_Format):
    action: str
    by: By
    count: Annotated[int, Field(ge=1, le=100)] = 1
    distinct: bool = False

    @field_validator("action")
    @classmethod
    def _label(cls, value: str) -> str:
        return check_label(value, "action")

    def compile(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Action": self.action, "By": _target_json(self.by)}
        if self.count != 1:
            out["Count"] = self.count
        if self.distinct:
            out["Distinct"] = True
        return out


class TransitionSpec(_Format):
    """A way out of a human task: ``requires`` (a list), or the shorthand of one
    requirement written on the transition (``action``, ``by``, ``count``, ``distinct``).
    Without ``to``, the action's default destination (docs/PEOPLE.md, rule 8)."""

    to: str | None = None
    name: str | None = None
    action: str | None = None
    by: By | None = None
    count: Annotated[int, Field(ge=1, le=100)] | None = None
    distinct: bool | None = None
    requires: Annotated[list[RequirementSpec], Field(min_length=1, max_length=20)] | None = None
    activities: Activities = []

    @field_validator("action")
    @classmethod
    def _action(cls, value: str) -> str:
        return check_label(value, "action")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_label(value, "transition name")

    @model_validator(mode="after")
    def _shape(self) -> TransitionSpec:
        shorthand = [k for k in ("by", "count", "distinct") if getattr(self, k) is not None]
        if self.requires is not None and shorthand:
            raise ValueError(f"give requires or {'/'.join(shorthand)}, not both")
        if self.requires is None and (self.by is None or self.action is None):
            raise ValueError("a transition needs requires, or action and by")
        return self

    def requirements(self) -> list[RequirementSpec]:
        if self.requires is not None:
            return self.requires
        assert self.action is not None and self.by is not None  # _shape
        return [
            RequirementSpec(
                action=self.action,
                by=self.by,
                count=self.count or 1,
                distinct=bool(self.distinct),
            )
        ]

    def label(self) -> str | None:
        """The action that names the default destination: ``action``, or the one
        action every requirement asks for."""
        if self.action is not None:
            return self.action
        actions = {r.action for r in self.requirements()}
        return actions.pop() if len(actions) == 1 else None


class TimeoutSpec(_Format):
    after: Duration
    to: str
    activities: Activities = []


class ReminderSpec(_Format):
    after: Duration
    activities: Annotated[Activities, Field(min_length=1)]


class ChoiceSpec(_Format):
    """``when``: an ASL Choice rule without ``Next`` (e.g. ``{Variable: $.amount,
    NumericGreaterThan: 1000}``); ``to``: where it leads."""

    when: dict[str, Any]
    to: str

    @field_validator("when")
    @classmethod
    def _no_next(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "Next" in value:
            raise ValueError("write the destination as `to`, not Next")
        return value


class StateSpec(_Format):
    """One of: a human task (``transitions``), a choice (``choices``), an end (``end``)."""

    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=4000)] | None = None
    data: str = "$"
    on_enter: Activities = []
    transitions: Annotated[list[TransitionSpec], Field(max_length=20)] = []
    timeout: TimeoutSpec | None = None
    reminders: list[ReminderSpec] = []
    choices: list[ChoiceSpec] = []
    default: str | None = None
    end: Literal[True, "succeed", "fail"] | None = None

    @model_validator(mode="after")
    def _kind(self) -> StateSpec:
        kinds = [k for k in ("transitions", "choices", "end") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(
                "a state has exactly one of transitions (a human task), choices (a choice) "
                f"or end (got {', '.join(kinds) or 'none'})"
            )
        allowed = {
            "transitions": {"title", "description", "data", "on_enter", "timeout", "reminders"},
            "choices": {"default"},
            "end": {"title", "description", "on_enter"},
        }[kinds[0]]
        extra = sorted(self.model_fields_set - allowed - {kinds[0]})
        if extra:
            raise ValueError(f"{self.kind()} states take no {', '.join(extra)}")
        if self.transitions and self.title is None:
            raise ValueError("a human task needs a title (what the inbox shows)")
        return self

    def kind(self) -> str:
        if self.transitions:
            return "human task"
        return "choice" if self.choices else "end"


class ProcessSpec(_Format):
    """The file: ``states`` stays raw here so each state is checked on its own and
    every state's problems are reported together (``process.py``)."""

    process: str
    version: str | None = None
    description: str | None = None
    start: str
    admins: str | None = None
    states: Annotated[dict[str, Any], Field(min_length=1)]

    @field_validator("process")
    @classmethod
    def _process(cls, value: str) -> str:
        if not PROCESS_NAME.match(value):
            raise ValueError(f"{value!r} is not a state machine name: 1-80 of A-Z a-z 0-9 _ -")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )

    @field_validator("admins")
    @classmethod
    def _admins(cls, value: str) -> str:
        return check_label(value, "group name")
