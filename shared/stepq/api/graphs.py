"""``Stepq.GetMachineGraph`` and ``Stepq.GetExecutionGraph``: what the console draws.

The same model ``stepq graph`` draws (``api/graph_model.py``) as JSON:
nodes (id, name, type), edges (source, target, label, dashed), clusters
(a Parallel's branches, a Map's iterations, nested). An execution's graph
adds each state's status and latest visit (input, output, error, cause) and
which edges were taken, from its whole history; the browser only lays it
out (dagre) and draws it.
"""

from __future__ import annotations

import json
from typing import Any

from stepq.api import graph_model
from stepq.api.context import ApiContext
from stepq.api.executions import described, load_described
from stepq.api.history import convert
from stepq.api.machine_support import read_revision
from stepq.api.machines import describe_state_machine
from stepq.api.protocol import ApiError
from stepq.api.registry import operation


def _arn(params: dict[str, Any], member: str) -> str:
    value = params.get(member)
    unknown = sorted(set(params) - {member})
    if unknown:
        raise ApiError("ValidationException", f"Unknown member(s): {', '.join(unknown)}")
    if not isinstance(value, str) or not value:
        raise ApiError("ValidationException", f"{member} is required (an ARN)")
    return value


def _definition(text: str) -> dict[str, Any]:
    definition = json.loads(text)
    if not isinstance(definition, dict):  # stored definitions were validated; never seen
        raise ApiError("ValidationException", "the definition is not a JSON object")
    return definition


@operation("GetMachineGraph", stepq=True)
def get_machine_graph(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """{stateMachineArn} (a version ARN too) -> {name, definition, graph}."""
    described = describe_state_machine(ctx, {"stateMachineArn": _arn(params, "stateMachineArn")})
    graph = graph_model.build(_definition(described["definition"]))
    return {
        "stateMachineArn": described["stateMachineArn"],
        "name": described["name"],
        "type": described.get("type"),
        "definition": described["definition"],
        "graph": graph_model.to_json(graph),
    }


@operation("GetExecutionGraph", stepq=True)
def get_execution_graph(ctx: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """{executionArn} -> {execution (as DescribeExecution), definition, graph with statuses}."""
    arn = _arn(params, "executionArn")
    # Loaded once: a wide Map's snapshot takes a while to read.
    header, latest = load_described(ctx, arn)
    execution = described(ctx, header, latest, {})
    text, _ = read_revision(ctx, header.machine, header.machine_version)
    graph = graph_model.build(_definition(text))
    events = (convert(ctx, e) for e in ctx.store.history(header.execution_id))
    graph_model.mark(graph, events, execution["status"])
    return {
        "execution": execution,
        "stateMachineName": header.machine,
        "definition": text,
        "graph": graph_model.to_json(graph, marked=True),
    }
