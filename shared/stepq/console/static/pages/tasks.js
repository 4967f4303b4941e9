// The task inbox: my tasks (#/tasks?status=ALL) and one task (#/task/<id>), as a person.
// Buttons are offered only for what the reply says the caller may do (myActions, the
// assignee); the server still decides, and its refusal is shown where the button was.

import { call, devUser, setDevUser } from "../api.js";
import { arnParts, errorBox, h, statusBadge, when } from "../dom.js";

let serverInfo; // Stepq.Ping, once per page load: does the server trust X-Stepq-Dev-User?

function pingOnce() {
  serverInfo ??= call("Stepq.Ping").catch(() => ({}));
  return serverInfo;
}

function executionLink(arn, text) {
  return h("a", { href: `#/execution/${encodeURIComponent(arn)}`, class: "exec-link" }, text ?? arnParts(arn).name);
}

// ISO text (the instants inside a task's lists) as the console's UTC text.
function at(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? String(iso || "") : when(ms / 1000);
}

// "Acting as": the picker (dev identities only) and WhoAmI. Answers who, or null.
async function identityBar(view, route) {
  const { devIdentities } = await pingOnce();
  const bar = h("section", { class: "identity" });
  view.append(bar);
  if (devIdentities) {
    const input = h("input", { name: "user", value: devUser(), placeholder: "a user name, e.g. tom", autocomplete: "off" });
    const pick = (event) => {
      event.preventDefault();
      setDevUser(input.value);
      route.reload();
    };
    bar.append(
      h(
        "form",
        { class: "act-as", onsubmit: pick },
        h("label", {}, "Acting as ", input),
        " ",
        h("button", { type: "submit", "data-op": "act-as" }, "Act as"),
      ),
      h("p", { class: "dev-warning", role: "note" }, "Development identities: anyone can claim any name (stepq dev --dev-identities trusts the X-Stepq-Dev-User header)."),
    );
    if (!devUser()) {
      bar.append(h("p", { class: "needs-identity" }, "Tasks are a person's: type a user name above to act as that person."));
      return null;
    }
  }
  try {
    const me = await call("Stepq.WhoAmI");
    const groups = me.groups || [];
    bar.append(
      h(
        "p",
        { class: "whoami", "data-who": me.id },
        "You are ",
        h("b", {}, me.id),
        ` (${me.kind})`,
        groups.length ? ` · groups: ${groups.join(", ")}` : " · in no group",
      ),
    );
    return me;
  } catch (error) {
    bar.append(
      h(
        "p",
        { class: "needs-identity" },
        "Tasks need an identity: a signed-in person, or `stepq dev --dev-identities` and a user name. ",
        h("span", { class: "muted" }, String(error.message || error)),
      ),
    );
    return null;
  }
}

