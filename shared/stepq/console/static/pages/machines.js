// State machines: the list, and one machine's definition graph, versions, aliases and ASL.

import { call } from "../api.js";
import { h, when } from "../dom.js";
import { drawGraph } from "../graph.js";

export async function machinesPage(main) {
  main.append(h("h1", {}, "State machines"));
  const machines = [];
  let token;
  do {
    const page = await call("ListStateMachines", { maxResults: 1000, ...(token ? { nextToken: token } : {}) });
    machines.push(...page.stateMachines);
    token = page.nextToken;
  } while (token);
  if (!machines.length) {
    main.append(h("p", { class: "muted empty" }, "No state machines yet: create one with `stepq create FILE`."));
    return;
  }
  main.append(
    h(
      "table",
      { class: "list machines" },
      h("thead", {}, h("tr", {}, ["Name", "Type", "Created (UTC)", ""].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        machines.map((m) =>
          h(
            "tr",
            { "data-machine": m.name },
            h("td", {}, h("a", { href: `#/machine/${encodeURIComponent(m.stateMachineArn)}` }, m.name)),
            h("td", {}, m.type),
            h("td", { class: "mono" }, when(m.creationDate)),
            h("td", {}, h("a", { href: `#/executions?machine=${encodeURIComponent(m.name)}` }, "executions")),
          ),
        ),
      ),
    ),
  );
}

export async function machinePage(main, arn) {
  const [found, versions, aliases] = await Promise.all([
    call("Stepq.GetMachineGraph", { stateMachineArn: arn }),
    call("ListStateMachineVersions", { stateMachineArn: arn }).catch(() => ({ stateMachineVersions: [] })),
    call("ListStateMachineAliases", { stateMachineArn: arn }).catch(() => ({ stateMachineAliases: [] })),
  ]);
  const graphBox = h("div", { class: "graph-box" });
  main.append(
    h("h1", {}, found.name, " ", h("span", { class: "muted small" }, found.type || "")),
    h("p", { class: "meta" }, h("a", { href: `#/executions?machine=${encodeURIComponent(found.name)}` }, "Its executions"), h("span", { class: "arn mono" }, ` · ${found.stateMachineArn}`)),
    h("section", {}, h("h2", {}, "Definition"), graphBox),
  );
  drawGraph(graphBox, found.graph);
  const versionList = versions.stateMachineVersions || [];
  const aliasList = aliases.stateMachineAliases || [];
  main.append(
    h(
      "section",
      { class: "versions" },
      h("h2", {}, "Versions and aliases"),
      versionList.length || aliasList.length
        ? h(
            "ul",
            {},
            versionList.map((v) => h("li", { class: "mono" }, `version ${v.stateMachineVersionArn.split(":").pop()} · ${when(v.creationDate)}`)),
            aliasList.map((a) => h("li", { class: "mono" }, `alias ${a.stateMachineAliasArn.split(":").pop()} · ${when(a.creationDate)}`)),
          )
        : h("p", { class: "muted" }, "None published."),
    ),
    h("section", {}, h("h2", {}, "Amazon States Language"), h("pre", { class: "asl", "data-asl": found.name }, JSON.stringify(JSON.parse(found.definition), null, 2))),
  );
}
