"""What the state handlers share.

Data flow of the states that produce a result (Pass, Task, Parallel, Map) and
of those that pass their input on (Choice, Wait, Succeed); ``Launching``, the
states whose work starts on entry and again on each retry (Task, Parallel, Map).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stepq.core import dataflow

if TYPE_CHECKING:
    from stepq.core.execution import Frame
    from stepq.core.states.context import RunContext


def effective_input(
    run: RunContext, frame: Frame, state: dict[str, Any], ctx: dict[str, Any], field: str
) -> Any:
    """InputPath then Parameters (JSONPath), or Arguments (JSONata)."""
    if run.is_jsonata(state):
        if field not in ("Parameters", "Arguments") or "Arguments" not in state:
            return frame.input
        env = run.jsonata_env(frame, ctx, frame.input)
        return dataflow.evaluate(state["Arguments"], env, "Arguments")
    data = run.input_path(frame, state)
    if field in state:
        return dataflow.render(state[field], data, ctx, run.variables(frame))
    return data


def finish_with_result(
    run: RunContext, frame: Frame, state: dict[str, Any], result: Any, *, selector: bool = True
) -> None:
    """ResultSelector, Assign, ResultPath, OutputPath (or Output/Assign), then leave."""
    if run.is_jsonata(state):
        if "Output" not in state and "Assign" not in state:
            run.exit_state(frame, state, result)
            return
        env = run.jsonata_env(frame, run.context(frame), frame.input, result=result)
        output = dataflow.evaluate(state["Output"], env, "Output") if "Output" in state else result
        if "Assign" in state:
            run.assign(frame, dataflow.assign_jsonata(state["Assign"], env))
        run.exit_state(frame, state, output)
        return
    if not (selector and "ResultSelector" in state) and "Assign" not in state:
        # The common case needs neither the context object nor the variables.
        output = dataflow.result_path(state, frame.input, result)
        run.exit_state(frame, state, run.output_path(frame, state, output))
        return
    ctx = run.context(frame)
    variables = run.variables(frame)
    if selector and "ResultSelector" in state:
        result = dataflow.render(state["ResultSelector"], result, ctx, variables)
    assigned = (
        dataflow.assign_jsonpath(state["Assign"], result, ctx, variables)
        if "Assign" in state
        else None
    )
    output = dataflow.result_path(state, frame.input, result)
    output = run.output_path(frame, state, output)
    if assigned is not None:
        run.assign(frame, assigned)
    run.exit_state(frame, state, output)


def pass_through(run: RunContext, frame: Frame, state: dict[str, Any], data: Any) -> Any:
    """Output and Assign for states without a result (Choice, Wait, Succeed)."""
    if run.is_jsonata(state):
        if "Output" not in state and "Assign" not in state:
            return frame.input
        env = run.jsonata_env(frame, run.context(frame), frame.input)
        output = (
            dataflow.evaluate(state["Output"], env, "Output") if "Output" in state else frame.input
        )
        if "Assign" in state:
            run.assign(frame, dataflow.assign_jsonata(state["Assign"], env))
        return output
    if "Assign" in state:
        run.assign(
            frame,
            dataflow.assign_jsonpath(
                state["Assign"], data, run.context(frame), run.variables(frame)
            ),
        )
    return run.output_path(frame, state, data)


class Launching:
    """A state whose work starts on entry and starts again on each retry."""

    def enter(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        run.entered(frame, state)
        self.launch(run, frame, state)

    def retry(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        self.launch(run, frame, state)

    def launch(self, run: RunContext, frame: Frame, state: dict[str, Any]) -> None:
        raise NotImplementedError
