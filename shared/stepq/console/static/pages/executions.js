// Executions: counts by status, filters (machine, status, name prefix, machine tag, time), pages via nextToken.

import { call } from "../api.js";
import { arnParts, duration, errorBox, h, statusBadge, when } from "../dom.js";

const STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];
const PAGE = 50;

function filtersFrom(query) {
  return {
    machine: query.get("machine") || "",
    status: query.get("status") || "",
    prefix: query.get("prefix") || "",
    tag: query.get("tag") || "", // `key=value` or `key`: the state machine's tag
    after: query.get("after") || "", // started at or after (UTC, as datetime-local text)
    before: query.get("before") || "", // started before (UTC)
  };
}

// The time range as the API takes it: ISO-8601 text without an offset is UTC.
function range(filters) {
  const out = {};
  if (filters.after) out.startedAfter = filters.after;
  if (filters.before) out.startedBefore = filters.before;
  return out;
}

// The tag filter as the API takes it: `key=value`, or `key` for the key with any value.
function tagged(filters) {
  if (!filters.tag) return {};
  const at = filters.tag.indexOf("=");
  const tag = at < 0 ? { key: filters.tag } : { key: filters.tag.slice(0, at).trim(), value: filters.tag.slice(at + 1).trim() };
  return { tags: [tag] };
}

function go(filters) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
  location.hash = `#/executions${query.toString() ? `?${query}` : ""}`;
}

async function machineNames() {
  const names = [];
  let token;
  do {
    const page = await call("ListStateMachines", token ? { nextToken: token } : {});
    names.push(...page.stateMachines.map((m) => m.name));
    token = page.nextToken;
  } while (token);
  return names.sort();
}

function filterForm(filters, names) {
  const machine = h(
    "select",
    { name: "machine", "aria-label": "state machine" },
    h("option", { value: "" }, "all machines"),
    names.map((n) => h("option", { value: n, selected: n === filters.machine }, n)),
  );
  const status = h(
    "select",
    { name: "status", "aria-label": "status" },
    h("option", { value: "" }, "any status"),
    STATUSES.map((st) => h("option", { value: st, selected: st === filters.status }, st)),
  );
  const prefix = h("input", {
    name: "prefix",
    type: "search",
    placeholder: "name prefix",
    value: filters.prefix,
    "aria-label": "name prefix",
  });
  const tag = h("input", {
    name: "tag",
    type: "search",
    placeholder: "machine tag: key=value or key",
    value: filters.tag,
    "aria-label": "state machine tag (key=value or key)",
  });
  const after = h("input", { name: "after", type: "datetime-local", value: filters.after, "aria-label": "started at or after (UTC)" });
  const before = h("input", { name: "before", type: "datetime-local", value: filters.before, "aria-label": "started before (UTC)" });
  const form = h(
    "form",
    { class: "filters" },
    machine,
    status,
    prefix,
    tag,
    h("label", { class: "muted" }, "started from ", after),
    h("label", { class: "muted" }, " to ", before, " UTC"),
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go({
      machine: machine.value,
      status: status.value,
      prefix: prefix.value.trim(),
      tag: tag.value.trim(),
      after: after.value,
      before: before.value,
    });
  });
  machine.addEventListener("change", () => form.requestSubmit());
  status.addEventListener("change", () => form.requestSubmit());
  return form;
}

function countsBar(counts, filters) {
  const bar = h("div", { class: "counts", "data-total": counts.total });
  bar.append(
    h("a", { href: "#", class: filters.status ? "" : "active", "data-count": "ALL" },
      h("b", {}, counts.total + (counts.truncated ? "+" : "")), " all"),
  );
  for (const status of STATUSES) {
    const n = counts.counts[status] || 0;
    if (!n && status !== "RUNNING" && status !== "FAILED") continue;
    const link = h(
      "a",
      { href: "#", class: `status-${status.toLowerCase()} ${filters.status === status ? "active" : ""}`, "data-count": status },
      h("b", {}, n),
      ` ${status.toLowerCase().replace("_", " ")}`,
    );
    link.addEventListener("click", (event) => {
      event.preventDefault();
      go({ ...filters, status });
    });
    bar.append(link);
  }
  bar.firstChild.addEventListener("click", (event) => {
    event.preventDefault();
    go({ ...filters, status: "" });
  });
  return bar;
}

function table(executions) {
  if (!executions.length) return h("p", { class: "muted empty" }, "No executions match.");
  return h(
    "table",
    { class: "list executions" },
    h("thead", {}, h("tr", {}, ["Name", "State machine", "Status", "Started (UTC)", "Duration"].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      executions.map((e) => {
        const end = e.stopDate ?? Date.now() / 1000;
        return h(
          "tr",
          { "data-execution": e.name, "data-status": e.status },
          h("td", {}, h("a", { href: `#/execution/${encodeURIComponent(e.executionArn)}` }, e.name)),
          h("td", {}, h("a", { href: `#/machine/${encodeURIComponent(e.stateMachineArn)}` }, arnParts(e.stateMachineArn).machine)),
          h("td", {}, statusBadge(e.status), e.redriveCount ? h("span", { class: "muted" }, ` redriven ×${e.redriveCount}`) : ""),
          h("td", { class: "mono" }, when(e.startDate)),
          h("td", {}, duration(end - e.startDate)),
        );
      }),
    ),
  );
}

export async function executionsPage(main, query) {
  const filters = filtersFrom(query);
  main.append(h("h1", {}, "Executions"));
  const [names, counts] = await Promise.all([
    machineNames(),
    call("Stepq.CountExecutions", {
      ...(filters.machine ? { stateMachineName: filters.machine } : {}),
      ...(filters.prefix ? { namePrefix: filters.prefix } : {}),
      ...tagged(filters),
      ...range(filters),
    }),
  ]);
  main.append(countsBar(counts, filters), filterForm(filters, names));
  const holder = h("div", { class: "page-holder" });
  main.append(holder);
  const tokens = [undefined]; // the token of each page seen, so Newer can go back
  let index = 0;
  const show = async () => {
    const request = { maxResults: PAGE };
    if (filters.machine) request.stateMachineName = filters.machine;
    if (filters.status) request.statusFilter = filters.status;
    if (filters.prefix) request.namePrefix = filters.prefix;
    Object.assign(request, tagged(filters), range(filters));
    if (tokens[index]) request.nextToken = tokens[index];
    let page;
    try {
      page = await call("Stepq.SearchExecutions", request);
    } catch (error) {
      holder.replaceChildren(errorBox(error));
      return;
    }
    tokens[index + 1] = page.nextToken;
    const newer = h("button", { type: "button", disabled: index === 0, "data-page": "newer" }, "← Newer");
    const older = h("button", { type: "button", disabled: !page.nextToken, "data-page": "older" }, "Older →");
    newer.addEventListener("click", () => {
      index -= 1;
      show();
    });
    older.addEventListener("click", () => {
      index += 1;
      show();
    });
    holder.replaceChildren(
      table(page.executions),
      h("div", { class: "pager" }, newer, h("span", { class: "muted" }, `page ${index + 1}`), older),
    );
  };
  await show();
}
