#!/usr/bin/env bash
# Runs the engine's fuzz target for a bounded time: `scripts/fuzz.sh 60` (seconds; `make test` uses
# 60, run longer by hand). New inputs found are kept in $FUZZ_CORPUS (default under the cache), the
# committed seeds in engine/fuzz/seeds/compress are read but never written. A crash stops the run,
# saves the input under engine/fuzz/artifacts/ and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
corpus=${FUZZ_CORPUS:-$HOME/.cache/slimage/fuzz-corpus/compress}
mkdir -p "$corpus"
# cargo-fuzz drives nightly-only compiler flags; the stable toolchain accepts them with this.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$HOME/.cache/slimage/fuzz-target}
cargo fuzz run --fuzz-dir engine/fuzz --sanitizer none compress "$corpus" engine/fuzz/seeds/compress -- \
  -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1
