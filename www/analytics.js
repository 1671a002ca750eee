// The analytics page: the gateway's per-minute request statistics (GET /admin/analytics), charted
// per route or for all routes, over a chosen range, refreshed every `interval` ms (default 10 s).
// The admin token lives in sessionStorage only, as the dashboard's.
//
// For all routes together, counts add up; percentiles do not, so the latency chart then shows the
// slowest route's p50 and p95 of each minute.
import { TimeChart } from "/charts.js";

const TOKEN_KEY = "edge-gateway:analytics-token";
const interval = Number(new URLSearchParams(location.search).get("interval")) || 10000;
const $ = (id) => document.getElementById(id);
const CLASSES = [["2xx", "#2b8a3e"], ["3xx", "#2456d6"], ["4xx", "#e8a317"], ["5xx", "#c92a2a"]];

const charts = {
  requests: new TimeChart($("requests-chart"), { label: "Requests by status", unit: "requests", series: CLASSES.map(([name, color]) => ({ name, color })) }),
  latency: new TimeChart($("latency-chart"), { label: "Latency", unit: "ms", kind: "lines",
    series: [{ name: "p50", color: "#2456d6" }, { name: "p95", color: "#d9480f" }] }),
  cache: new TimeChart($("cache-chart"), { label: "Cache hit ratio", unit: "%", kind: "lines", max: 100,
    series: [{ name: "HIT / (HIT + MISS + STALE)", color: "#2b8a3e" }] }),
  limited: new TimeChart($("limited-chart"), { label: "Rate-limited", unit: "requests", series: [{ name: "429 from limits", color: "#c92a2a" }] }),
};
let timer;
let generation = 0;
let minutes = [];

const token = () => sessionStorage.getItem(TOKEN_KEY);

async function load() {
  clearTimeout(timer);
  const run = ++generation;
  const connected = Boolean(token());
  $("logout").hidden = !connected;
  $("view").hidden = !connected;
  if (!connected) {
    $("charts").hidden = $("totals").hidden = true;
    $("status").textContent = "Enter the gateway token to see its analytics.";
    return;
  }
  try {
    const response = await fetch(`/admin/analytics?minutes=${$("range").value}`, { headers: { access_token: token() } });
    const body = await response.json().catch(() => ({}));
    if (run !== generation) return;
    if (!response.ok) throw new Error(`${response.status}: ${body.message || response.statusText}`);
    minutes = body.minutes;
    render();
    $("status").textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${Math.round(interval / 1000)} s.`;
  } catch (error) {
    if (run !== generation) return;
    $("status").textContent = `Cannot read analytics (${error.message})`;
  }
  timer = setTimeout(load, interval);
}

/** The minutes' numbers for the chosen route, or all routes summed. */
function selected(minute) {
  const route = $("route").value;
  const routes = Object.entries(minute.routes).filter(([name]) => !route || name === route).map(([, n]) => n);
  const sum = (pick) => routes.reduce((total, n) => total + pick(n), 0);
  const slowest = (p) => (routes.length ? Math.max(...routes.map((n) => n.duration_ms[p] ?? 0)) : null);
  return {
    statuses: Object.fromEntries(CLASSES.map(([name]) => [name, sum((n) => n.statuses[name])])),
    hits: sum((n) => n.cache.HIT),
    cached: sum((n) => n.cache.HIT + n.cache.MISS + n.cache.STALE),
    limited: sum((n) => n.limited),
    p50: slowest("p50"),
    p95: slowest("p95"),
  };
}

function render() {
  updateRoutes();
  const times = minutes.map((m) => Date.parse(m.start));
  const rows = minutes.map(selected);
  charts.requests.set(times, CLASSES.map(([name]) => rows.map((r) => r.statuses[name])));
  charts.latency.set(times, [rows.map((r) => r.p50), rows.map((r) => r.p95)]);
  charts.cache.set(times, [rows.map((r) => (r.cached ? Math.round((100 * r.hits) / r.cached) : null))]);
  charts.limited.set(times, [rows.map((r) => r.limited)]);
  renderTotals();
  $("charts").hidden = $("totals").hidden = false;
}

/** The route choices: every route seen in the range, the chosen one kept. */
function updateRoutes() {
  const names = [...new Set(minutes.flatMap((m) => Object.keys(m.routes)))].sort();
  const select = $("route");
  const chosen = select.value;
  const options = [new Option("All routes", ""), ...names.map((name) => new Option(name, name))];
  if (chosen && !names.includes(chosen)) options.push(new Option(chosen, chosen));
  select.replaceChildren(...options);
  select.value = chosen;
}

/** The table every chart is also told by: per route, the range's totals. */
function renderTotals() {
  const totals = new Map();
  for (const minute of minutes) {
    for (const [route, n] of Object.entries(minute.routes)) {
      const t = totals.get(route) ?? { requests: 0, statuses: { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 }, hits: 0, cached: 0, limited: 0, p95: null };
      t.requests += n.requests;
      for (const [name] of CLASSES) t.statuses[name] += n.statuses[name];
      t.hits += n.cache.HIT;
      t.cached += n.cache.HIT + n.cache.MISS + n.cache.STALE;
      t.limited += n.limited;
      if (n.duration_ms.p95 !== null) t.p95 = Math.max(t.p95 ?? 0, n.duration_ms.p95);
      totals.set(route, t);
    }
  }
  const rows = [...totals].sort(([a], [b]) => a.localeCompare(b)).map(([route, t]) => {
    const row = document.createElement("tr");
    const header = document.createElement("th");
    header.scope = "row";
    header.textContent = route;
    const cells = [t.requests, ...CLASSES.map(([name]) => t.statuses[name]),
      t.cached ? `${Math.round((100 * t.hits) / t.cached)} %` : "—", t.limited, t.p95 ?? "—"];
    row.append(header, ...cells.map((value) => Object.assign(document.createElement("td"), { textContent: String(value) })));
    return row;
  });
  if (!rows.length) {
    const row = document.createElement("tr");
    row.append(Object.assign(document.createElement("td"), { colSpan: 9, textContent: "No requests in this range." }));
    rows.push(row);
  }
  $("totals").querySelector("tbody").replaceChildren(...rows);
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  $("token").value = "";
  load();
});
$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  load();
});
$("range").addEventListener("change", load);
$("route").addEventListener("change", render);
$("refresh").addEventListener("click", load);
$("view").addEventListener("submit", (event) => event.preventDefault());
load();
