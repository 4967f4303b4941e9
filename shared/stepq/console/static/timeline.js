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

const SCHEDULED = /^(Task|LambdaFunction|Activity)Scheduled$/;
const ATTEMPT_END = /^(Task|LambdaFunction|Activity)(Succeeded|Failed|TimedOut|StartFailed|SubmitFailed)$/;

// Visits in the order entered: {name, start, end?, failed, attempts: [{start, end?, failed}]}.
// ``types``: state name -> type. Task events carry no iteration or branch, so an attempt
// is given to a visit only while exactly one state that runs tasks is open (not a Map
// or Parallel); under concurrent iterations attempts are not told apart.
export function visits(events, types = {}) {
  const leaf = () => {
    const open = stack.filter((bar) => !["Map", "Parallel"].includes(types[bar.name]));
    return open.length === 1 ? open[0] : null;
  };
  const bars = [];
  const open = new Map(); // state name -> its open visits, oldest first
  const stack = []; // open visits, innermost last
  for (const event of events) {
    const inName = entered(event);
    const outName = exited(event);
    if (inName !== undefined) {
      const bar = { name: inName, start: event.timestamp, end: undefined, failed: false, attempts: [] };
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
    } else if (SCHEDULED.test(event.type)) {
      leaf()?.attempts.push({ start: event.timestamp, end: undefined, failed: false });
    } else if (ATTEMPT_END.test(event.type)) {
      const attempt = leaf()?.attempts.at(-1);
      if (attempt && attempt.end === undefined) {
        attempt.end = event.timestamp;
        attempt.failed = !event.type.endsWith("Succeeded");
      }
      if (attempt?.failed) leaf().failed = true;
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

export function drawTimeline(container, events, { running = false, now = Date.now() / 1000, types = {} } = {}) {
  const all = visits(events, types);
  if (!all.length) {
    container.append(h("p", { class: "muted" }, "No state has been entered yet."));
    return;
  }
  // One row per visit, and under a visit with retries one row per attempt.
  const rows = [];
  for (const bar of all) {
    rows.push(bar);
    if (bar.attempts.length > 1) {
      bar.attempts.forEach((attempt, i) =>
        rows.push({ ...attempt, name: bar.name, label: `↳ attempt ${i + 1}`, attempt: true }),
      );
    }
  }
  const bars = rows.slice(0, MAX_BARS);
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
    let state = bar.failed ? (bar.attempt ? "failed" : "caught") : "done";
    if (bar.abandoned || (bar.end === undefined && !running)) state = "failed";
    else if (bar.end === undefined) state = "open";
    const label = bar.label || (bar.name.length > 24 ? `${bar.name.slice(0, 23)}…` : bar.name);
    svg.append(
      s(
        "g",
        { class: `bar bar-${state}${bar.attempt ? " attempt" : ""}`, "data-state": bar.name },
        s("title", {}, `${bar.name}: ${duration(end - bar.start)}${bar.end === undefined ? " (not exited)" : ""}`),
        s("text", { class: "bar-label", x: LABEL - 6, y: y + 13 }, label),
        s("rect", { x: left, y: y + 3, width: w, height: ROW - 6, rx: 2 }),
        s("text", { class: "bar-time", x: left + w + 4, y: y + 13 }, duration(end - bar.start)),
      ),
    );
  });
  container.append(svg);
  if (rows.length > bars.length) {
    container.append(h("p", { class: "muted" }, `The first ${bars.length} of ${rows.length} bars.`));
  }
}
