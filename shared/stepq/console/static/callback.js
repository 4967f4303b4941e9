// Answering a task that waits for its token (SendTaskSuccess / SendTaskFailure).
// The token is read from the TaskScheduled event of the state's latest visit, as
// `stepq history` shows it: a string in the resolved parameters whose readable half
// names this execution (core/tokens.py: base64url JSON [executionArn, taskId] "." mac).

import { call } from "./api.js";
import { errorBox, h } from "./dom.js";

function names(text, arn) {
  const [payload, mac] = text.split(".");
  if (!payload || !mac || !/^[A-Za-z0-9_-]+$/.test(payload + mac)) return false;
  try {
    const padded = payload.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((payload.length + 3) % 4);
    const parts = JSON.parse(atob(padded));
    return Array.isArray(parts) && parts[0] === arn;
  } catch {
    return false;
  }
}

function findToken(value, arn) {
  if (typeof value === "string") return names(value, arn) ? value : null;
  if (value && typeof value === "object") {
    for (const item of Object.values(value)) {
      const found = findToken(item, arn);
      if (found) return found;
    }
  }
  return null;
}

// The token the state's latest visit waits with, from the events loaded (null: not seen).
export function waitingToken(events, node, arn) {
  const from = node.visit?.enteredEventId ?? 0;
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i];
    if (event.id < from) break;
    if (event.type !== "TaskScheduled") continue;
    try {
      const found = findToken(JSON.parse(event.taskScheduledEventDetails?.parameters || "null"), arn);
      if (found) return found;
    } catch {
      // parameters that are not JSON hold no token
    }
  }
  return null;
}

export function callbackForm(token, after) {
  const output = h("textarea", { name: "output", rows: 4, spellcheck: "false", "aria-label": "output (JSON)" }, "{}");
  const error = h("input", { name: "error", placeholder: "error (e.g. Rejected)", "aria-label": "error" });
  const cause = h("input", { name: "cause", placeholder: "cause", "aria-label": "cause" });
  const problem = h("div", {});
  const send = async (operation, body) => {
    problem.replaceChildren();
    try {
      await call(operation, { taskToken: token, ...body });
      await after();
    } catch (failure) {
      problem.replaceChildren(errorBox(failure));
    }
  };
  output.addEventListener("input", () => problem.replaceChildren());
  const success = h("button", { type: "button", "data-callback": "success" }, "Send success");
  const failure = h("button", { type: "button", class: "danger", "data-callback": "failure" }, "Send failure");
  success.addEventListener("click", () => {
    try {
      JSON.parse(output.value);
    } catch (bad) {
      problem.replaceChildren(errorBox(new Error(`The output is not JSON: ${bad.message}`)));
      return;
    }
    send("SendTaskSuccess", { output: output.value });
  });
  failure.addEventListener("click", () => {
    const body = {};
    if (error.value.trim()) body.error = error.value.trim();
    if (cause.value.trim()) body.cause = cause.value.trim();
    send("SendTaskFailure", body);
  });
  return h(
    "div",
    { class: "callback" },
    h("h4", {}, "Answer the waiting task"),
    h("label", {}, "Output (JSON)", output),
    h("div", { class: "row" }, success),
    h("div", { class: "row" }, error, cause, failure),
    problem,
  );
}
