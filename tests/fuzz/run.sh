#!/usr/bin/env bash
# Runs every fuzz target for a while: bash tests/fuzz/run.sh [seconds per target, default 600]
# Crashing inputs land in tests/fuzz/artifacts/<target>/; keep them as regression tests.
# cargo-fuzz wants nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-600}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
for target in tag_rewriter config credentials url_joining header_validation; do
  echo "== $target ($seconds s)"
  RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz --sanitizer none "$target" -- -max_total_time="$seconds" -max_len=4096
done
