// One execution: its graph with each state's status, the chosen state's data, a
// timeline and the event table; refreshed while it runs.

import { call } from "../api.js";
import { arnParts, duration, errorBox, h, pretty, statusBadge, when } from "../dom.js";
import { drawGraph, legend } from "../graph.js";
import { callbackForm, waitingToken } from "../callback.js";
import { drawTimeline } from "../timeline.js";

const EVENTS_PAGE = 500; // a huge history shows its first pages only, more on demand
const REFRESH_MS = 1000;

function dataBlock(title, text, open = false) {
  if (text === undefined || text === null) return "";
  return h("details", { class: "data", open }, h("summary", {}, title), h("pre", {}, pretty(text)));
}

// The resolved parameters of the state's latest task attempt, from the events loaded.
function parameters(node, events) {
  const from = node.visit?.enteredEventId;
  if (from === undefined) return undefined;
  for (let i = events.length - 1; i >= 0 && events[i].id >= from; i--) {
    const event = events[i];
    if (event.type === "TaskScheduled") return event.taskScheduledEventDetails?.parameters;
    if (event.type === "LambdaFunctionScheduled") return event.lambdaFunctionScheduledEventDetails?.input;
    if (event.type === "ActivityScheduled") return event.activityScheduledEventDetails?.input;
  }
  return undefined;
}

function answer(node, context) {
  if (node.status !== "waiting" || node.type !== "Task") return "";
  const token = waitingToken(context.events, node, context.arn);
  if (!token) return h("p", { class: "muted" }, "Its task token is not among the events shown.");
  return callbackForm(token, context.after);
}

function statePanel(panel, node, context) {
  const visit = node.visit || {};
  panel.replaceChildren(
    h("h3", {}, node.name, " ", statusBadge(node.status)),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "type"),
      h("dd", {}, node.type),
      visit.entries ? [h("dt", {}, "entered"), h("dd", {}, `${visit.entries} time${visit.entries > 1 ? "s" : ""}`)] : "",
      visit.failures ? [h("dt", {}, "failures"), h("dd", {}, `${visit.failures} (retries included)`)] : "",
      visit.enteredAt ? [h("dt", {}, "last entered"), h("dd", { class: "mono" }, when(visit.enteredAt))] : "",
      visit.exitedAt && visit.enteredAt
        ? [h("dt", {}, "took"), h("dd", {}, duration(visit.exitedAt - visit.enteredAt))]
        : "",
    ),
    visit.error ? h("div", { class: "error" }, h("b", {}, visit.error), visit.cause ? h("pre", {}, pretty(visit.cause)) : "") : "",
    dataBlock("Input", visit.input, true),
    dataBlock("Parameters (the task's latest attempt)", parameters(node, context.events)),
    dataBlock("Output", visit.output, true),
    node.status === "not_reached" ? h("p", { class: "muted" }, "This state was not reached.") : "",
    answer(node, context),
  );
  panel.setAttribute("data-selected", node.name);
}

function details(event) {
  const key = Object.keys(event).find((k) => k.endsWith("EventDetails"));
  return key ? event[key] : null;
}

function summary(info) {
  if (!info) return "";
  const parts = [];
  for (const name of ["name", "resourceType", "resource", "error"]) if (info[name]) parts.push(info[name]);
  return parts.join(" · ");
}

function eventRows(events, t0) {
  return events.map((event) => {
    const info = details(event);
    const failed = /(Failed|TimedOut|Aborted)$/.test(event.type);
    return h(
      "tr",
      { "data-event": event.id, class: failed ? "failed" : "" },
      h("td", { class: "num" }, event.id),
      h("td", {}, event.type),
      h("td", {}, summary(info)),
      h("td", { class: "mono" }, `+${duration(event.timestamp - t0)}`),
      h("td", {}, info ? h("details", {}, h("summary", {}, "details"), h("pre", {}, JSON.stringify(info, null, 2))) : ""),
    );
  });
}

// A button that asks once more before it acts (no window.confirm: it blocks the page).
function guarded(label, question, act) {
  const box = h("span", { class: "action" });
  const start = h("button", { type: "button", "data-action": label.toLowerCase() }, label);
  const sure = h("button", { type: "button", class: "danger", "data-confirm": label.toLowerCase() }, `Yes, ${label.toLowerCase()}`);
  const cancel = h("button", { type: "button" }, "Cancel");
  const ask = h("span", { class: "confirm" }, `${question} `, sure, " ", cancel);
  const idle = () => box.replaceChildren(start);
  start.addEventListener("click", () => box.replaceChildren(ask));
  cancel.addEventListener("click", idle);
  sure.addEventListener("click", async () => {
    sure.disabled = true;
    try {
      await act();
    } catch (error) {
      box.replaceChildren(start, errorBox(error));
    }
  });
  idle();
  return box;
}