export async function tasksPage(view, params, route) {
  const all = params.get("status") === "ALL";
  view.append(h("h1", {}, "My tasks"));
  const me = await identityBar(view, route);
  if (!me) return;
  view.append(
    h(
      "div",
      { class: "counts" },
      h("a", { href: "#/tasks", class: all ? "" : "active", "data-filter": "OPEN" }, "Open"),
      h("a", { href: "#/tasks?status=ALL", class: all ? "active" : "", "data-filter": "ALL" }, "All"),
    ),
  );
  const tasks = [];
  let token;
  do {
    const page = await call("Stepq.ListMyTasks", { status: all ? "ALL" : "OPEN", ...(token ? { nextToken: token } : {}) });
    tasks.push(...(page.tasks || []));
    token = page.nextToken;
  } while (token && tasks.length < 1000);
  if (!tasks.length) {
    view.append(h("p", { class: "muted empty" }, all ? "No tasks, open or done." : "No open tasks for you."));
    return;
  }
  view.append(
    h(
      "table",
      { class: "list tasks" },
      h("thead", {}, h("tr", {}, ["Title", "State", "Status", "Request", "Assignee", "Opened (UTC)", "My actions"].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        tasks.map((t) =>
          h(
            "tr",
            { "data-task": t.taskId, "data-status": t.status },
            h("td", {}, h("a", { href: `#/task/${encodeURIComponent(t.taskId)}` }, t.title || t.state)),
            h("td", {}, t.state),
            h("td", {}, statusBadge(t.status)),
            h("td", {}, executionLink(t.executionArn)),
            h("td", {}, t.assignee || h("span", { class: "muted" }, "nobody")),
            h("td", { class: "mono" }, when(t.createdAt)),
            h("td", { class: "my-actions" }, (t.myActions || []).join(", ") || h("span", { class: "muted" }, "none")),
          ),
        ),
      ),
    ),
  );
}

function table(cls, headings, rows) {
  if (!rows.length) return h("p", { class: "muted" }, "None.");
  return h("table", { class: `list ${cls}` }, h("thead", {}, h("tr", {}, headings.map((t) => h("th", {}, t)))), h("tbody", {}, rows));
}

function transitions(task) {
  return (task.transitions || []).map((tr) =>
    h(
      "div",
      { class: "transition", "data-transition": tr.name, "data-status": tr.status },
      h("h3", {}, tr.name, " ", statusBadge(tr.status)),
      table(
        "requirements",
        ["Action", "By", "Counted", "Who", "Status"],
        tr.requirements.map((r, i) =>
          h(
            "tr",
            { "data-requirement": `${r.action}|${r.target}`, "data-index": i, "data-counted": r.counted.length, "data-status": r.status },
            h("td", {}, r.action),
            h("td", {}, r.target),
            h("td", { class: "num counted" }, `${r.counted.length}/${r.needed}`),
            h("td", {}, r.counted.join(", ")),
            h("td", {}, statusBadge(r.status)),
          ),
        ),
      ),
    ),
  );
}

// What the caller may do, from the reply; each sends, then redraws the page or shows the refusal.
function actionsBox(task, me, route) {
  const box = h("section", { class: "task-actions" }, h("h2", {}, "Act"));
  const message = h("div", { class: "task-message" });
  const send = async (button, operation, body) => {
    button.disabled = true;
    message.replaceChildren();
    try {
      await call(operation, body);
      route.reload();
    } catch (error) {
      message.replaceChildren(h("div", { class: "error", role: "alert", "data-refused": error.type || "" }, String(error.message || error)));
      button.disabled = false;
    }
  };
  const open = task.status === "OPEN";
  const mine = task.myActions || [];
  if (open && mine.length) {
    const comment = h("textarea", { name: "comment", rows: 2, placeholder: "a comment (optional)" });
    box.append(
      h(
        "div",
        { class: "act" },
        h("label", {}, "Comment", comment),
        h(
          "div",
          { class: "row" },
          mine.map((action) => {
            const button = h("button", { type: "button", class: "primary", "data-act": action }, action);
            button.addEventListener("click", () =>
              send(button, "Stepq.ActOnTask", { taskId: task.taskId, action, ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) }),
            );
            return button;
          }),
        ),
      ),
    );
  }
  const row = h("div", { class: "row" });
  if (open && mine.length && !task.assignee) {
    const claim = h("button", { type: "button", "data-op": "claim" }, "Claim");
    claim.addEventListener("click", () => send(claim, "Stepq.ClaimTask", { taskId: task.taskId }));
    row.append(claim);
  }
  if (open && task.assignee && task.assignee === me.id) {
    const unclaim = h("button", { type: "button", "data-op": "unclaim" }, "Unclaim");
    unclaim.addEventListener("click", () => send(unclaim, "Stepq.UnclaimTask", { taskId: task.taskId }));
    row.append(unclaim);
  }
  if (open && mine.length) {
    const to = h("input", { name: "delegate-to", placeholder: "a person" });
    const delegate = h("button", { type: "button", "data-op": "delegate" }, "Delegate");
    delegate.addEventListener("click", () => send(delegate, "Stepq.DelegateTask", { taskId: task.taskId, to: to.value.trim() }));
    row.append(h("span", { class: "delegate" }, to, " ", delegate));
  }
  if (row.childNodes.length) box.append(row);
  if (!open || !mine.length) {
    box.append(h("p", { class: "muted no-actions" }, open ? "Nothing for you to act on here." : `This task is ${task.status.toLowerCase()}.`));
  }
  // Anyone who may read the task takes part in its request, and may add a note to it.
  const note = h("textarea", { name: "note", rows: 2, placeholder: "a note on the request" });
  const add = h("button", { type: "button", "data-op": "note" }, "Add note");
  add.addEventListener("click", () => send(add, "Stepq.AddNote", { executionArn: task.executionArn, taskId: task.taskId, text: note.value }));
  box.append(h("div", { class: "act" }, h("label", {}, "Note", note), h("div", { class: "row" }, add)), message);
  return box;
}

