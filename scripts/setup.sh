#!/usr/bin/env bash
# Installs whatever the portal needs to build, run and test, and only what is missing.
# Safe to run again: every step first checks whether its tool is already there.
#   setup.sh        everything: build, run and test (chromium, the Python checkers, ...)
#   setup.sh --run  only what building and running the portal needs (scripts/run.sh): a new user's
#                   first start does not wait for the test tools (P5)
set -euo pipefail
for_tests=1
[ "${1:-}" = "--run" ] && for_tests=0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
# Where env.sh puts pkilint; set here too, so this script also works on its own.
PKILINT_VENV="${PKILINT_VENV:-$HOME/.cache/ra-portal/pkilint-venv}"
SCIM_VENV="${SCIM_VENV:-$HOME/.cache/ra-portal/scim-venv}"
SCHEMATHESIS_VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/ra-portal/schemathesis-venv}"

# The site is built by build-site (site_build/), a crate of the workspace that runs wasm-bindgen
# through its library: neither cargo-leptos (about 20 minutes to install) nor wasm-bindgen-cli
# (about 3.5 minutes) is installed. `cargo leptos watch` still works for whoever installs it
# (`cargo install cargo-leptos --version 0.3.10 --locked`, and wasm-bindgen-cli 0.2.130).

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

apt_missing=()
command -v cc >/dev/null || apt_missing+=(build-essential)
command -v pkg-config >/dev/null || apt_missing+=(pkg-config)
if [ "$for_tests" = 1 ]; then
  command -v chromium >/dev/null || apt_missing+=(chromium)
  command -v sqlite3 >/dev/null || apt_missing+=(sqlite3)
  # The throwaway PostgreSQL of the tests (scripts/postgres.sh: initdb, pg_ctl, psql, pg_trgm).
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_missing+=(postgresql)
  command -v openssl >/dev/null || apt_missing+=(openssl)
  fc-list 2>/dev/null | grep -qi dejavu || apt_missing+=(fonts-dejavu-core)
fi
if [ "${#apt_missing[@]}" -gt 0 ]; then
  log "apt-get install ${apt_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null; then
  log "apt-get install nodejs npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

# pkilint lints every certificate the CA tests issue against the S/MIME Baseline Requirements.
# It goes into a virtual environment of its own (env.sh puts it on PATH): Debian's system Python
# refuses `pip install` outside one (PEP 668).
if [ "$for_tests" = 1 ] && [ ! -x "$PKILINT_VENV/bin/lint_cabf_smime_cert" ]; then
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    log "apt-get install python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  log "pip install pkilint (into $PKILINT_VENV)"
  python3 -m venv "$PKILINT_VENV"
  "$PKILINT_VENV/bin/pip" install --quiet pkilint
fi

# scim2-tester checks the SCIM endpoint against RFC 7643/7644 (scripts/scim-check.sh); its CLI is
# scim2-cli. Versions pinned so that a new checker release cannot turn the build red overnight.
if [ "$for_tests" = 1 ] && [ ! -x "$SCIM_VENV/bin/scim" ]; then
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    log "apt-get install python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  log "pip install scim2-cli scim2-tester (into $SCIM_VENV)"
  python3 -m venv "$SCIM_VENV"
  "$SCIM_VENV/bin/pip" install --quiet "scim2-cli==0.6.0" "scim2-tester==0.5.2"
fi

# schemathesis checks the REST API against its OpenAPI document (scripts/api-check.sh). Pinned, as
# scim2-tester is: a new release with new checks must not turn the build red overnight.
if [ "$for_tests" = 1 ] && [ ! -x "$SCHEMATHESIS_VENV/bin/st" ]; then
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    log "apt-get install python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  log "pip install schemathesis (into $SCHEMATHESIS_VENV)"
  python3 -m venv "$SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/pip" install --quiet "schemathesis==4.32.5"
fi

if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# npm packages for the browser tests and the test services (OIDC provider, SMTP server),
# wasm-opt from npm's binaryen (Debian's binaryen 108 produces broken WASM), and Swagger UI
# (swagger-ui-dist) for the API's documentation page, which build-site copies into the site: so
# the run command installs them too, and only when the lock file changed.
if [ -f "$here/end2end/package-lock.json" ]; then
  stamp="$here/end2end/node_modules/.lock-stamp"
  if [ ! -f "$stamp" ] || ! cmp -s "$stamp" "$here/end2end/package-lock.json"; then
    log "npm ci (end2end)"
    (cd "$here/end2end" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/end2end/package-lock.json" "$stamp"
  fi
fi

# Old builds in the shared target dir outside the clone: cargo never removes them, and they once
# filled the disk mid-CI (scripts/prune_target.py). Seconds.
if command -v python3 >/dev/null; then
  python3 "$here/scripts/prune_target.py" "${CARGO_TARGET_DIR:-$HOME/.cache/ra-portal/target}"
fi
