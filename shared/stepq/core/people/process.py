"""Compile a process definition (states, transitions, activities) to ASL. Pure: dict in, dict out.

``compile_process(source) -> dict`` returns a definition that stepq's
validator accepts, or raises ``ProcessDefinitionError`` listing every
problem at its dotted path (``states.Review.transitions.0.to: no state
"Z"``). The format is in ``process_format.py``; docs/PEOPLE.md ("Process
definitions") is its reference. What each state becomes:

- a human task ``S``: a Task on the human-task resource whose result goes to
  ``$.people.S`` (the request's data stays as it was), then the Choice
  ``S.route`` on ``$.people.S.Transition``. Transitions are named after their
  destination (``to_B``). A transition's activities are the Task
  ``S.<transition>`` (process activities) on the way to its destination; a
  timeout is ``TimeoutSeconds`` with a Catch of ``States.Timeout`` (its
  activities: the Task ``S.timeout``).
- a choice: an ASL Choice (``when`` is a Choice rule without ``Next``).
- an end: Succeed, or Fail for ``end: fail``; with ``on_enter``, a process
  activities Task ``S`` first, then ``S.end``.

Rule 8's default destinations, for a transition without ``to``: Approve the
next state as written, Deny the previous one, Restart the start, Cancel
``Cancelled`` and Resolve ``Completed``. Those two, when not written, are
added as end states (succeeding: a cancelled request is not a failed run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from stepq.core.definition.validate import find_problems
from stepq.core.people.model import (
    HUMAN_TASK_RESOURCE,
    PROCESS_ACTIVITIES_RESOURCE,
    HumanTaskSpec,
)
from stepq.core.people.process_format import (
    STATE_NAME,
    ActivitySpec,
    ProcessSpec,
    StateSpec,
    TransitionSpec,
)
from stepq.errors import Problem, ProcessDefinitionError

IMPLIED_ENDS = {"Cancel": "Cancelled", "Resolve": "Completed"}
MAX_ASL_NAME = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class CompiledProcess:
    name: str  # the state machine's
    version: str | None  # the label the file gives, if any
    asl: dict[str, Any]


def compile_process(source: Any) -> dict[str, Any]:
    """The ASL of a process definition; ``ProcessDefinitionError`` lists every problem."""
    return compiled_process(source).asl


def compiled_process(source: Any) -> CompiledProcess:
    """``compile_process``, with the process's name and version label."""
    problems: list[Problem] = []
    if not isinstance(source, dict):
        raise ProcessDefinitionError([Problem("", "a process definition is a mapping")])
    try:
        spec = ProcessSpec.model_validate(source)
    except ValidationError as exc:
        problems += _problems(exc)
        spec = _lenient(source)  # to report the states' problems too
    states = _parse_states(source.get("states"), problems)
    compiler = _Compiler(spec, states, problems)
    asl = compiler.compile()
    if not problems:
        problems += compiler.asl_problems(asl)
    if problems:
        raise ProcessDefinitionError(problems)
    return CompiledProcess(spec.process, spec.version, asl)


def _lenient(source: dict[str, Any]) -> ProcessSpec:
    """The parts of a refused file that have the right type, to go on checking with."""

    def text(key: str) -> str:
        value = source.get(key)
        return value if isinstance(value, str) else ""

    states = source.get("states")
    return ProcessSpec.model_construct(
        process=text("process") or "process",
        version=None,
        description=None,
        start=text("start"),
        admins=None,
        states=states if isinstance(states, dict) else {},
    )


def _problems(exc: ValidationError, *prefix: str | int) -> list[Problem]:
    found = []
    for error in exc.errors():
        path = ".".join(str(part) for part in (*prefix, *error["loc"]))
        found.append(Problem(path, str(error["msg"]).removeprefix("Value error, ")))
    return found


def _parse_states(raw: Any, problems: list[Problem]) -> dict[str, StateSpec]:
    """Each state on its own, so every state's problems are reported together."""
    parsed: dict[str, StateSpec] = {}
    if not isinstance(raw, dict):
        return parsed  # ProcessSpec said so
    for name, body in raw.items():
        if not isinstance(name, str) or not STATE_NAME.match(name):
            problems.append(
                Problem(
                    f"states.{name}",
                    "a state name is a letter, then up to 63 letters, digits or _",
                )
            )
            continue
        try:
            parsed[name] = StateSpec.model_validate(body)
        except ValidationError as exc:
            problems += _problems(exc, "states", name)
    return parsed


