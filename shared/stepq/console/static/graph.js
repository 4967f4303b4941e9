// A state machine's graph (from Stepq.GetMachineGraph / GetExecutionGraph) laid out by
// dagre and drawn as SVG. Each state is a <g data-state data-status data-type>;
// clusters are a Parallel's branches and a Map's iterations.

import { s } from "./dom.js";

const START = "__start__";
const END = "__end__";
const CHAR = 7.4; // px per character of the 13px label font, near enough for layout
const LABEL_MAX = 30;

// Long labels lose their middle: a Choice rule's variable starts it and its value ends it.
function short(text) {
  if (text.length <= LABEL_MAX) return text;
  const head = Math.ceil((LABEL_MAX - 1) * 0.4);
  return `${text.slice(0, head)}…${text.slice(text.length - (LABEL_MAX - 1 - head))}`;
}

// Node id -> the id of the innermost cluster holding it.
function homes(model) {
  const home = new Map();
  const walk = (cluster) => {
    for (const member of cluster.nodes) home.set(member, cluster.id);
    cluster.clusters.forEach(walk);
  };
  model.clusters.forEach(walk);
  return home;
}

// An edge into a branch or iteration from its Parallel or Map: the cluster's own label
// names it ("Extract: branch 1"), so the edge goes unlabelled.
function edgeLabel(edge, home) {
  const into = home.get(edge.target);
  return into && home.get(edge.source) !== into ? "" : edge.label || "";
}

function layout(model, withClusters) {
  const dagre = window.dagre;
  const g = new dagre.graphlib.Graph({ compound: withClusters, multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 28, ranksep: 44, edgesep: 12, marginx: 16, marginy: 24 });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(model.nodes.map((n) => n.id));
  for (const node of model.nodes) {
    g.setNode(node.id, { width: Math.max(90, node.name.length * CHAR + 28), height: 36 });
  }
  for (const edge of model.edges) {
    for (const end of [edge.source, edge.target]) {
      if (!ids.has(end) && (end === START || end === END)) {
        g.setNode(end, { width: 18, height: 18 });
        ids.add(end);
      }
    }
  }
  if (withClusters) {
    const place = (cluster, parent) => {
      g.setNode(cluster.id, { label: cluster.label });
      if (parent) g.setParent(cluster.id, parent);
      for (const member of cluster.nodes) g.setParent(member, cluster.id);
      for (const child of cluster.clusters) place(child, cluster.id);
    };
    for (const cluster of model.clusters) place(cluster, null);
  }
  const home = homes(model);
  model.edges.forEach((edge, i) => {
    const label = short(edgeLabel(edge, home));
    g.setEdge(
      edge.source,
      edge.target,
      { label, width: label ? label.length * 6.4 + 8 : 0, height: label ? 16 : 0, labelpos: "c" },
      `e${i}`,
    );
  });
  dagre.layout(g);
  return g;
}

function clustersOf(model) {
  const out = [];
  const walk = (cluster) => {
    out.push(cluster);
    cluster.clusters.forEach(walk);
  };
  model.clusters.forEach(walk);
  return out;
}

function markers() {
  const arrow = (id) =>
    s(
      "marker",
      {
        id,
        viewBox: "0 0 10 10",
        refX: 9,
        refY: 5,
        markerUnits: "userSpaceOnUse", // the same size on thick (taken) edges
        markerWidth: 9,
        markerHeight: 9,
        orient: "auto-start-reverse",
      },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z" }),
    );
  return s("defs", {}, arrow("arrow"), arrow("arrow-taken"));
}

