#!/usr/bin/env bash
# Installs whatever is missing, builds the portal (release) and starts it on the embedded default:
# a SQLite file under ./data, local accounts, mail written into ./data/mail, at http://127.0.0.1:3000.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$here"

# Only what building and running needs: the test tools (chromium, pkilint, ...) wait for test.sh.
bash scripts/setup.sh --run
# build-site (site_build/) builds the WASM client (release, wasm-opt), the site in target/site (hashed
# names, brotli and gzip copies) and the server, with RUSTFLAGS exactly `--cfg erase_components` for
# both. The server profile `quick-release` builds faster than `release` (fat LTO, one codegen
# unit; bench/results.md has the figures). `cargo leptos build --release` still works for those who have it.
cargo run --locked --quiet -p site_build -- --release --server-profile quick-release

export LEPTOS_SITE_ROOT="$here/target/site"
export RA_PORTAL_DATA_DIR="${RA_PORTAL_DATA_DIR:-$here/data}"
exec "$CARGO_TARGET_DIR/quick-release/ra-portal" serve "$@"
