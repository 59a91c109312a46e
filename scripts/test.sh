#!/usr/bin/env bash
# Installs whatever is missing, then runs every test: unit and integration tests (real SQLite files,
# then the service and HTTP suites again on a throwaway PostgreSQL),
# then the browser tests in Debian's chromium against the real portal.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$here"

bash scripts/setup.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
log="$(mktemp /tmp/ra-portal-tests.XXXXXX)"
trap 'rm -f "$log"' EXIT

step "no import cycle between modules (issue 19)"
# Under a second: which module uses which, from the `use` lines of app, backend and server; every
# cycle is printed with the lines that make it.
python3 scripts/module_cycles.py 2>&1 | tee -a "$log"

step "unit and integration tests"
# Crate by crate: `app` must never be built with `ssr` and `hydrate` together.
cargo test --locked -p domain -p backend -p app -p server 2>&1 | tee -a "$log"

step "the service and HTTP suites again, on PostgreSQL (issue 22)"
# The same test binaries as above (the same packages, so nothing is built again), each test on a
# database of its own made from a migrated template on a throwaway PostgreSQL (scripts/postgres.sh,
# backend::testing); the few checks of SQLite's own files, WAL, busy timeouts and schema return early
# there (scripts/schema-check.sh checks PostgreSQL's schema). About a minute.
bash scripts/postgres.sh bash -c 'RA_TEST_POSTGRES="$PG_URL" cargo test --locked -p domain -p backend -p app -p server' 2>&1 | tee -a "$log"

step "schema check (SQLite and PostgreSQL migrations alike, issue 22)"
# Both migration sets on fresh databases (a throwaway PostgreSQL from scripts/postgres.sh), the
# catalogs compared, one script of writes and the audit trail's refusals on both; a few seconds.
bash scripts/schema-check.sh 2>&1 | tee -a "$log"

step "copy-to PostgreSQL (a demo portal copied into a throwaway PostgreSQL, issue 22)"
# The debug ra-portal with data of every kind, stopped, copied with `ra-portal copy-to`; values
# compared byte for byte; a few seconds.
bash scripts/postgres.sh python3 scripts/copy_to_check.py 2>&1 | tee -a "$log"

step "SCIM compliance (scim2-tester against the debug portal, R22)"
# The debug ra-portal the server tests just built, on a fresh data folder; a few seconds.
bash scripts/scim-check.sh 2>&1 | tee -a "$log"

step "REST API (schemathesis against the debug portal, R21)"
# The same debug ra-portal with demo data and a read+write token from the CLI; a fixed seed and a
# bounded number of cases (about a thousand requests, some 15 s).
bash scripts/api-check.sh 2>&1 | tee -a "$log"

step "SCIM and REST API checks again, on PostgreSQL (issue 22)"
# The same two checkers against the same debug portal, now on new databases of one throwaway
# PostgreSQL; some 20 s together.
bash scripts/postgres.sh bash -c 'bash scripts/scim-check.sh --postgres && bash scripts/api-check.sh --postgres' 2>&1 | tee -a "$log"

step "several instances on one database (real processes, issue 22)"
# Three debug portals on one data folder start together, deliver 5 000 challenge mails to the Node
# SMTP test server while one is killed (SIGKILL) every half second, a bulk apply is killed
# halfway, and two certificates are revoked on two instances at the same moment; some 15 s.
python3 scripts/instances_check.py 2>&1 | tee -a "$log"

step "several instances on one PostgreSQL database (real processes, issue 22)"
# The same check with the three portals on a throwaway PostgreSQL: SKIP LOCKED claims, the
# advisory write lock, a killed connection's transaction rolled back; some 15 s.
bash scripts/postgres.sh python3 scripts/instances_check.py --postgres 2>&1 | tee -a "$log"

step "fuzz the CSV parser (${FUZZ_SECONDS:-60} s)"
bash scripts/fuzz.sh

step "build the site (build-site, debug)"
# The WASM client, the site in target/site and the debug server, with RUSTFLAGS exactly
# `--cfg erase_components` (site_build/); the browser tests need no cargo-leptos.
cargo run --locked --quiet -p site_build

step "browser tests (Playwright, Debian chromium)"
export E2E_PORTAL_BIN="$CARGO_TARGET_DIR/debug/ra-portal"
export E2E_SITE_ROOT="$here/target/site"
cd end2end
npx playwright test 2>&1 | tee -a "$log"

# One closing line over both runners, so a reader of the output sees the whole count.
rust_passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
e2e_passed=$(grep -Eo '^ *[0-9]+ passed \(' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $((rust_passed + e2e_passed)) passed, 0 failed"