// Draw ``model`` into ``container``; ``onSelect(node)`` when a state is clicked.
export function drawGraph(container, model, { onSelect } = {}) {
  let g;
  try {
    g = layout(model, model.clusters.length > 0);
  } catch (error) {
    console.warn("layout with clusters failed, drawing without them", error);
    g = layout({ ...model, clusters: [] }, false);
  }
  const size = g.graph();
  const width = Math.ceil(size.width || 200);
  const height = Math.ceil(size.height || 100);
  const svg = s("svg", {
    class: "graph",
    xmlns: "http://www.w3.org/2000/svg",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": "state machine graph",
  });
  svg.append(markers());

  for (const cluster of clustersOf(model)) {
    const box = g.node(cluster.id);
    if (!box || box.width === undefined) continue;
    const x = box.x - box.width / 2;
    const y = box.y - box.height / 2;
    svg.append(
      s(
        "g",
        { class: "cluster", "data-cluster": cluster.label },
        s("rect", { x, y, width: box.width, height: box.height, rx: 8 }),
        s("text", { x: x + 6, y: y - 5 }, short(cluster.label)),
      ),
    );
  }

  const home = homes(model);
  model.edges.forEach((edge, i) => {
    const laid = g.edge(edge.source, edge.target, `e${i}`);
    const label = edgeLabel(edge, home);
    if (!laid || !laid.points) return;
    const d = laid.points.map((p, j) => `${j ? "L" : "M"} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(" ");
    const classes = ["edge", edge.dashed ? "dashed" : "", edge.taken ? "taken" : ""].join(" ").trim();
    const group = s(
      "g",
      { class: classes, "data-source": edge.source, "data-target": edge.target },
      s("path", { d, "marker-end": `url(#${edge.taken ? "arrow-taken" : "arrow"})` }),
    );
    if (label && laid.x !== undefined) {
      const text = short(label);
      const w = text.length * 6.4 + 8;
      group.append(
        s("rect", { class: "edge-label-bg", x: laid.x - w / 2, y: laid.y - 8, width: w, height: 16, rx: 3 }),
        s("text", { class: "edge-label", x: laid.x, y: laid.y + 4 }, s("title", {}, label), text),
      );
    }
    svg.append(group);
  });

  for (const end of [START, END]) {
    const box = g.hasNode(end) ? g.node(end) : null;
    if (box) {
      svg.append(s("circle", { class: `terminal ${end === START ? "start" : "end"}`, cx: box.x, cy: box.y, r: 8 }));
    }
  }

  for (const node of model.nodes) {
    const box = g.node(node.id);
    const status = node.status || "";
    const group = s("g", {
      class: `node type-${node.type.toLowerCase()} ${status ? `status-${status}` : ""}`,
      "data-state": node.name,
      "data-status": status || null,
      "data-type": node.type,
      "data-id": node.id,
      tabindex: 0,
    });
    const x = box.x - box.width / 2;
    const y = box.y - box.height / 2;
    const radius = node.type === "Succeed" || node.type === "Fail" ? 18 : node.type === "Choice" ? 2 : 6;
    group.append(
      s("title", {}, `${node.name} (${node.type})${status ? `: ${status.replace("_", " ")}` : ""}`),
      s("rect", { x, y, width: box.width, height: box.height, rx: radius }),
      s("text", { x: box.x, y: box.y + 4.5 }, node.name),
    );
    if (node.visit && node.visit.entries > 1) {
      group.append(s("text", { class: "count", x: x + box.width - 4, y: y + 11 }, `×${node.visit.entries}`));
    }
    if (onSelect) {
      const pick = () => {
        svg.querySelectorAll(".node.selected").forEach((n) => n.classList.remove("selected"));
        group.classList.add("selected");
        onSelect(node);
      };
      group.addEventListener("click", pick);
      group.addEventListener("keydown", (event) => event.key === "Enter" && pick());
    }
    svg.append(group);
  }
  container.append(svg);
  svg.setAttribute("data-graph", "ready");
  return svg;
}

export const LEGEND = ["succeeded", "caught", "failed", "running", "waiting", "not_reached"];

export function legend() {
  return s(
    "svg",
    { class: "legend", width: LEGEND.length * 112, height: 22 },
    LEGEND.map((status, i) =>
      s(
        "g",
        { class: `node status-${status}` },
        s("rect", { x: i * 112 + 1, y: 3, width: 16, height: 16, rx: 3 }),
        s("text", { class: "legend-text", x: i * 112 + 22, y: 16 }, status.replace("_", " ")),
      ),
    ),
  );
}
