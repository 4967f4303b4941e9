from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stepq.core import choice, dataflow
from stepq.core.failures import NO_CHOICE_MATCHED, StatesFailure
from stepq.core.states.common import pass_through

if TYPE_CHECKING:
    from stepq.core.execution import Frame
    from stepq.core.states.context import RunContext


class ChoiceState:
    def enter(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        run.entered(frame, state)
        if run.is_jsonata(state):
            self._jsonata(run, frame, state)
            return
        data = run.input_path(frame, state)
        ctx = run.context(frame)
        variables = run.variables(frame)
        for rule in state.get("Choices", []):
            if choice.evaluate_rule(rule, data, ctx, variables):
                target, chosen = rule["Next"], rule
                break
        else:
            target, chosen = self._default(state), None
        if chosen is not None and "Assign" in chosen:
            output = run.output_path(frame, state, data)
            run.assign(frame, dataflow.assign_jsonpath(chosen["Assign"], data, ctx, variables))
        else:
            output = pass_through(run, frame, state, data)
        self._leave(run, frame, state, target, output)

    def _jsonata(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        ctx = run.context(frame)
        env = run.jsonata_env(frame, ctx, frame.input)
        for rule in state.get("Choices", []):
            verdict = dataflow.evaluate(rule["Condition"], env, "Condition")
            if not isinstance(verdict, bool):
                expression = rule["Condition"][2:-2].strip()
                raise dataflow.unexpected_type(expression, "Condition", "boolean", verdict)
            if verdict:
                output = (
                    dataflow.evaluate(rule["Output"], env, "Output") if "Output" in rule else None
                )
                has_output = "Output" in rule
                if "Assign" in rule:
                    run.assign(frame, dataflow.assign_jsonata(rule["Assign"], env))
                if not has_output:
                    output = pass_through(run, frame, state, frame.input)
                self._leave(run, frame, state, rule["Next"], output)
                return
        self._leave(
            run, frame, state, self._default(state), pass_through(run, frame, state, frame.input)
        )

    def _default(self, state: dict[str, Any]) -> str:
        if "Default" not in state:
            raise StatesFailure(NO_CHOICE_MATCHED, "No Matches!", state_scoped=False)
        return state["Default"]

    def _leave(
        self, run: RunContext, frame: Frame, state: dict[str, Any], target: str, output: Any
    ) -> None:
        run.emit("ChoiceStateExited", name=frame.state, output=output)
        run.goto(frame, target, output)
