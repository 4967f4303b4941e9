// The console: hash routes, each drawn into <main> by a page module.
//   #/executions?machine=&status=&prefix=   #/execution/<arn>
//   #/machines                               #/machine/<arn>

import { call } from "./api.js";
import { errorBox, h } from "./dom.js";
import { executionPage } from "./pages/execution.js";
import { executionsPage } from "./pages/executions.js";
import { machinePage, machinesPage } from "./pages/machines.js";

const main = document.getElementById("main");
let generation = 0; // bumped by each navigation: a page's timers stop when it is left
const timers = new Set();

const ROUTES = [
  [/^#\/executions(?:\?(.*))?$/, (m, r) => executionsPage(main, new URLSearchParams(m[1] || ""), r), "executions"],
  [/^#\/execution\/(.+)$/, (m, r) => executionPage(main, decodeURIComponent(m[1]), r), "executions"],
  [/^#\/machines$/, () => machinesPage(main), "machines"],
  [/^#\/machine\/(.+)$/, (m) => machinePage(main, decodeURIComponent(m[1])), "machines"],
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
  main.replaceChildren();
  main.removeAttribute("data-ready");
  main.setAttribute("data-page", nav);
  try {
    await page(hash.match(pattern), route);
  } catch (error) {
    if (mine === generation) main.append(errorBox(error));
  }
  if (mine === generation) main.setAttribute("data-ready", "true");
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