// A download URL is a bearer link valid for minutes: asked for (GetAttachment) on a
// click, never with the page.
function attachmentLink(task, file) {
  const cell = h("span", { class: "attachment" });
  const ask = h("button", { type: "button", "data-attachment": file.attachmentId }, file.name);
  ask.addEventListener("click", async () => {
    try {
      const got = await call("Stepq.GetAttachment", { executionArn: task.executionArn, attachmentId: file.attachmentId });
      cell.replaceChildren(
        h("a", { href: got.downloadUrl, target: "_blank", rel: "noopener", "data-download": file.attachmentId }, file.name),
        h("span", { class: "muted" }, ` (link valid until ${when(got.expires)})`),
      );
    } catch (error) {
      cell.append(errorBox(error));
    }
  });
  cell.append(ask);
  return cell;
}

// A file onto the request: AttachFile, the PUT of its bytes to the upload URL it answers
// (on stepq dev same-origin /attachments/...; a deployed stack's is S3, see CONSOLE.md),
// ConfirmAttachment; then the page is drawn again with it listed.
function attachBox(task, route) {
  const file = h("input", { type: "file", name: "attachment", "aria-label": "a file to attach" });
  const attach = h("button", { type: "button", "data-op": "attach" }, "Attach");
  const message = h("div", { class: "attach-message" });
  attach.addEventListener("click", async () => {
    const chosen = file.files[0];
    message.replaceChildren();
    if (!chosen) {
      message.append(h("div", { class: "error", role: "alert" }, "Choose a file first."));
      return;
    }
    attach.disabled = true;
    try {
      const ref = { executionArn: task.executionArn };
      const contentType = chosen.type || "application/octet-stream";
      const made = await call("Stepq.AttachFile", { ...ref, name: chosen.name, contentType, size: chosen.size });
      const put = await fetch(made.uploadUrl, { method: "PUT", headers: made.headers || { "Content-Type": contentType }, body: chosen }).catch(() => {
        // Another origin (a deployed stack's S3) blocked by the CSP or the bucket's CORS.
        throw new Error(`the upload to ${new URL(made.uploadUrl, location.href).origin} was blocked: see "Attach" in docs/CONSOLE.md, or use stepq tasks attach`);
      });
      if (!put.ok) throw new Error(`the upload was refused (HTTP ${put.status})`);
      await call("Stepq.ConfirmAttachment", { ...ref, attachmentId: made.attachmentId });
      route.reload();
    } catch (error) {
      message.append(h("div", { class: "error", role: "alert", "data-refused": error.type || "" }, String(error.message || error)));
      attach.disabled = false;
    }
  });
  return h("div", { class: "row attach" }, file, " ", attach, message);
}

