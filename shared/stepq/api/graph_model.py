"""A state machine as a graph, and an execution's path on it: ``stepq graph`` and the console.

The graph is built from the definition alone: one node per state (nested
Parallel branches and Map iterations as clusters), edges for ``Next``,
``Default``, each Choice rule, each ``Catch`` (dashed, labelled with its
errors) and ``End``. Given an execution's history (Step Functions' event
shapes), each state it entered gets a status (succeeded, caught, failed,
running, waiting on a callback or timer) and the edges it took are marked.
``to_json`` is what ``Stepq.GetMachineGraph``/``GetExecutionGraph`` answer
(``api/graphs.py``); ``cli/graph.py`` draws the same model as Mermaid or DOT.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

START, END = "__start__", "__end__"
TERMINAL = ("Succeed", "Fail")
STATUSES = ("succeeded", "caught", "failed", "running", "waiting")
NOT_REACHED = "not_reached"


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
    # node id -> its latest visit: input, output, error, cause (JSON text as the
    # history shows them), event ids and times, how many times it was entered
    visits: dict[str, dict[str, Any]] = field(default_factory=dict)


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
    """Give the states ``events`` entered a status and mark the edges taken.

    ``events`` are Step Functions history events (``stateEnteredEventDetails``
    ...); ``status`` is the execution's (RUNNING, SUCCEEDED, ...). A state
    still open in a running execution is ``waiting`` when it is a Wait or
    waits for a task token, else ``running``.
    """
    open_states: list[str] = []  # entered, not yet exited (innermost last)
    troubled: set[str] = set()
    waiting: set[str] = set()  # open and waiting for a token
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
            _entered(graph, node, event)
            open_states.append(node)
            trail.append(node)
        elif kind.endswith("StateExited"):
            node = graph.by_name.get(_state_name(event, "stateExitedEventDetails"))
            if node is None:
                continue
            graph.statuses[node] = "caught" if node in troubled else "succeeded"
            _exited(graph, node, event)
            troubled.discard(node)
            waiting.discard(node)
            if node in open_states:
                open_states.remove(node)
            trail.append(node)
        elif kind == "ExecutionRedriven":
            # The states the failed run left open ended with it; the redrive enters anew.
            for node in open_states:
                graph.statuses[node] = "failed"
            open_states.clear()
            waiting.clear()
            troubled.clear()
        elif kind == "TaskScheduled" and open_states:
            resource = str((event.get("taskScheduledEventDetails") or {}).get("resource", ""))
            if resource.endswith("waitForTaskToken"):
                waiting.add(open_states[-1])
        elif (
            kind.endswith(_FAILURE_SUFFIXES)
            and not kind.startswith(("Execution", "MapRun"))
            and open_states
        ):
            troubled.add(open_states[-1])
            waiting.discard(open_states[-1])
            _failure(graph, open_states[-1], event)
        elif kind.endswith("Succeeded") and open_states:
            # A retry that worked (or a token answered): the state did not fail.
            waiting.discard(open_states[-1])
            troubled.discard(open_states[-1])
    for node in open_states:
        if status != "RUNNING":
            graph.statuses[node] = "failed"
        elif node in waiting or graph.nodes[node].type == "Wait":
            graph.statuses[node] = "waiting"
        else:
            graph.statuses[node] = "running"
    if status == "SUCCEEDED" and (trail[-1], END) in pairs:
        graph.taken.add((trail[-1], END))
    for node, value in graph.statuses.items():  # a Fail state "succeeds" at failing
        if graph.nodes[node].type == "Fail" and value == "succeeded":
            graph.statuses[node] = "failed"


def _entered(graph: Graph, node: str, event: Mapping[str, Any]) -> None:
    details = event.get("stateEnteredEventDetails") or {}
    before = graph.visits.get(node, {})
    graph.visits[node] = {
        "entries": int(before.get("entries", 0)) + 1,
        "enteredEventId": event.get("id"),
        "enteredAt": event.get("timestamp"),
        "input": details.get("input"),
    }


def _exited(graph: Graph, node: str, event: Mapping[str, Any]) -> None:
    details = event.get("stateExitedEventDetails") or {}
    visit = graph.visits.setdefault(node, {"entries": 0})
    visit.update(
        exitedEventId=event.get("id"), exitedAt=event.get("timestamp"), output=details.get("output")
    )


def _failure(graph: Graph, node: str, event: Mapping[str, Any]) -> None:
    """The error and cause of the latest failure inside ``node`` (a retry's too)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping) and "error" in value:
            visit = graph.visits.setdefault(node, {"entries": 0})
            visit.update(error=value.get("error"), cause=value.get("cause"))
            visit["failures"] = int(visit.get("failures", 0)) + 1
            return


def _state_name(event: Mapping[str, Any], key: str) -> str:
    details = event.get(key)
    return str(details.get("name", "")) if isinstance(details, Mapping) else ""


def _edge_pairs(graph: Graph) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in graph.edges}


# --- as JSON (the console) --------------------------------------------------------------


def _cluster_json(cluster: Cluster) -> dict[str, Any]:
    return {
        "id": cluster.id,
        "label": cluster.label,
        "nodes": list(cluster.nodes),
        "clusters": [_cluster_json(c) for c in cluster.clusters],
    }


def to_json(graph: Graph, *, marked: bool = False) -> dict[str, Any]:
    """Nodes, edges and clusters as plain JSON; ``marked``: with each state's status
    (``not_reached`` for the states the execution never entered) and its latest visit."""
    nodes = []
    for node in graph.nodes.values():
        item: dict[str, Any] = {"id": node.id, "name": node.name, "type": node.type}
        if marked:
            item["status"] = graph.statuses.get(node.id, NOT_REACHED)
            if node.id in graph.visits:
                item["visit"] = graph.visits[node.id]
        nodes.append(item)
    edges = []
    for edge in graph.edges:
        item = {"source": edge.source, "target": edge.target}
        if edge.label:
            item["label"] = edge.label
        if edge.dashed:
            item["dashed"] = True
        if marked:
            item["taken"] = (edge.source, edge.target) in graph.taken
        edges.append(item)
    return {"nodes": nodes, "edges": edges, "clusters": _cluster_json(graph.top)["clusters"]}
