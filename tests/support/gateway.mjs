// Runs the built Worker (build/index.js + build/index_bg.wasm) in real workerd through Miniflare,
// with a per-test GATEWAY_CONFIG and secrets, the Cache API enabled and www/ as static assets.
import { Miniflare } from "miniflare";
import { fileURLToPath } from "node:url";
import path from "node:path";
import fs from "node:fs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const build = path.join(root, "build");

export function assertBuilt() {
  for (const file of ["entry.mjs", "index.js", "index_bg.wasm"]) {
    if (!fs.existsSync(path.join(build, file))) {
      throw new Error(`build/${file} is missing: run 'bash .ci/build' (the test command does)`);
    }
  }
}

/**
 * Starts a gateway. `config` is an object (sent as a JSON string, as `wrangler secret`/[vars] would)
 * or a string taken as is; `vars` become Worker variables/secrets. Returns `{ url, fetch, logs, close }`.
 */
export async function startGateway({ config, vars = {}, objectConfig = false } = {}) {
  assertBuilt();
  const logs = [];
  const bindings = { ...vars };
  if (config !== undefined) {
    bindings.GATEWAY_CONFIG = objectConfig || typeof config === "string" ? config : JSON.stringify(config);
  }
  const mf = new Miniflare({
    modules: [
      { type: "ESModule", path: path.join(build, "entry.mjs") },
      { type: "ESModule", path: path.join(build, "index.js") },
      { type: "CompiledWasm", path: path.join(build, "index_bg.wasm") },
    ],
    modulesRoot: build,
    compatibilityDate: "2026-04-01",
    bindings,
    cache: true,
    assets: { directory: path.join(root, "www"), routerConfig: { has_user_worker: true } },
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio(stdout, stderr) {
      const collect = (stream) => stream.on("data", (chunk) => logs.push(...String(chunk).split("\n").filter(Boolean)));
      collect(stdout);
      collect(stderr);
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return {
    url,
    logs,
    /** fetch relative to the gateway, with Node's fetch (a real HTTP client on 127.0.0.1). */
    fetch: (pathname, init) => fetch(url + pathname, init),
    close: () => mf.dispose(),
  };
}

/** Reads a JSON body, failing with the text when it is not JSON. */
export async function json(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (status ${response.status}): ${text.slice(0, 500)}`);
  }
}
