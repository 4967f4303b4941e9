// A simple timeline from history events: one bar per visit of a state (StateEntered ->
// StateExited), time on the x axis. Drawn from the events loaded so far only.

import { duration, h, s } from "./dom.js";

const ROW = 20;
const LABEL = 170;
const MAX_BARS = 300;

function entered(event) {
  return event.type.endsWith("StateEntered") ? event.stateEnteredEventDetails?.name : undefined;
}

function exited(event) {
  return event.type.endsWith("StateExited") ? event.stateExitedEventDetails?.name : undefined;
}

// Visits in the order entered: {name, start, end?, failed}.
export function visits(events) {
  const bars = [];
  const open = new Map(); // state name -> its open visits, oldest first
  const stack = []; // open visits, innermost last
  for (const event of events) {
    const inName = entered(event);
    const outName = exited(event);
    if (inName !== undefined) {
      const bar = { name: inName, start: event.timestamp, end: undefined, failed: false };
      bars.push(bar);
      if (!open.has(inName)) open.set(inName, []);
      open.get(inName).push(bar);
      stack.push(bar);
    } else if (outName !== undefined) {
      const bar = open.get(outName)?.shift();
      if (bar) {
        bar.end = event.timestamp;
        stack.splice(stack.indexOf(bar), 1);
      }
    } else if (event.type === "ExecutionRedriven") {
      // What the failed run left open ended with it; the redrive enters those states anew.
      for (const bar of stack) {
        bar.end = event.timestamp;
        bar.abandoned = true;
      }
      stack.length = 0;
      open.clear();
    } else if (/(Failed|TimedOut|Aborted)$/.test(event.type) && !event.type.startsWith("Execution") && stack.length) {
      stack[stack.length - 1].failed = true;
    }
  }
  return bars;
}

export function drawTimeline(container, events, { running = false, now = Date.now() / 1000 } = {}) {
  const all = visits(events);
  if (!all.length) {
    container.append(h("p", { class: "muted" }, "No state has been entered yet."));
    return;
  }
  const bars = all.slice(0, MAX_BARS);
  const t0 = events[0].timestamp;
  let t1 = events[events.length - 1].timestamp;
  if (running) t1 = Math.max(t1, now);
  const span = Math.max(t1 - t0, 0.001);
  const width = Math.max(container.clientWidth || 900, 500);
  const plot = width - LABEL - 70;
  const x = (t) => LABEL + ((t - t0) / span) * plot;
  const svg = s("svg", { class: "timeline", width, height: bars.length * ROW + 26, "data-bars": bars.length });
  svg.append(
    s("text", { class: "axis", x: LABEL, y: 12 }, "0"),
    s("text", { class: "axis end", x: LABEL + plot, y: 12 }, duration(span)),
  );
  bars.forEach((bar, i) => {
    const y = 20 + i * ROW;
    const end = bar.end ?? t1;
    const left = x(bar.start);
    const w = Math.max(x(end) - left, 2);
    let state = bar.failed ? "caught" : "done";
    if (bar.abandoned || (bar.end === undefined && !running)) state = "failed";
    else if (bar.end === undefined) state = "open";
    svg.append(
      s(
        "g",
        { class: `bar bar-${state}`, "data-state": bar.name },
        s("title", {}, `${bar.name}: ${duration(end - bar.start)}${bar.end === undefined ? " (not exited)" : ""}`),
        s("text", { class: "bar-label", x: LABEL - 6, y: y + 13 }, bar.name.length > 24 ? `${bar.name.slice(0, 23)}…` : bar.name),
        s("rect", { x: left, y: y + 3, width: w, height: ROW - 6, rx: 2 }),
        s("text", { class: "bar-time", x: left + w + 4, y: y + 13 }, duration(end - bar.start)),
      ),
    );
  });
  container.append(svg);
  if (all.length > bars.length) {
    container.append(h("p", { class: "muted" }, `The first ${bars.length} of ${all.length} state visits.`));
  }
}
