"""The shapes of a human task: its spec (a Task's resolved Parameters), actions, result.

A human task is an ASL Task whose ``Resource`` is ``HUMAN_TASK_RESOURCE``; its
Parameters, once resolved against the state's input, must parse as
``HumanTaskSpec``. Its result (``TaskResult``) says which transition
completed, who acted and what they wrote, so a Choice routes on
``$.Transition``. Both names are stable: the console and users' Choice
states read them. Process activities (a note, an email, stakeholders added or
removed) are named apart from Step Functions' Activities everywhere.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HUMAN_TASK_RESOURCE = "arn:aws:states:::stepq:humanTask.waitForTaskToken"
PROCESS_ACTIVITIES_RESOURCE = "arn:aws:states:::stepq:processActivities"
# A human task's reminder, due: a RunTask the core issues on ``ReminderDue`` (owned by
# no frame) for the people runner. Never written in a definition (refused at create).
REMINDER_RESOURCE = "arn:aws:states:::stepq:reminder"
# A human task's assignment notice, due: the same, on ``AssignmentNoticeDue``.
NOTICE_RESOURCE = "arn:aws:states:::stepq:assignmentNotice"
# The action labels every process knows; any other name (e.g. "Escalate") is fine too.
DEFAULT_ACTIONS = ("Approve", "Deny", "Cancel", "Restart", "Resolve")
ADMINS_GROUP = "Admins"  # the group whose members are a task's "process admins" unless named

_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9 _.-]{0,63}$")
_PERSON = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_person(value: str) -> str:
    """A person's id: 1-128 printable characters (a user name, e-mail or IAM ARN)."""
    if not _PERSON.match(value) or value != value.strip():
        raise ValueError(f"{value!r} is not a person's id (1-128 printable characters)")
    return value


def check_label(value: str, what: str = "name") -> str:
    if not _LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a valid {what}: a letter, then up to 63 letters, digits, space, _ . -"
        )
    return value


class Target(_Strict):
    """Who: exactly one of the requester, the stakeholders, a group's members, the
    process admins, a named person, or whoever the task is assigned to."""

    Requester: Literal[True] | None = None
    Stakeholders: Literal[True] | None = None
    Group: str | None = None
    Admins: Literal[True] | None = None
    Person: str | None = None
    Assignee: Literal[True] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        given = [k for k, v in self.__dict__.items() if v is not None]
        if len(given) != 1:
            raise ValueError(
                "a target names exactly one of Requester, Stakeholders, Group, Admins, "
                f"Person, Assignee (got {', '.join(given) or 'none'})"
            )
        if self.Group is not None:
            check_label(self.Group, "group name")
        if self.Person is not None:
            check_person(self.Person)
        return self

    def describe(self) -> str:
        if self.Group is not None:
            return f"group {self.Group}"
        if self.Person is not None:
            return self.Person
        for name in ("Requester", "Stakeholders", "Admins", "Assignee"):
            if getattr(self, name):
                return name.lower()
        return "?"  # unreachable: validated


class Requirement(_Strict):
    """One action a transition needs: ``Action`` by ``Count`` distinct people of ``By``.

    One person's action counts for every requirement they qualify for, unless
    a requirement is ``Distinct``: the people it counts count for nothing else
    in the same transition.
    """

    Action: str
    By: Target
    Count: Annotated[int, Field(ge=1, le=100)] = 1
    Distinct: bool = False

    @field_validator("Action")
    @classmethod
    def _label(cls, value: str) -> str:
        return check_label(value, "action")


class Transition(_Strict):
    """A way out of the task: done when every requirement holds."""

    Name: str
    Requires: Annotated[list[Requirement], Field(min_length=1, max_length=20)]

    @field_validator("Name")
    @classmethod
    def _label(cls, value: str) -> str:
        return check_label(value, "transition name")


class Note(_Strict):
    Type: Literal["Note"]
    Text: Annotated[str, Field(min_length=1, max_length=4000)]


class Email(_Strict):
    """An e-mail to every person a target resolves to (SES in AWS, the outbox folder locally)."""

    Type: Literal["Email"]
    To: Target
    Subject: Annotated[str, Field(min_length=1, max_length=200)]
    Body: Annotated[str, Field(max_length=20000)] = ""


class Stakeholders(_Strict):
    """Add or remove people (named, or every person a target resolves to) as stakeholders."""

    Type: Literal["AddStakeholders", "RemoveStakeholders"]
    People: list[str] = []
    Targets: list[Target] = []

    @model_validator(mode="after")
    def _someone(self) -> Stakeholders:
        if not self.People and not self.Targets:
            raise ValueError(f"{self.Type} names People or Targets")
        for person in self.People:
            check_person(person)
        return self


Activity = Annotated[Note | Email | Stakeholders, Field(discriminator="Type")]


class Reminder(_Strict):
    """Non-interrupting: ``AfterSeconds`` after the task opens, if it is still open."""

    AfterSeconds: Annotated[int, Field(ge=1, le=31_536_000)]
    Activities: Annotated[list[Activity], Field(min_length=1)]


class HumanTaskSpec(_Strict):
    """A human task's resolved Parameters (see docs/PEOPLE.md for an example)."""

    Title: Annotated[str, Field(min_length=1, max_length=200)]
    Description: Annotated[str, Field(max_length=4000)] | None = None
    Transitions: Annotated[list[Transition], Field(min_length=1, max_length=20)]
    Assignee: str | None = None
    Admins: str = ADMINS_GROUP
    Data: Any = None  # what the people see of the request (default: nothing)
    Activities: list[Activity] = []  # on entering the task
    Reminders: list[Reminder] = []

    @model_validator(mode="after")
    def _names(self) -> HumanTaskSpec:
        names = [t.Name for t in self.Transitions]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"transition names must differ: {', '.join(twice)} repeated")
        if self.Assignee is not None:
            check_person(self.Assignee)
        check_label(self.Admins, "group name")
        return self

    def actions(self) -> list[str]:
        """Every action label the task knows, in the order first named."""
        seen: dict[str, None] = {}
        for transition in self.Transitions:
            for req in transition.Requires:
                seen.setdefault(req.Action)
        return list(seen)


class ProcessActivities(_Strict):
    """The Parameters of a ``PROCESS_ACTIVITIES_RESOURCE`` Task (after a transition)."""

    Activities: Annotated[list[Activity], Field(min_length=1)]


class ActionRecord(_Strict):
    """One accepted action. ``principal`` is whose standing it used: the actor, or
    the person who delegated this task to the actor."""

    action: str
    actor: str
    principal: str
    at: str  # ISO-8601
    comment: str | None = None

    def as_result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Action": self.action, "By": self.actor, "At": self.at}
        if self.principal != self.actor:
            out["OnBehalfOf"] = self.principal
        if self.comment:
            out["Comment"] = self.comment
        return out


def task_result(
    task_id: str, state: str, transition: str, actions: list[ActionRecord]
) -> dict[str, Any]:
    """The task's output (stable schema): the transition, and every accepted action."""
    last = actions[-1]
    return {
        "Transition": transition,
        "TaskId": task_id,
        "State": state,
        "CompletedBy": last.actor,
        "CompletedAt": last.at,
        "Actions": [a.as_result() for a in actions],
    }