export async function taskPage(view, taskId, route) {
  const me = await identityBar(view, route);
  if (!me) {
    view.prepend(h("h1", {}, "A task"));
    return;
  }
  let task;
  try {
    task = await call("Stepq.DescribeTask", { taskId });
  } catch (error) {
    view.prepend(h("h1", {}, "A task"));
    view.append(h("div", { class: "error", role: "alert", "data-refused": error.type || "" }, String(error.message || error)));
    return;
  }
  view.dataset.taskStatus = task.status;
  view.prepend(h("h1", {}, task.title || task.state, " ", statusBadge(task.status)));
  view.append(
    h(
      "p",
      { class: "meta" },
      `state ${task.state} · request `,
      executionLink(task.executionArn),
      ` · opened ${when(task.createdAt)}`,
      task.completedAt ? ` · done ${when(task.completedAt)}` : "",
      task.transition ? h("span", { class: "transition-taken", "data-transition": task.transition }, ` · took ${task.transition}`) : "",
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "requester"),
      h("dd", { "data-requester": task.requester || "" }, task.requester || "—"),
      h("dt", {}, "stakeholders"),
      h("dd", {}, (task.stakeholders || []).join(", ") || "—"),
      h("dt", {}, "assignee"),
      h("dd", { "data-assignee": task.assignee || "" }, task.assignee || "nobody"),
    ),
    task.description ? h("p", { class: "description" }, task.description) : "",
    h("section", { class: "transitions" }, h("h2", {}, "Transitions"), transitions(task)),
    actionsBox(task, me, route),
    h("section", {}, h("h2", {}, "The request's data"), h("pre", { class: "task-data" }, JSON.stringify(task.data ?? null, null, 2))),
    h(
      "section",
      {},
      h("h2", {}, "Actions taken"),
      table(
        "task-actions-taken",
        ["Action", "By", "On behalf of", "At (UTC)", "Comment"],
        (task.actions || []).map((a) =>
          h("tr", { "data-action": a.action, "data-by": a.by }, h("td", {}, a.action), h("td", {}, a.by), h("td", {}, a.onBehalfOf || ""), h("td", { class: "mono" }, at(a.at)), h("td", { class: "comment" }, a.comment || "")),
        ),
      ),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Delegations and assignments"),
      table(
        "delegations",
        ["What", "Who", "To", "By", "At (UTC)"],
        [
          ...(task.delegations || []).map((d) => h("tr", {}, h("td", {}, d.to === d.principal ? "taken back" : "delegated"), h("td", {}, d.principal), h("td", {}, d.to), h("td", {}, d.by), h("td", { class: "mono" }, at(d.at)))),
          ...(task.assignments || []).map((a) => h("tr", {}, h("td", {}, a.kind), h("td", {}, ""), h("td", {}, a.to || ""), h("td", {}, a.by), h("td", { class: "mono" }, at(a.at)))),
        ],
      ),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Notes"),
      table("notes", ["By", "At (UTC)", "Note"], (task.notes || []).map((n) => h("tr", { "data-note": n.noteId }, h("td", {}, n.by), h("td", { class: "mono" }, at(n.at)), h("td", {}, n.text)))),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Attachments"),
      table(
        "attachments",
        ["File", "Type", "Size", "By", "At (UTC)"],
        (task.attachments || []).map((f) => h("tr", {}, h("td", {}, attachmentLink(task, f)), h("td", {}, f.contentType), h("td", { class: "num" }, f.size ?? ""), h("td", {}, f.by), h("td", { class: "mono" }, at(f.at)))),
      ),
      attachBox(task, route),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Refused"),
      table("refused", ["Who", "What", "Why", "At (UTC)"], (task.refused || []).map((r) => h("tr", {}, h("td", {}, r.who), h("td", {}, r.what), h("td", {}, r.reason), h("td", { class: "mono" }, at(r.at))))),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Audit trail"),
      table(
        "audit",
        ["At (UTC)", "Who", "What", "Detail"],
        (task.audit || []).map((e) => h("tr", { "data-what": e.what }, h("td", { class: "mono" }, at(e.at)), h("td", {}, e.who), h("td", {}, e.what), h("td", { class: "mono" }, e.detail ? JSON.stringify(e.detail) : ""))),
      ),
    ),
  );
}