function actions(execution, arn, after) {
  const bar = h("div", { class: "actions" });
  if (execution.status === "RUNNING") {
    bar.append(
      guarded("Stop", "Stop this execution?", async () => {
        await call("StopExecution", { executionArn: arn, error: "StoppedFromConsole" });
        await after();
      }),
    );
  }
  if (["FAILED", "TIMED_OUT", "ABORTED"].includes(execution.status)) {
    if (execution.redriveStatus === "NOT_REDRIVABLE") {
      bar.append(h("span", { class: "muted" }, `Not redrivable: ${execution.redriveStatusReason || ""}`));
    } else {
      bar.append(
        guarded("Redrive", "Run it again from where it failed?", async () => {
          await call("RedriveExecution", { executionArn: arn });
          await after();
        }),
      );
    }
  }
  return bar;
}

// A Distributed Map's runs (ListMapRuns + DescribeMapRun): status and item counts.
async function mapRuns(box, arn) {
  const listed = await call("ListMapRuns", { executionArn: arn });
  if (!listed.mapRuns.length) {
    box.replaceChildren();
    return;
  }
  const runs = await Promise.all(listed.mapRuns.map((run) => call("DescribeMapRun", { mapRunArn: run.mapRunArn })));
  const cells = ["Map run", "Status", "Items: succeeded", "failed", "running", "pending", "total", "Max concurrency", "Tolerated failures", "Took"];
  box.replaceChildren(
    h("h2", {}, "Map runs"),
    h(
      "table",
      { class: "list map-runs" },
      h("thead", {}, h("tr", {}, cells.map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        runs.map((run) => {
          const items = run.itemCounts || {};
          const end = run.stopDate ?? Date.now() / 1000;
          return h(
            "tr",
            { "data-map-run": run.mapRunArn.split("/").pop(), "data-status": run.status },
            h("td", { class: "mono" }, run.mapRunArn.split(":").pop()),
            h("td", {}, statusBadge(run.status)),
            ["succeeded", "failed", "running", "pending", "total"].map((k) => h("td", { class: "num", "data-count": k }, items[k] ?? 0)),
            h("td", { class: "num" }, run.maxConcurrency || "no limit"),
            h("td", {}, `${run.toleratedFailurePercentage ?? 0}% or ${run.toleratedFailureCount ?? 0}`),
            h("td", {}, duration(end - run.startDate)),
          );
        }),
      ),
    ),
  );
}

export async function executionPage(main, arn, route) {
  const head = h("div", { class: "exec-head" });
  const graphBox = h("div", { class: "graph-box" });
  const panel = h("aside", { class: "state-panel" }, h("p", { class: "muted" }, "Click a state to see its input, output and error."));
  const timelineBox = h("div", { class: "timeline-box" });
  const mapRunsBox = h("section", { class: "map-runs-box" });
  const eventsBox = h("div", { class: "events-box" });
  main.append(
    head,
    h("section", {}, h("h2", {}, "Graph"), legend(), h("div", { class: "graph-row" }, graphBox, panel)),
    mapRunsBox,
    h("section", {}, h("h2", {}, "Timeline"), timelineBox),
    h("section", {}, h("h2", {}, "Events"), eventsBox),
  );
  let headKey = "";
  let eventsKey = -1;
  let selected = null;
  let shown = ""; // the selected node as the panel shows it
  const context = { arn, events: [], after: () => loop() };
  let events = [];
  let nextToken;

  const loadEvents = async () => {
    // The first page(s) again (a running execution grows); more pages only on demand.
    const pages = Math.max(1, Math.ceil(events.length / EVENTS_PAGE));
    const fresh = [];
    let token;
    for (let i = 0; i < pages; i++) {
      const page = await call("GetExecutionHistory", { executionArn: arn, maxResults: EVENTS_PAGE, ...(token ? { nextToken: token } : {}) });
      fresh.push(...page.events);
      token = page.nextToken;
      if (!token) break;
    }
    events = fresh;
    context.events = events;
    nextToken = token;
  };

  const drawEvents = () => {
    const t0 = events.length ? events[0].timestamp : 0;
    const more = h("button", { type: "button", "data-more": "events" }, "Load more events");
    more.addEventListener("click", async () => {
      const page = await call("GetExecutionHistory", { executionArn: arn, maxResults: EVENTS_PAGE, nextToken });
      events.push(...page.events);
      context.events = events;
      nextToken = page.nextToken;
      eventsKey = events.length ? events[events.length - 1].id : 0;
      drawEvents();
    });
    eventsBox.replaceChildren(
      h(
        "table",
        { class: "list events", "data-events": events.length },
        h("thead", {}, h("tr", {}, ["#", "Type", "Step", "Time", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, eventRows(events, t0)),
      ),
      nextToken ? h("div", { class: "pager" }, h("span", { class: "muted" }, `${events.length} events shown`), more) : "",
    );
  };

  const refresh = async () => {
    // The graph first, then the events: events at least as new as the status, so a
    // finished execution never shows a state still open in its timeline.
    const found = await call("Stepq.GetExecutionGraph", { executionArn: arn });
    await loadEvents();
    if (found.graph.nodes.some((n) => n.type === "Map")) await mapRuns(mapRunsBox, arn);
    if (!route.current()) return null;
    const execution = found.execution;
    const running = execution.status === "RUNNING";
    const end = execution.stopDate ?? Date.now() / 1000;
    const took = () => `${running ? "running for" : "took"} ${duration(end - execution.startDate)}`;
    // The head is redrawn only when the execution changed: a Stop half confirmed or
    // an opened input survives the refreshes of a running execution.
    const key = JSON.stringify([execution.status, execution.redriveCount, execution.redriveStatus, execution.error, execution.stopDate]);
    if (key !== headKey) {
      headKey = key;
      head.replaceChildren(
        h("h1", {}, execution.name, " ", statusBadge(execution.status)),
        actions(execution, arn, loop),
        h(
          "p",
          { class: "meta" },
          "state machine ",
          h("a", { href: `#/machine/${encodeURIComponent(execution.stateMachineArn)}` }, arnParts(execution.stateMachineArn).machine),
          ` · started ${when(execution.startDate)} UTC · `,
          h("span", { class: "took" }, took()),
          execution.redriveCount ? ` · redriven ×${execution.redriveCount}` : "",
          running ? h("span", { class: "live", "data-live": "on" }, " · live") : "",
        ),
        execution.error ? h("div", { class: "error" }, h("b", {}, execution.error), execution.cause ? h("pre", {}, pretty(execution.cause)) : "") : "",
        h("div", { class: "io" }, dataBlock("Execution input", execution.input), dataBlock("Execution output", execution.output)),
        h("p", { class: "arn mono" }, arn),
      );
    } else {
      head.querySelector(".took").textContent = took();
    }
    const { scrollTop, scrollLeft } = graphBox; // a live redraw keeps where the reader looks
    graphBox.replaceChildren();
    drawGraph(graphBox, found.graph, {
      onSelect: (node) => {
        selected = node.name;
        shown = JSON.stringify(node);
        statePanel(panel, node, context);
      },
    });
    if (selected) {
      const node = found.graph.nodes.find((n) => n.name === selected);
      const group = [...graphBox.querySelectorAll(".node")].find((g) => g.dataset.state === selected);
      if (node && group) {
        group.classList.add("selected");
        // Redrawn only when the state changed: a half-typed answer survives a refresh.
        if (JSON.stringify(node) !== shown) {
          shown = JSON.stringify(node);
          statePanel(panel, node, context);
        }
      }
    }
    graphBox.scrollTop = scrollTop;
    graphBox.scrollLeft = scrollLeft;
    timelineBox.replaceChildren();
    const types = Object.fromEntries(found.graph.nodes.map((n) => [n.name, n.type]));
    drawTimeline(timelineBox, events, { running, types });
    const last = events.length ? events[events.length - 1].id : 0;
    if (last !== eventsKey) {
      eventsKey = last; // unchanged events keep their opened details
      drawEvents();
    }
    main.setAttribute("data-execution-status", execution.status);
    return running;
  };

  let scheduled = false; // one refresh timer at a time, however often loop() is called
  let wasRunning = false;
  const loop = async () => {
    let running;
    try {
      running = await refresh();
    } catch (error) {
      if (!route.current()) return;
      head.replaceChildren(errorBox(error));
      headKey = "";
      running = wasRunning; // a passing failure: a running execution is tried again
    }
    wasRunning = Boolean(running);
    if (running && route.current() && !scheduled) {
      scheduled = true;
      route.later(() => {
        scheduled = false;
        loop();
      }, REFRESH_MS);
    }
  };
  await loop();
}
