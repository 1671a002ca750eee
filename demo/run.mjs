// The demo: the gateway under `wrangler dev` with demo/config.json, beside a demo Raspberry Pi and
// image classifier (demo/services.mjs). Usage: node demo/run.mjs [--port 8787]
//
// The configuration is the format a deployment uses (GATEWAY_CONFIG), passed with `--var` as
// `wrangler dev` allows; the services listen on the ports its base_urls name. GATEWAY_DEMO=true lets
// the published demo token work here only (see src/config/demo_token.rs).
//
// Ctrl-C stops everything: the services live in this process, and `wrangler dev` (with the workerd
// it starts) runs in a process group of its own, which is killed as a whole on SIGINT, SIGTERM or
// any exit, so nothing is left behind.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startPi, startClassifier } from "./services.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const portArg = process.argv.indexOf("--port");
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 8787;

/** The demo's secrets: published on purpose, accepted only with GATEWAY_DEMO=true. */
export const DEMO_VARS = { AUTH_TOKEN: "demo-token-change-me", PI_KEY: "demo-pi-key", GATEWAY_DEMO: "true" };

export const config = JSON.parse(fs.readFileSync(path.join(root, "demo", "config.json"), "utf8"));
const service = (name) => config.extensions.rest.services.find((s) => s.name === name);
const portOf = (name) => Number(new URL(service(name).base_url).port);

async function main() {
  const pi = await startPi({ port: portOf("livingroom"), apiKey: DEMO_VARS.PI_KEY });
  const classifier = await startClassifier({ port: portOf("catsdogs") });
  console.log(`demo Pi (RaspAP-like)         ${pi.url}`);
  console.log(`demo image classifier         ${classifier.url}`);

  const vars = { ...DEMO_VARS, GATEWAY_CONFIG: JSON.stringify(config) };
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port),
    ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`])];
  // Its own process group (detached) so that it can be ended as a whole; no stdin, since a
  // process outside the terminal's foreground group that reads the terminal is stopped.
  const wrangler = spawn(path.join(root, "node_modules", ".bin", "wrangler"), args, {
    cwd: root, stdio: ["ignore", "inherit", "inherit"], detached: true, env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });

  let stopping = false;
  const stopGateway = () => {
    try {
      process.kill(-wrangler.pid, "SIGTERM");
    } catch {
      // The group is gone already.
    }
  };
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    stopGateway();
    await Promise.all([pi.close(), classifier.close()]);
    process.exit(code);
  };
  process.on("exit", stopGateway);
  process.on("SIGINT", () => stop(0));
  process.on("SIGTERM", () => stop(0));
  process.on("SIGHUP", () => stop(0));
  wrangler.on("exit", (code) => stop(code ?? 1));

  const gateway = `http://127.0.0.1:${port}`;
  // wrangler builds first (minutes on a cold machine): the addresses are shown once it answers.
  while (!(await fetch(`${gateway}/health`).then((r) => r.ok, () => false))) {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  console.log(`
Edge Gateway demo (a demo: its token is published; deploy with your own, see README)
  chat       ${gateway}/            ask "temperature": the dialog reads the Pi with rest_call
  dashboard  ${gateway}/dashboard   connect with the token ${DEMO_VARS.AUTH_TOKEN}
  docs       ${gateway}/docs
  Pi         curl -H 'access_token: ${DEMO_VARS.AUTH_TOKEN}' ${gateway}/pi/livingroom/ap   (passphrase removed)
  model      curl -H 'access_token: ${DEMO_VARS.AUTH_TOKEN}' -F file=@photo.jpg ${gateway}/models/catsdogs/upload
Ctrl-C stops the gateway and the demo services.
`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`demo: ${error.message}`);
    process.exit(1);
  });
}
