"""``stepq graph``: a definition as Mermaid or DOT text (SVG through Graphviz's ``dot``).

The picture is built from the definition alone: one node per state (nested
Parallel branches and Map iterations as subgraphs), edges for ``Next``,
``Default``, each Choice rule, each ``Catch`` (dashed, labelled with its
errors) and ``End``. Given an execution's history (Step Functions' event
shapes), each state it entered is coloured by how it went (succeeded, caught,
failed, running) and the edges it took are drawn thick.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

START, END = "__start__", "__end__"
TERMINAL = ("Succeed", "Fail")
STATUS_COLOURS = {
    "succeeded": ("#d4edda", "#2e7d32"),
    "caught": ("#ffe0b2", "#ef6c00"),
    "failed": ("#f8d7da", "#c62828"),
    "running": ("#fff3cd", "#f9a825"),
}
PATH_COLOUR = "#1565c0"


@dataclass(slots=True)
class Node:
    id: str
    name: str
    type: str


@dataclass(slots=True)
class Edge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass(slots=True)
class Cluster:
    id: str
    label: str
    nodes: list[str] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)


@dataclass(slots=True)
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)  # by node id
    edges: list[Edge] = field(default_factory=list)
    top: Cluster = field(default_factory=lambda: Cluster("top", ""))
    by_name: dict[str, str] = field(default_factory=dict)  # state name -> node id
    statuses: dict[str, str] = field(default_factory=dict)  # node id -> status
    taken: set[tuple[str, str]] = field(default_factory=set)


def build(definition: Mapping[str, Any]) -> Graph:
    """The graph of a definition (a dict with ``StartAt`` and ``States``)."""
    graph = Graph()
    first = _scope(graph, definition, graph.top, [0])
    if first:
        graph.edges.insert(0, Edge(START, first))
    return graph


def _scope(graph: Graph, scope: Mapping[str, Any], cluster: Cluster, counter: list[int]) -> str:
    """Add the states of one scope; the node id of its StartAt ("" if missing)."""
    states = scope.get("States")
    if not isinstance(states, Mapping):
        return ""
    ids: dict[str, str] = {}
    for name, state in states.items():
        node_id = f"s{len(graph.nodes)}"
        kind = str(state.get("Type", "?")) if isinstance(state, Mapping) else "?"
        graph.nodes[node_id] = Node(node_id, str(name), kind)
        graph.by_name.setdefault(str(name), node_id)
        ids[str(name)] = node_id
        cluster.nodes.append(node_id)
    top_level = cluster is graph.top
    for name, state in states.items():
        if isinstance(state, Mapping):
            _edges(graph, ids[str(name)], state, ids, top_level, cluster, counter)
    return ids.get(str(scope.get("StartAt", "")), "")


def _edges(
    graph: Graph,
    node_id: str,
    state: Mapping[str, Any],
    ids: Mapping[str, str],
    top_level: bool,
    cluster: Cluster,
    counter: list[int],
) -> None:
    def link(target: Any, label: str = "", dashed: bool = False) -> None:
        if isinstance(target, str) and target in ids:
            graph.edges.append(Edge(node_id, ids[target], label, dashed))

    link(state.get("Next"))
    for i, rule in enumerate(state.get("Choices") or []):
        if isinstance(rule, Mapping):
            link(rule.get("Next"), _rule_label(rule, i))
    link(state.get("Default"), "default")
    for catcher in state.get("Catch") or []:
        if isinstance(catcher, Mapping):
            errors = catcher.get("ErrorEquals") or []
            link(catcher.get("Next"), ", ".join(map(str, errors)), dashed=True)
    if top_level and (state.get("End") is True or state.get("Type") in TERMINAL):
        graph.edges.append(Edge(node_id, END))
    children: list[tuple[str, Mapping[str, Any]]] = []
    for i, branch in enumerate(state.get("Branches") or []):
        if isinstance(branch, Mapping):
            children.append((f"branch {i + 1}", branch))
    processor = state.get("ItemProcessor") or state.get("Iterator")
    if isinstance(processor, Mapping):
        children.append(("each item", processor))
    for label, scope in children:
        counter[0] += 1
        child = Cluster(f"c{counter[0]}", f"{graph.nodes[node_id].name}: {label}")
        cluster.clusters.append(child)
        first = _scope(graph, scope, child, counter)
        if first:
            graph.edges.append(Edge(node_id, first, label, dashed=True))


def _rule_label(rule: Mapping[str, Any], index: int) -> str:
    if isinstance(rule.get("Condition"), str):
        text = rule["Condition"]
    else:
        variable = rule.get("Variable", "")
        ops = [k for k in rule if k not in ("Variable", "Next", "Comment", "Assign", "Output")]
        op = ops[0] if ops else ""
        value = rule.get(op) if op else ""
        text = f"{variable} {op} {json.dumps(value)}" if variable and op else f"rule {index + 1}"
    return text if len(text) <= 60 else text[:59] + "…"


# --- an execution's path ---------------------------------------------------------------

_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")


def mark(graph: Graph, events: Iterable[Mapping[str, Any]], status: str) -> None:
    """Colour the states ``events`` entered and thicken the edges taken.

    ``events`` are Step Functions history events (``stateEnteredEventDetails``
    ...); ``status`` is the execution's (RUNNING, SUCCEEDED, ...).
    """
    open_states: list[str] = []  # entered, not yet exited (innermost last)
    troubled: set[str] = set()
    trail = [START]  # nodes in the order entered or exited
    pairs = _edge_pairs(graph)
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            node = graph.by_name.get(_state_name(event, "stateEnteredEventDetails"))
            if node is None:
                continue
            # The edge in: from the latest node that has one (a branch's first state
            # is entered from its Parallel, the next iteration's from its Map).
            source = next((n for n in reversed(trail[-64:]) if (n, node) in pairs), None)
            if source is not None:
                graph.taken.add((source, node))
            graph.statuses[node] = "running"
            open_states.append(node)
            trail.append(node)
        elif kind.endswith("StateExited"):
            node = graph.by_name.get(_state_name(event, "stateExitedEventDetails"))
            if node is None:
                continue
            graph.statuses[node] = "caught" if node in troubled else "succeeded"
            troubled.discard(node)
            if node in open_states:
                open_states.remove(node)
            trail.append(node)
        elif (
            kind.endswith(_FAILURE_SUFFIXES)
            and not kind.startswith(("Execution", "MapRun"))
            and open_states
        ):
            troubled.add(open_states[-1])
    for node in open_states:
        graph.statuses[node] = "running" if status == "RUNNING" else "failed"
    if status == "SUCCEEDED" and (trail[-1], END) in pairs:
        graph.taken.add((trail[-1], END))
    for node, value in graph.statuses.items():  # a Fail state "succeeds" at failing
        if graph.nodes[node].type == "Fail" and value == "succeeded":
            graph.statuses[node] = "failed"


def _state_name(event: Mapping[str, Any], key: str) -> str:
    details = event.get(key)
    return str(details.get("name", "")) if isinstance(details, Mapping) else ""


def _edge_pairs(graph: Graph) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in graph.edges}


# --- Mermaid ----------------------------------------------------------------------------

_MERMAID_SHAPES = {
    "Choice": ("{", "}"),
    "Succeed": ("([", "])"),
    "Fail": ("([", "])"),
    "Parallel": ("[[", "]]"),
    "Map": ("[[", "]]"),
    "Pass": ("(", ")"),
    "Wait": ("(", ")"),
}


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("\n", " ") + '"'


def mermaid(graph: Graph) -> str:
    lines = ["flowchart TD", f"    {START}((start))"]
    if any(e.target == END for e in graph.edges):
        lines.append(f"    {END}((end))")
    _mermaid_cluster(graph, graph.top, lines, "    ")
    for edge in graph.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f"|{_mermaid_text(edge.label)}|" if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    for status, (fill, stroke) in STATUS_COLOURS.items():
        members = sorted(n for n, s in graph.statuses.items() if s == status)
        if members:
            lines.append(f"    classDef {status} fill:{fill},stroke:{stroke},stroke-width:2px")
            lines.append(f"    class {','.join(members)} {status}")
    taken = [str(i) for i, e in enumerate(graph.edges) if (e.source, e.target) in graph.taken]
    if taken:
        lines.append(f"    linkStyle {','.join(taken)} stroke:{PATH_COLOUR},stroke-width:3px")
    return "\n".join(lines) + "\n"


def _mermaid_cluster(graph: Graph, cluster: Cluster, lines: list[str], indent: str) -> None:
    for node_id in cluster.nodes:
        node = graph.nodes[node_id]
        left, right = _MERMAID_SHAPES.get(node.type, ("[", "]"))
        lines.append(f"{indent}{node_id}{left}{_mermaid_text(node.name)}{right}")
    for child in cluster.clusters:
        lines.append(f"{indent}subgraph {child.id}[{_mermaid_text(child.label)}]")
        _mermaid_cluster(graph, child, lines, indent + "    ")
        lines.append(f"{indent}end")


# --- DOT --------------------------------------------------------------------------------

_DOT_SHAPES = {
    "Choice": "diamond",
    "Succeed": "oval",
    "Fail": "oval",
    "Parallel": "box3d",
    "Map": "box3d",
}


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(graph: Graph, title: str = "stepq") -> str:
    lines = [
        f"digraph {_dot_text(title)} {{",
        "    rankdir=TB;",
        '    node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        f'    {START} [shape=circle, label="", width=0.25, fillcolor=black];',
    ]
    if any(e.target == END for e in graph.edges):
        lines.append(f'    {END} [shape=doublecircle, label="", width=0.2, fillcolor=black];')
    _dot_cluster(graph, graph.top, lines, "    ")
    for edge in graph.edges:
        attrs = []
        if edge.label:
            attrs.append(f"label={_dot_text(edge.label)}")
        if edge.dashed:
            attrs.append("style=dashed")
        if (edge.source, edge.target) in graph.taken:
            attrs.append(f'color="{PATH_COLOUR}", penwidth=3')
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"    {edge.source} -> {edge.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_cluster(graph: Graph, cluster: Cluster, lines: list[str], indent: str) -> None:
    for node_id in cluster.nodes:
        node = graph.nodes[node_id]
        attrs = [f"label={_dot_text(node.name)}"]
        if node.type in _DOT_SHAPES:
            attrs.append(f"shape={_DOT_SHAPES[node.type]}")
        status = graph.statuses.get(node_id)
        if status:
            fill, stroke = STATUS_COLOURS[status]
            attrs.append(f'fillcolor="{fill}", color="{stroke}", penwidth=2')
            attrs.append(f"tooltip={_dot_text(status)}")
        lines.append(f"{indent}{node_id} [{', '.join(attrs)}];")
    for child in cluster.clusters:
        lines.append(f"{indent}subgraph cluster_{child.id} {{")
        lines.append(f"{indent}    label={_dot_text(child.label)}; style=dashed;")
        _dot_cluster(graph, child, lines, indent + "    ")
        lines.append(f"{indent}}}")


def svg(dot_source: str) -> str:
    """``dot_source`` rendered by Graphviz's ``dot``; ``GraphvizMissing`` without it."""
    import shutil
    import subprocess

    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing(
            "--format svg needs Graphviz's dot program, which is not installed "
            "(apt install graphviz / brew install graphviz), or use --format dot"
        )
    try:
        done = subprocess.run(
            [program, "-Tsvg"], input=dot_source, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraphvizMissing(f"running {program} failed: {exc}") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        raise GraphvizMissing(f"{program} failed (exit {done.returncode}): {first}")
    return done.stdout


class GraphvizMissing(Exception):
    """SVG was asked for and Graphviz's ``dot`` could not make it."""
