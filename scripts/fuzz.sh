#!/usr/bin/env bash
# Fuzzes the CSV upload's reader and its per-line rules (fuzz/fuzz_targets/csv_upload.rs) for a
# short time: FUZZ_SECONDS, 60 by default. The corpus lives under ~/.cache/ra-portal, so it grows
# from run to run (seeded with the test files in backend/tests/data/csv). A crash fails the script,
# which then names the input that reproduces it (and prints it in base64, for CI logs).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$here"

CARGO_FUZZ_VERSION=0.13.2
seconds="${FUZZ_SECONDS:-60}"
cache="$HOME/.cache/ra-portal"
corpus="$cache/fuzz-corpus/csv_upload"
artifacts="$cache/fuzz-artifacts/csv_upload"

log() { printf '\033[1m[fuzz]\033[0m %s\n' "$*"; }

if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
  log "cargo install cargo-fuzz $CARGO_FUZZ_VERSION (about 1 minute, once)"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --force
fi

# cargo-fuzz passes nightly-only flags (-Z, -Zsanitizer=address); RUSTC_BOOTSTRAP=1 makes the
# stable toolchain accept them. Its own target dir, so the portal's build cache is never touched;
# the portal's RUSTFLAGS (env.sh) mean nothing here, and leaving them out keeps this cache stable.
export RUSTC_BOOTSTRAP=1
unset RUSTFLAGS
export CARGO_TARGET_DIR="$cache/fuzz-target"
fuzz=(--target-dir "$CARGO_TARGET_DIR")

log "build (address sanitizer, debug assertions)"
# The portal's versions of every crate they share; cargo adds libFuzzer's few, from the local
# index copy when it has them (no network), else from crates.io.
cp Cargo.lock fuzz/Cargo.lock
(cd fuzz && { cargo metadata --offline --format-version 1 >/dev/null 2>&1 ||
  cargo metadata --format-version 1 >/dev/null; })
cargo fuzz build "${fuzz[@]}" csv_upload

mkdir -p "$corpus" "$artifacts"
stamp="$(mktemp /tmp/ra-portal-fuzz.XXXXXX)"
trap 'rm -f "$stamp"' EXIT
before=$(find "$corpus" -type f | wc -l)
log "run for ${seconds} s; corpus $corpus ($before inputs)"
status=0
# -timeout: a few KiB of CSV that take seconds to read is a bug too. The whole output goes to a
# file; shown is all but libFuzzer's line per new corpus input (thousands of them).
run_log="$cache/fuzz-last-run.log"
cargo fuzz run "${fuzz[@]}" csv_upload "$corpus" backend/tests/data/csv -- \
  -max_total_time="$seconds" -timeout=10 -dict=fuzz/csv_upload.dict \
  -artifact_prefix="$artifacts/" -print_final_stats=1 >"$run_log" 2>&1 || status=$?
grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE) |^[[:space:]]+NEW_FUNC|# Uses: [0-9]+$' "$run_log" || true
log "full output: $run_log"
after=$(find "$corpus" -type f | wc -l)
log "corpus: $after inputs ($((after - before)) new)"

if [ "$status" -ne 0 ]; then
  log "the fuzz target failed (exit $status)"
  find "$artifacts" -type f -newer "$stamp" | while read -r crash; do
    log "reproducer: $crash"
    log "reproduce: env -u RUSTFLAGS RUSTC_BOOTSTRAP=1 cargo fuzz run --target-dir $CARGO_TARGET_DIR csv_upload $crash"
    log "the input in base64:"
    base64 "$crash" | head -c 20000
    echo
  done
  exit "$status"
fi

# Keep the corpus small: once it has many inputs, keep only those that add coverage.
if [ "$after" -gt 5000 ]; then
  log "corpus minimisation (merge)"
  merged="$corpus.merged"
  rm -rf "$merged" && mkdir -p "$merged"
  cargo fuzz run "${fuzz[@]}" csv_upload "$merged" "$corpus" -- -merge=1 -timeout=10 2>&1 | tail -n 2
  rm -rf "$corpus" && mv "$merged" "$corpus"
  log "corpus: $(find "$corpus" -type f | wc -l) inputs after merge"
fi
