// The Pi dashboard: lists the gateway's telemetry services, polls each Pi's /system through the
// gateway and charts temperature, load and memory. The token lives in sessionStorage only.
import { LineChart } from "/charts.js";

const TOKEN_KEY = "edge-gateway:dashboard-token";
const interval = Number(new URLSearchParams(location.search).get("interval")) || 5000;
const $ = (id) => document.getElementById(id);
let timers = [];

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(path) {
  const response = await fetch(path, { headers: { access_token: token(), "cache-control": "no-cache" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body;
}

function stop() {
  timers.forEach(clearInterval);
  timers = [];
  $("services").replaceChildren();
}

async function start() {
  stop();
  const connected = Boolean(token());
  $("logout").hidden = !connected;
  if (!connected) {
    $("status").textContent = "Enter the gateway token to see your Pis.";
    return;
  }
  try {
    const { services } = await api("/pi/");
    $("status").textContent = services.length ? `${services.length} Pi${services.length > 1 ? "s" : ""} connected.` : "No telemetry service is exposed.";
    for (const name of services) watch(name);
  } catch (error) {
    $("status").textContent = `Cannot list the Pis: ${error.message}`;
  }
}

function watch(name) {
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
  const poll = async () => {
    try {
      const system = await api(`/pi/${encodeURIComponent(name)}/system`);
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
    } catch (e) {
      error.textContent = `Cannot read ${name}: ${e.message}`;
      error.hidden = false;
    }
  };
  poll();
  timers.push(setInterval(poll, interval));
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
