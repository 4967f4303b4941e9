"""``stepq run --people FILE``: who is who in a local run of a people process, and
what they answer.

A people file (YAML or JSON; docs/PEOPLE.md, "Running a people example")::

    requester: jane                      # who starts the request
    stakeholders: [sam]                  # optional
    people: {jane: jane@example.com}     # e-mail addresses (optional)
    groups: {Managers: [maria], Finance: [fin1, fin2, fin3]}
    answers:                             # each given once a task it fits is open
      - {as: maria, action: Approve, comment: receipt checked}
      - {as: fin1, action: Approve}

``PeopleScript`` writes the groups and addresses into the run's table, starts
the execution as a request of the requester and, whenever an open task lets
an answer's person take its action, takes it through the inbox service (the
same checks the API makes); answers that fit at the same moment go in the
file's order, and one that fits no open task waits (a later task may fit it).
While an answer fits, skipped time stands still (``EmbeddedRuntime.holds``):
a run is a rehearsal of people who answer at once, so no timeout fires before
them. When no answer fits, time runs on and timed transitions fire as they
would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stepq.core.people.model import check_label, check_person
from stepq.errors import ActionRefusedError, AlreadyExistsError, PeopleError, Problem
from stepq.runtime.people.addresses import PERSON
from stepq.runtime.people.documents import OPEN
from stepq.strict_yaml import YamlProblem, load_yaml


class PeopleFileError(PeopleError):
    """A people file was refused; ``problems`` lists every reason at its path."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {source}: {p}" for p in self.problems)
        count = f"{len(self.problems)} problem" + ("s" if len(self.problems) != 1 else "")
        super().__init__(f"invalid people file ({count}):\n{lines}")


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    person: str = Field(alias="as")
    action: str
    comment: str | None = None
    on_behalf_of: str | None = None

    @field_validator("person", "on_behalf_of")
    @classmethod
    def _person(cls, value: str | None) -> str | None:
        return value if value is None else check_person(value)

    @field_validator("action")
    @classmethod
    def _action(cls, value: str) -> str:
        return check_label(value, "action")


class PeopleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requester: str
    stakeholders: list[str] = []
    people: dict[str, str] = {}  # person -> e-mail address
    groups: dict[str, list[str]] = {}
    answers: list[Answer] = []

    @field_validator("requester")
    @classmethod
    def _requester(cls, value: str) -> str:
        return check_person(value)

    @field_validator("stakeholders")
    @classmethod
    def _stakeholders(cls, value: list[str]) -> list[str]:
        return [check_person(p) for p in value]

    @field_validator("people")
    @classmethod
    def _addresses(cls, value: dict[str, str]) -> dict[str, str]:
        for person, email in value.items():
            check_person(person)
            if "@" not in email or email != email.strip():
                raise ValueError(f"{email!r} ({person}) is not an e-mail address")
        return value

    @field_validator("groups")
    @classmethod
    def _groups(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for group, members in value.items():
            check_label(group, "group name")
            for member in members:
                check_person(member)
        return value


def load_people_file(path: Path) -> PeopleFile:
    """The file parsed, or PeopleFileError naming every problem at its path."""
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PeopleFileError(str(path), [Problem("(file)", exc.strerror or str(exc))]) from None
    except YamlProblem as exc:
        raise PeopleFileError(str(path), [Problem("(file)", str(exc))]) from None
    try:
        return PeopleFile.model_validate(raw)
    except ValidationError as exc:
        problems = [
            Problem(
                ".".join(str(p) for p in e["loc"]) or "(file)",
                str(e["msg"]).removeprefix("Value error, "),
            )
            for e in exc.errors()
        ]
        raise PeopleFileError(str(path), problems) from None


class PeopleScript:
    """A people file played against one run (see the module docstring).

    ``ctx`` is the run's API context (``hosting.dev.api_context``): the answers go
    through the same inbox service, with the same checks, as ``Stepq.ActOnTask``.
    """

    def __init__(self, ctx: Any, cast: PeopleFile) -> None:
        from stepq.api.people import people_service

        self.ctx = ctx
        self.cast = cast
        self.service = people_service(ctx)
        self.pending: list[Answer] = list(cast.answers)
        self.seen: set[str] = set()  # tasks announced

    def prepare(self) -> None:
        """The file's groups and addresses, in the run's table."""
        directory = self.service.directory
        for group, members in self.cast.groups.items():
            try:
                directory.create(group, members)
            except AlreadyExistsError:
                directory.change(group, add=members)
        for person, email in self.cast.people.items():
            found = self.ctx.store.get_doc(PERSON, person)
            self.ctx.store.put_doc(PERSON, person, {"email": email}, found.rev if found else None)

    def start(self, machine: str, name: str, start: Callable[[], str]) -> str:
        """``start()`` as a request of the file's requester; the execution's ARN."""
        arn = self.ctx.arns.execution(machine, name)
        return self.service.create_request(
            self.cast.requester, arn, list(self.cast.stakeholders), start
        )

    def open_tasks(self, arn: str) -> list[dict[str, Any]]:
        """The request's open tasks, as its requester sees them (oldest first)."""
        try:
            found = self.service.request_tasks(arn, self.cast.requester)
        except PeopleError:
            return []
        return [t for t in found if t["status"] == OPEN]

    def announce(self, arn: str) -> list[dict[str, Any]]:
        """Open tasks not announced before, each with who may do what."""
        fresh = []
        for task in self.open_tasks(arn):
            if task["taskId"] in self.seen:
                continue
            self.seen.add(task["taskId"])
            fresh.append(self.service.describe_task(task["taskId"], self.cast.requester))
        return fresh

    def _fits(self, arn: str) -> tuple[int, str] | None:
        """The first pending answer (in file order) whose person may take its action
        on an open task now, and that task; None if no answer fits."""
        if not self.pending:
            return None
        tasks = self.open_tasks(arn)
        for index, answer in enumerate(self.pending):
            for task in tasks:
                try:
                    view = self.service.describe_task(task["taskId"], answer.person)
                except PeopleError:
                    continue
                if view["status"] == OPEN and answer.action in view["myActions"]:
                    return index, str(task["taskId"])
        return None

    def fits(self, arn: str, task_id: str) -> bool:
        """Whether a pending answer fits the task ``task_id``."""
        found = self._fits(arn)
        return found is not None and found[1] == task_id

    def holding(self, arn: str) -> Callable[[], bool]:
        """For ``EmbeddedRuntime.holds``: True while an answer waits to be given."""
        return lambda: self._fits(arn) is not None

    def answer(self, arn: str) -> list[str]:
        """Give every answer that fits now, in file order; a line about each. An answer
        that fits no open task stays pending (a later task may fit it)."""
        said = []
        while (found := self._fits(arn)) is not None:
            index, task_id = found
            answer = self.pending.pop(index)
            try:
                reply = self.service.act(
                    answer.person, task_id, answer.action, answer.comment, answer.on_behalf_of
                )
            except ActionRefusedError as exc:  # the task changed in between: said, not fatal
                said.append(f"{answer.person} {answer.action} on {task_id}: refused ({exc})")
                continue
            done = f" -> {reply['transition']}" if reply.get("transition") else ""
            said.append(f"{answer.person} {answer.action} on {task_id}: {reply['status']}{done}")
        return said

    def unused(self) -> list[str]:
        return [json.dumps(a.model_dump(by_alias=True, exclude_none=True)) for a in self.pending]
