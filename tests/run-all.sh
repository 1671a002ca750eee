#!/usr/bin/env bash
# All the tests: the code's habits (rustfmt, clippy), native unit tests of the core, the entry
# module in Node, then the built Worker in real workerd against fake origins on
# 127.0.0.1, schemathesis against the gateway's own /openapi.json, then the browser tests in
# headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false

echo "== formatting (cargo fmt --check)"
cargo fmt --check

echo "== lints (cargo clippy, warnings are errors)"
cargo clippy --quiet --all-targets -- -D warnings

echo "== native unit tests (cargo test)"
cargo test --quiet

echo "== entry module (node)"
node --test tests/edge/

echo "== building the Worker"
bash .ci/build >/dev/null

echo "== integration tests (workerd)"
node --test --test-concurrency=2 tests/integration/

echo "== the API description against the gateway (schemathesis)"
node tests/api/schemathesis.mjs

if ls tests/browser/*.test.mjs >/dev/null 2>&1; then
  echo "== browser tests (Chromium)"
  node --test --test-concurrency=1 tests/browser/
fi