class _Compiler:
    def __init__(
        self, spec: ProcessSpec, states: dict[str, StateSpec], problems: list[Problem]
    ) -> None:
        self.spec = spec
        self.states = states
        self.order = [n for n in spec.states if isinstance(n, str)]  # as written
        self.problems = problems
        self.implied: list[str] = []  # Cancelled/Completed, added as end states
        self.asl_states: dict[str, Any] = {}
        self.owner: dict[str, str] = {}  # ASL state -> the process state it came from

    # --- names and destinations ---------------------------------------------------

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def known(self, name: str, path: str) -> str | None:
        """``name`` if it is a state (written, or an implied end), else a problem."""
        if name in self.spec.states:
            return name if name in self.states else None  # refused already
        if name in IMPLIED_ENDS.values():
            if name not in self.implied:
                self.implied.append(name)
            return name
        self.problem(path, f'no state "{name}"')
        return None

    def destination(self, state: str, transition: TransitionSpec, path: str) -> str | None:
        if transition.to is not None:
            return self.known(transition.to, f"{path}.to")
        action = transition.label()
        index = self.order.index(state)
        if action == "Approve":
            if index + 1 < len(self.order):
                return self.known(self.order[index + 1], f"{path}.to")
            self.problem(path, f"Approve goes to the next state, and {state} is the last: give to")
        elif action == "Deny":
            if index > 0:
                return self.known(self.order[index - 1], f"{path}.to")
            self.problem(path, f"Deny goes to the previous state, and {state} is first: give to")
        elif action == "Restart":
            return self.known(self.spec.start, f"{path}.to")
        elif action in IMPLIED_ENDS:
            return self.known(IMPLIED_ENDS[action], f"{path}.to")
        elif action is None:
            self.problem(path, "give to: the requirements ask for different actions")
        else:
            self.problem(path, f"give to: {action} has no default destination")
        return None

    def add(self, name: str, owner: str, state: dict[str, Any]) -> None:
        self.asl_states[name] = state
        self.owner[name] = owner

    def step_name(self, state: str, suffix: str, fallback: str) -> str:
        name = f"{state}.{suffix}"
        return name if len(name) <= MAX_ASL_NAME else f"{state}.{fallback}"

    # --- compiling ------------------------------------------------------------------

    def compile(self) -> dict[str, Any]:
        if self.spec.start and self.spec.start not in self.spec.states:
            self.problem("start", f'no state "{self.spec.start}"')
        for name, body in self.spec.states.items():
            if name not in self.states and isinstance(body, dict):
                self.raw_references(name, body)  # refused, but its destinations still count
        for name, state in self.states.items():
            if state.transitions:
                self.human_task(name, state)
            elif state.choices:
                self.choice(name, state)
            else:
                self.end(name, state)
        for name in self.implied:
            if name not in self.spec.states:
                self.add(name, name, {"Type": "Succeed"})
        asl: dict[str, Any] = {}
        comment = f"process {self.spec.process}"
        if self.spec.version is not None:
            comment += f" version {self.spec.version}"
        if self.spec.description:
            comment += f": {self.spec.description}"
        asl["Comment"] = comment
        asl["StartAt"] = self.spec.start
        asl["States"] = self.asl_states
        return asl

    def raw_references(self, name: str, body: dict[str, Any]) -> None:
        """The written destinations of a state the format refused (``to``, ``default``)."""
        path = f"states.{name}"
        found: list[tuple[str, Any]] = [(f"{path}.default", body.get("default"))]
        for key in ("transitions", "choices"):
            items = body.get(key)
            for i, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, dict):
                    found.append((f"{path}.{key}.{i}.to", item.get("to")))
        timeout = body.get("timeout")
        if isinstance(timeout, dict):
            found.append((f"{path}.timeout.to", timeout.get("to")))
        for where, to in found:
            if isinstance(to, str):
                self.known(to, where)

    def human_task(self, name: str, state: StateSpec) -> None:
        path = f"states.{name}"
        parameters: dict[str, Any] = {"Title": state.title}
        if state.description:
            parameters["Description"] = state.description
        parameters["Data.$"] = state.data
        if self.spec.admins:
            parameters["Admins"] = self.spec.admins
        transitions, choices, steps = [], [], []
        names: set[str] = set()
        for i, transition in enumerate(state.transitions):
            tpath = f"{path}.transitions.{i}"
            dest = self.destination(name, transition, tpath)
            label = transition.name or _unique(f"to_{dest or i}", names)
            if label in names and transition.name:
                self.problem(f"{tpath}.name", f'transition name "{label}" is used twice')
            names.add(label)
            transitions.append(
                {"Name": label, "Requires": [r.compile() for r in transition.requirements()]}
            )
            if dest is None:
                continue
            target = dest
            if transition.activities:
                target = self.step_name(name, label, f"t{i}")
                steps.append((target, _activities_task(transition.activities, dest)))
            choices.append(
                {
                    "Variable": f"$.people.{name}.Transition",
                    "StringEquals": label,
                    "Next": target,
                }
            )
        parameters["Transitions"] = transitions
        if state.on_enter:
            parameters["Activities"] = [a.compile() for a in state.on_enter]
        if state.reminders:
            parameters["Reminders"] = [
                {"AfterSeconds": r.after, "Activities": [a.compile() for a in r.activities]}
                for r in state.reminders
            ]
        self.check_spec(parameters, path)
        route = self.step_name(name, "route", "r")
        task: dict[str, Any] = {
            "Type": "Task",
            "Resource": HUMAN_TASK_RESOURCE,
            "Parameters": parameters,
            "ResultPath": f"$.people.{name}",
        }
        if state.timeout is not None:
            timed = self.known(state.timeout.to, f"{path}.timeout.to")
            if timed is not None:
                task["TimeoutSeconds"] = state.timeout.after
                if state.timeout.activities:
                    on_time = self.step_name(name, "timeout", "timeout")
                    steps.append((on_time, _activities_task(state.timeout.activities, timed)))
                    timed = on_time
                # The error lands where the result would have: the record says it timed out.
                task["Catch"] = [
                    {
                        "ErrorEquals": ["States.Timeout"],
                        "ResultPath": f"$.people.{name}",
                        "Next": timed,
                    }
                ]
        task["Next"] = route
        self.add(name, name, task)
        self.add(route, name, {"Type": "Choice", "Choices": choices})
        for step, body in steps:
            self.add(step, name, body)

    def check_spec(self, parameters: dict[str, Any], path: str) -> None:
        """The human task's own model, as it will be checked when it runs."""
        resolved = {k: v for k, v in parameters.items() if not k.endswith(".$")}
        try:
            HumanTaskSpec.model_validate(resolved)
        except ValidationError as exc:
            for problem in _problems(exc):
                self.problem(path, f"the compiled human task: {problem}")

    def choice(self, name: str, state: StateSpec) -> None:
        path = f"states.{name}"
        rules = []
        for i, rule in enumerate(state.choices):
            dest = self.known(rule.to, f"{path}.choices.{i}.to")
            rules.append({**rule.when, "Next": dest or rule.to})
        body: dict[str, Any] = {"Type": "Choice", "Choices": rules}
        if state.default is not None:
            body["Default"] = self.known(state.default, f"{path}.default") or state.default
        self.add(name, name, body)

    def end(self, name: str, state: StateSpec) -> None:
        final: dict[str, Any] = {"Type": "Succeed"}
        if state.end == "fail":
            final = {"Type": "Fail", "Error": f"Process.{name}"}
            if state.description or state.title:
                final["Cause"] = state.description or state.title
        if not state.on_enter:
            self.add(name, name, final)
            return
        last = self.step_name(name, "end", "end")
        self.add(name, name, _activities_task(state.on_enter, last))
        self.add(last, name, final)

    def asl_problems(self, asl: dict[str, Any]) -> list[Problem]:
        """What stepq's validator says of the result, at the process state it came from
        (a Choice rule's mistake, an unreachable state, a bad ``data`` path)."""
        found = []
        for problem in find_problems(asl):
            parts = problem.path.split("/")
            if len(parts) >= 3 and parts[1] == "States":
                asl_name = parts[2].replace("~1", "/").replace("~0", "~")
                owner = self.owner.get(asl_name, asl_name)
                found.append(Problem(f"states.{owner}", f"{problem.message} (ASL {problem.path})"))
            else:
                found.append(Problem("", f"{problem.message} (ASL {problem.path or '/'})"))
        return found


def _activities_task(activities: list[ActivitySpec], then: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": PROCESS_ACTIVITIES_RESOURCE,
        "Parameters": {"Activities": [a.compile() for a in activities]},
        "ResultPath": None,  # the request's data goes on unchanged
        "Next": then,
    }


def _unique(wanted: str, taken: set[str]) -> str:
    """A transition name from a destination: a valid label, not yet used in the state."""
    base = _UNSAFE.sub("_", wanted)[:60]
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name
