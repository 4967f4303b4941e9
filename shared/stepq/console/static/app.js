// The console: hash routes, each drawn into <main> by a page module.
//   #/executions?machine=&status=&prefix=   #/execution/<arn>
//   #/machines                               #/machine/<arn>
//   #/tasks?status=ALL                       #/task/<id>

import { call } from "./api.js";
import { errorBox, h } from "./dom.js";
import { executionPage } from "./pages/execution.js";
import { executionsPage } from "./pages/executions.js";
import { machinePage, machinesPage } from "./pages/machines.js";
import { taskPage, tasksPage } from "./pages/tasks.js";

const main = document.getElementById("main");
let generation = 0; // bumped by each navigation: a page's timers stop when it is left
const timers = new Set();

// Each page draws into a view of its own: a page left while it still loads writes
// only into its detached view, never into the next page's.
const ROUTES = [
  [/^#\/executions(?:\?(.*))?$/, (v, m, r) => executionsPage(v, new URLSearchParams(m[1] || ""), r), "executions"],
  [/^#\/execution\/(.+)$/, (v, m, r) => executionPage(v, decodeURIComponent(m[1]), r), "executions"],
  [/^#\/machines$/, (v) => machinesPage(v), "machines"],
  [/^#\/machine\/(.+)$/, (v, m) => machinePage(v, decodeURIComponent(m[1])), "machines"],
  [/^#\/tasks(?:\?(.*))?$/, (v, m, r) => tasksPage(v, new URLSearchParams(m[1] || ""), r), "tasks"],
  [/^#\/task\/(.+)$/, (v, m, r) => taskPage(v, decodeURIComponent(m[1]), r), "tasks"],
];

async function show() {
  generation += 1;
  const mine = generation;
  for (const timer of timers) clearTimeout(timer);
  timers.clear();
  const route = {
    current: () => mine === generation,
    later: (fn, ms) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (mine === generation) fn();
      }, ms);
      timers.add(timer);
    },
    reload: () => {
      if (mine === generation) show(); // the same route drawn again (after an action)
    },
  };
  const hash = location.hash || "#/executions";
  const found = ROUTES.find(([pattern]) => pattern.test(hash));
  if (!found) {
    location.hash = "#/executions";
    return;
  }
  const [pattern, page, nav] = found;
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === nav);
  }
  const view = h("div", { class: "view", "data-page": nav });
  main.replaceChildren(view);
  main.removeAttribute("data-ready");
  main.removeAttribute("data-route");
  main.setAttribute("data-page", nav);
  try {
    await page(view, hash.match(pattern), route);
  } catch (error) {
    view.append(errorBox(error));
  }
  if (mine === generation) {
    main.setAttribute("data-route", hash); // which page is ready (tests wait on it)
    main.setAttribute("data-ready", "true");
  }
}

async function where() {
  try {
    const { region, account } = await call("Stepq.Ping");
    document.getElementById("where").textContent = `${account} · ${region}`;
  } catch {
    document.getElementById("where").replaceChildren(h("span", { class: "error-text" }, "API unreachable"));
  }
}

window.addEventListener("hashchange", show);
where();
show();
