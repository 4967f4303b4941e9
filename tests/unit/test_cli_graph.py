"""``stepq graph``: Mermaid and DOT of the examples, an execution's path marked, SVG via dot."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from stepq.cli import app
from stepq.cli.graph import build, dot, mark, mermaid
from typer.testing import CliRunner

EXAMPLES = Path(__file__).resolve().parents[2] / "state_machine"


def _definition(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.asl.json").read_text(encoding="utf-8"))


def _names(definition: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for name, state in definition["States"].items():
        found.add(name)
        for branch in state.get("Branches", []):
            found |= _names(branch)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found |= _names(processor)
    return found


@pytest.mark.parametrize("example", ["order_saga", "insurance_claim", "data_pipeline"])
def test_every_state_of_every_example_is_drawn_in_both_formats(example: str) -> None:
    definition = _definition(example)
    graph = build(definition)
    assert {n.name for n in graph.nodes.values()} == _names(definition)
    text = mermaid(graph)
    assert text.startswith("flowchart TD\n")
    for name in _names(definition):
        assert f'"{name}"' in text
    source = dot(graph, example)
    assert source.startswith(f'digraph "{example}" {{') and source.rstrip().endswith("}")
    assert source.count("{") == source.count("}")


def test_the_saga_s_edges_next_catch_and_end() -> None:
    graph = build(_definition("order_saga"))
    ids = graph.by_name
    edges = {(e.source, e.target): e for e in graph.edges}
    assert ("__start__", ids["Charge"]) in edges
    assert (ids["Charge"], ids["Reserve"]) in edges
    catch = edges[(ids["Charge"], ids["OrderFailed"])]
    assert catch.dashed and catch.label == "States.ALL"
    assert (ids["Confirmed"], "__end__") in edges and (ids["OrderFailed"], "__end__") in edges
    assert f'{ids["Charge"]} -.->|"States.ALL"| {ids["OrderFailed"]}' in mermaid(graph)


def test_choice_rules_and_default_are_labelled() -> None:
    graph = build(_definition("insurance_claim"))
    ids = graph.by_name
    labels = {(e.source, e.target): e.label for e in graph.edges}
    assert (
        labels[(ids["Decide"], ids["PayOut"])]
        == "$.verification.score NumericGreaterThanEquals 0.8"
    )
    assert labels[(ids["Decide"], ids["EscalateToHuman"])] == "default"
    assert f'{ids["Decide"]}{{"Decide"}}' in mermaid(graph)  # a Choice is a rhombus


def test_parallel_branches_and_map_iterations_are_subgraphs() -> None:
    definition = _definition("data_pipeline")
    graph = build(definition)
    text, source = mermaid(graph), dot(graph)
    assert "subgraph c1[" in text and text.count("subgraph") == text.count(
        "\n    end"
    ) + text.count("\n        end")
    assert "subgraph cluster_c1 {" in source
    nested = {n for c in graph.top.clusters for n in c.nodes}
    top_names = set(definition["States"])
    assert all(graph.nodes[n].name not in top_names for n in nested)


def _event(kind: str, event_id: int, name: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"id": event_id, "type": kind}
    if kind.endswith("StateEntered"):
        event["stateEnteredEventDetails"] = {"name": name}
    elif kind.endswith("StateExited"):
        event["stateExitedEventDetails"] = {"name": name}
    return event


def _saga_failed_at_ship() -> list[dict[str, Any]]:
    kinds = [
        ("ExecutionStarted", None),
        ("TaskStateEntered", "Charge"),
        ("TaskStateExited", "Charge"),
        ("TaskStateEntered", "Reserve"),
        ("TaskStateExited", "Reserve"),
        ("TaskStateEntered", "Ship"),
        ("LambdaFunctionFailed", None),
        ("TaskStateExited", "Ship"),
        ("TaskStateEntered", "Release"),
        ("TaskStateExited", "Release"),
        ("TaskStateEntered", "Refund"),
        ("TaskStateExited", "Refund"),
        ("FailStateEntered", "OrderFailed"),
        ("ExecutionFailed", None),
    ]
    return [_event(kind, i + 1, name) for i, (kind, name) in enumerate(kinds)]


def test_an_execution_s_path_and_statuses_are_marked() -> None:
    graph = build(_definition("order_saga"))
    mark(graph, _saga_failed_at_ship(), "FAILED")
    ids = graph.by_name
    status = {graph.nodes[n].name: s for n, s in graph.statuses.items()}
    assert status == {
        "Charge": "succeeded",
        "Reserve": "succeeded",
        "Ship": "caught",
        "Release": "succeeded",
        "Refund": "succeeded",
        "OrderFailed": "failed",
    }
    assert "Confirmed" not in status
    assert (ids["Ship"], ids["Release"]) in graph.taken
    assert (ids["Ship"], ids["Confirmed"]) not in graph.taken
    text = mermaid(graph)
    succeeded = sorted(ids[n] for n in ("Charge", "Reserve", "Release", "Refund"))
    assert f"class {','.join(succeeded)} succeeded" in text
    assert f"class {ids['Ship']} caught" in text
    taken = [i for i, e in enumerate(graph.edges) if (e.source, e.target) in graph.taken]
    assert f"linkStyle {','.join(map(str, taken))} stroke:" in text
    source = dot(graph)
    assert (
        f'{ids["Ship"]} -> {ids["Release"]} [label="States.ALL", style=dashed, color="#1565c0", penwidth=3];'
        in source
    )


def test_a_running_execution_marks_its_current_state_running() -> None:
    graph = build(_definition("insurance_claim"))
    events = [
        _event("ExecutionStarted", 1),
        _event("TaskStateEntered", 2, "RegisterClaim"),
        _event("TaskStateExited", 3, "RegisterClaim"),
        _event("TaskStateEntered", 4, "RequestVerification"),
    ]
    mark(graph, events, "RUNNING")
    assert graph.statuses[graph.by_name["RequestVerification"]] == "running"
    mark(build(_definition("insurance_claim")), events, "ABORTED")


def test_graph_command_on_a_file_prints_mermaid_and_dot() -> None:
    path = str(EXAMPLES / "order_saga.asl.json")
    result = CliRunner().invoke(app, ["graph", path])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("flowchart TD")
    result = CliRunner().invoke(app, ["graph", path, "--format", "dot"])
    assert result.exit_code == 0 and result.output.startswith('digraph "order_saga"')
    result = CliRunner().invoke(app, ["graph", path, "--output", "json"])
    assert json.loads(result.output)["graph"].startswith("flowchart TD")


def test_svg_without_graphviz_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot program anywhere
    result = CliRunner().invoke(
        app, ["graph", str(EXAMPLES / "order_saga.asl.json"), "--format", "svg"]
    )
    assert result.exit_code == 2
    assert "Graphviz" in result.output and "--format dot" in result.output
    assert "Traceback" not in result.output


def test_svg_is_what_graphviz_dot_makes_of_the_dot_text(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A stand-in `dot` that proves it got -Tsvg and the DOT text on stdin.
    fake = tmp_path / "dot"
    fake.write_text(
        '#!/bin/sh\n[ "$1" = "-Tsvg" ] || exit 3\nprintf "<svg>"\ngrep -c " -> " | tr -d "\\n"\nprintf "</svg>\\n"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin")
    path = EXAMPLES / "order_saga.asl.json"
    result = CliRunner().invoke(app, ["graph", str(path), "--format", "svg"])
    assert result.exit_code == 0, result.output
    edges = len(build(_definition("order_saga")).edges)
    assert result.output == f"<svg>{edges}</svg>\n"


def test_graph_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["graph", str(tmp_path / "missing.asl.json")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_branches_and_iterations_are_entered_from_their_parallel_and_map() -> None:
    graph = build(_definition("data_pipeline"))
    ids = graph.by_name
    kinds = [
        ("ExecutionStarted", None),
        ("ParallelStateEntered", "Extract"),
        ("TaskStateEntered", "ExtractUsers"),
        ("TaskStateExited", "ExtractUsers"),
        ("TaskStateEntered", "ExtractOrders"),
        ("TaskStateExited", "ExtractOrders"),
        ("ParallelStateExited", "Extract"),
        ("MapStateEntered", "Transform"),
        ("TaskStateEntered", "Enrich"),
        ("TaskStateExited", "Enrich"),
        ("TaskStateEntered", "Enrich"),
        ("TaskStateExited", "Enrich"),
    ]
    mark(graph, [_event(k, i + 1, n) for i, (k, n) in enumerate(kinds)], "RUNNING")
    assert (ids["Extract"], ids["ExtractUsers"]) in graph.taken
    assert (ids["Extract"], ids["ExtractOrders"]) in graph.taken
    assert (ids["Extract"], ids["Transform"]) in graph.taken
    assert (ids["Transform"], ids["Enrich"]) in graph.taken
    assert graph.statuses[ids["Enrich"]] == "succeeded"
    assert graph.statuses[ids["Transform"]] == "running"
    assert (ids["Transform"], ids["Summarise"]) not in graph.taken
