// The API description tested against the gateway, as a new user would: schemathesis reads the
// gateway's own /openapi.json and sends generated requests to every operation, checking each answer
// against the description (status codes, content types, schemas, headers such as a 405's Allow)
// and that nothing answers 5xx. The gateway runs in workerd with every kind of service exposed, in
// front of the fake origins, so the hand-written description cannot drift from the routes.
//
// Usage: node tests/api/schemathesis.mjs [--max-examples N]   (the test command runs it)
import { spawn } from "node:child_process";
import { startGateway } from "../support/gateway.mjs";
import { startModel, startPi, startRasa } from "../support/origins.mjs";

const TOKEN = "schemathesis-token";
const maxExamples = process.argv.includes("--max-examples")
  ? process.argv[process.argv.indexOf("--max-examples") + 1]
  : "30";

const model = await startModel();
const pi = await startPi("pi-key", () => ({ hostname: "raspberrypi", systemTemperature: 48.5 }));
const rasa = await startRasa({ token: "rasa-token" });
const gateway = await startGateway({
  config: {
    auth: { token: "${AUTH_TOKEN}" },
    extensions: { rest: { timeout: 5, services: [
      { name: "catsdogs", base_url: model.url + "/", expose: "inference" },
      { name: "livingroom", base_url: pi.url + "/", expose: "telemetry", headers: { access_token: "pi-key" }, cache: 5 },
      { name: "rasa", base_url: rasa.url + "/", expose: "rasa", parameters: { token: "rasa-token" } },
    ] } },
    dialog: [
      { condition: "message.text == 'temperature'",
        response: '{% GET "livingroom://system" %}The Pi is at {{ rest.json.systemTemperature }} °C.' },
      { condition: "true", response: "You said: {{ message.text }}" },
    ],
  },
  vars: { AUTH_TOKEN: TOKEN },
});

let code;
try {
  code = await new Promise((resolve, reject) => {
    const child = spawn("schemathesis", [
      "run", `${gateway.url}/openapi.json`,
      "--url", gateway.url,
      "--checks", "all",
      // The pages are the platform's static assets, not the gateway's routes: the asset layer
      // answers their other methods itself (405, without the Allow header the gateway's routes give).
      "--exclude-path", "/docs",
      "--exclude-path", "/openapi.json",
      "--header", `access_token: ${TOKEN}`,
      "--max-examples", maxExamples,
      "--request-timeout", "10",
      "--workers", "2",
      "--max-time", "300",
      "--seed", "1",
    ], { stdio: "inherit", env: { ...process.env, SCHEMATHESIS_HOOKS: "" } });
    child.on("error", reject);
    child.on("exit", (status) => resolve(status ?? 1));
  });
} finally {
  await gateway.close();
  await Promise.all([model.close(), pi.close(), rasa.close()]);
}
process.exit(code);
