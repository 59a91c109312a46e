# Shared settings of the scripts; sourced, not run.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# pkilint (the S/MIME certificate linter the tests run) lives in a virtual environment of its own.
export PKILINT_VENV="$HOME/.cache/ra-portal/pkilint-venv"
# scim2-tester (the SCIM compliance checker scripts/scim-check.sh runs) has one of its own too.
export SCIM_VENV="$HOME/.cache/ra-portal/scim-venv"
# schemathesis (the REST API checker scripts/api-check.sh runs) too; its CLI `st` is not put on
# PATH (the scripts call it by its path).
export SCHEMATHESIS_VENV="$HOME/.cache/ra-portal/schemathesis-venv"
export PATH="$HOME/.cargo/bin:$here/end2end/node_modules/.bin:$PKILINT_VENV/bin:$SCIM_VENV/bin:$PATH"
# The cargo target dir lives outside the clone so that every clone (CI makes a fresh one per run)
# reuses the same compiled dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ra-portal/target}"
# cargo-leptos builds debug code with `--cfg erase_components`; plain `cargo test` must use the same
# flags or it rebuilds every dependency from scratch.
export RUSTFLAGS="${RUSTFLAGS:---cfg erase_components}"
