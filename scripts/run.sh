#!/usr/bin/env bash
# Installs whatever is missing, builds the portal (release) and starts it on the embedded default:
# a SQLite file under ./data, local accounts, mail written into ./data/mail, at http://127.0.0.1:3000.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$here"
# cargo-leptos sets RUSTFLAGS itself, to exactly `--cfg erase_components` for the server and the WASM
# client alike (always-erase-components in Cargo.toml); env.sh's value would only be added on top.
unset RUSTFLAGS

bash scripts/setup.sh
cargo leptos build --release

export LEPTOS_SITE_ROOT="$here/target/site"
export RA_PORTAL_DATA_DIR="${RA_PORTAL_DATA_DIR:-$here/data}"
exec "$CARGO_TARGET_DIR/release/ra-portal" serve "$@"
