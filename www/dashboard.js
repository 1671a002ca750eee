// The Pi dashboard: lists the telemetry services the key may read, polls each Pi's /system through
// the gateway and charts temperature, load and memory. The token lives in sessionStorage only.
//
// The key may be the gateway's token (every Pi) or a consumer's key: `GET /pi/` answers per caller,
// so the page shows what this key may read and never guesses at the rest. A 429 is honoured: the
// page says when it will try again and sends nothing before `Retry-After` has passed.
import { LineChart } from "/charts.js";

const TOKEN_KEY = "edge-gateway:dashboard-token";
const interval = Number(new URLSearchParams(location.search).get("interval")) || 5000;
/** The wait after a 429 that gave no usable Retry-After. */
const DEFAULT_RETRY_SECONDS = 10;
const $ = (id) => document.getElementById(id);
let timers = [];
// Bumped by every start(): a poll still in flight when the key changes must not schedule more.
let generation = 0;

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** A gateway answer that was not 2xx: its status, its message, and for a 429 the seconds to wait. */
class ApiError extends Error {
  constructor(response, body) {
    super(body.message || `HTTP ${response.status}`);
    this.status = response.status;
    this.retryAfter = response.status === 429 ? retryAfterSeconds(response.headers.get("retry-after")) : null;
  }
}

/** Retry-After as whole seconds (RFC 9110: delay-seconds or an HTTP-date), at least 1. */
function retryAfterSeconds(value) {
  if (value && /^\s*\d+\s*$/.test(value)) return Math.max(1, Number(value));
  const date = value ? Date.parse(value) : NaN;
  if (Number.isFinite(date)) return Math.max(1, Math.ceil((date - Date.now()) / 1000));
  return DEFAULT_RETRY_SECONDS;
}

async function api(path) {
  const response = await fetch(path, { headers: { access_token: token(), "cache-control": "no-cache" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response, body);
  return body;
}

function later(run, fn, ms) {
  if (run !== generation) return;
  timers.push(setTimeout(() => run === generation && fn(), ms));
}

function stop() {
  generation += 1;
  timers.forEach(clearTimeout);
  timers = [];
  $("services").replaceChildren();
}

const rateLimited = (seconds) => `Rate limited: next try in ${seconds} s.`;

async function start() {
  stop();
  const run = generation;
  const connected = Boolean(token());
  $("logout").hidden = !connected;
  if (!connected) {
    $("status").textContent = "Enter the gateway token, or a consumer's key, to see its Pis.";
    return;
  }
  try {
    const { services } = await api("/pi/");
    if (run !== generation) return;
    $("status").textContent = services.length
      ? `This key may read: ${services.join(", ")}.`
      : "This key may read no Pi: the gateway lists none for it.";
    for (const name of services) watch(name, run);
  } catch (error) {
    if (run !== generation) return;
    $("status").textContent = describe(error);
    if (error.status === 429) later(run, start, error.retryAfter * 1000);
  }
}

/** What a failed `GET /pi/` means for the person holding the key. */
function describe(error) {
  switch (error.status) {
    case 401: return `The gateway does not accept this key (401: ${error.message})`;
    case 403: return `This key may not read any Pi (403: ${error.message})`;
    case 429: return rateLimited(error.retryAfter);
    default: return `Cannot list the Pis: ${error.message}`;
  }
}

function watch(name, run) {
  const section = $("service-template").content.firstElementChild.cloneNode(true);
  section.querySelector(".name").textContent = name;
  section.setAttribute("aria-label", `Pi ${name}`);
  $("services").append(section);
  const charts = {
    temperature: new LineChart(section.querySelector(".temperature"), { label: "Temperature", unit: "°C", min: 20, max: 85, color: "#d9480f" }),
    load: new LineChart(section.querySelector(".load"), { label: "CPU load", unit: "%", min: 0, max: 100, color: "#2456d6" }),
    memory: new LineChart(section.querySelector(".memory"), { label: "Memory used", unit: "%", min: 0, max: 100, color: "#2b8a3e" }),
  };
  const error = section.querySelector(".error");
  const state = section.querySelector(".state");
  const poll = async () => {
    let wait = interval;
    try {
      const system = await api(`/pi/${encodeURIComponent(name)}/system`);
      if (run !== generation) return;
      charts.temperature.push(Number(system.systemTemperature));
      charts.load.push(Number(system.systemLoadPercentage));
      charts.memory.push(Number(system.usedMemory));
      section.querySelector(".hostname").textContent = system.hostname ?? "—";
      section.querySelector(".uptime").textContent = system.uptime ?? "—";
      const up = Number(system.hostapdStatus) === 1 || system.hostapdStatus === true;
      const hostapd = section.querySelector(".hostapd");
      hostapd.textContent = up ? "running" : "stopped";
      hostapd.className = "hostapd " + (up ? "up" : "down");
      section.querySelector(".updated").textContent = new Date().toLocaleTimeString();
      error.hidden = true;
      state.textContent = "";
    } catch (e) {
      if (run !== generation) return;
      if (e.status === 429) {
        // Not an error of the Pi's: the values shown stay, and nothing is sent before the wait ends.
        wait = e.retryAfter * 1000;
        state.textContent = rateLimited(e.retryAfter);
        error.hidden = true;
      } else {
        error.textContent = `Cannot read ${name}: ${e.message}`;
        error.hidden = false;
        state.textContent = "";
      }
    }
    later(run, poll, wait);
  };
  poll();
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  $("token").value = "";
  start();
});
$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  start();
});
start();
