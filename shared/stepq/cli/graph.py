"""``stepq graph``: a definition as Mermaid or DOT text (SVG through Graphviz's ``dot``).

The model (nodes, edges, clusters, an execution's statuses) is
``api/graph_model.py``, shared with the console; this module draws it. Each
state an execution entered is coloured by how it went (succeeded, caught,
failed, running, waiting) and the edges it took are drawn thick.
"""

from __future__ import annotations

from stepq.api.graph_model import END, START, Cluster, Edge, Graph, Node, build, mark

__all__ = ["END", "START", "Cluster", "Edge", "Graph", "Node", "build", "dot", "mark", "mermaid"]

STATUS_COLOURS = {
    "succeeded": ("#d4edda", "#2e7d32"),
    "caught": ("#ffe0b2", "#ef6c00"),
    "failed": ("#f8d7da", "#c62828"),
    "running": ("#fff3cd", "#f9a825"),
    "waiting": ("#e1f5fe", "#0277bd"),
}
PATH_COLOUR = "#1565c0"


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
