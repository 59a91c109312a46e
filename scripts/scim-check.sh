#!/usr/bin/env bash
# Checks the SCIM 2.0 endpoint (R22) with scim2-tester, an independent compliance checker
# (`scim test` of scim2-cli): starts the already built debug portal on a fresh data folder and a
# free port, makes a bearer token with the CLI, runs every check, stops the portal, and prints one
# line: how many checks passed and how long it took. Exits non-zero when any check does not pass.
#   RA_PORTAL_BIN  the portal binary (default: the debug build in CARGO_TARGET_DIR)
#   SCIM_VERBOSE=1 print every check's result, not only the failed ones
#   --postgres     the portal on a new database of the PostgreSQL that scripts/postgres.sh started
#                  (issue 22): `bash scripts/postgres.sh bash scripts/scim-check.sh --postgres`
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

bin="${RA_PORTAL_BIN:-$CARGO_TARGET_DIR/debug/ra-portal}"
scim="$SCIM_VENV/bin/scim"
[ -x "$bin" ] || { echo "scim-check: no portal binary at $bin (cargo build -p server first)" >&2; exit 2; }
[ -x "$scim" ] || { echo "scim-check: scim2-cli is missing (run scripts/setup.sh)" >&2; exit 2; }

started=$(date +%s%N)
data="$(mktemp -d /tmp/ra-portal-scim.XXXXXX)"
out="$data/scim-test.out"
portal_pid=""
cleanup() {
  if [ -n "$portal_pid" ]; then kill "$portal_pid" 2>/dev/null || true; wait "$portal_pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

# A free port, chosen by the kernel.
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export RA_PORTAL_DATA_DIR="$data/portal"
export RA_PORTAL_LISTEN="127.0.0.1:$port"
export RA_PORTAL_BASE_URL="http://127.0.0.1:$port"
export RUST_LOG="${RUST_LOG:-warn}"
unset RA_PORTAL_CONFIG RA_PORTAL_DATABASE
engine="SQLite"
if [ "${1:-}" = "--postgres" ]; then
  # A new database on the throwaway cluster; the portal migrates it at start.
  source "$here/scripts/postgres.sh"
  pg_portal_on_new_database scim_check
  engine="PostgreSQL"
fi

token="$("$bin" scim-token create --name scim2-tester 2>/dev/null)"
"$bin" serve >"$data/portal.log" 2>&1 &
portal_pid=$!
for _ in $(seq 1 100); do
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$portal_pid" 2>/dev/null || { cat "$data/portal.log" >&2; echo "scim-check: the portal did not start" >&2; exit 1; }
  sleep 0.1
done

# The token goes in through the environment, not the command line (which `ps` shows).
status=0
SCIM_CLI_HEADERS="Authorization: Bearer $token" \
  "$scim" --url "http://127.0.0.1:$port/scim/v2" test ${SCIM_VERBOSE:+--verbose} >"$out" 2>&1 || status=$?

elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
seconds="$((elapsed_ms / 1000)).$((elapsed_ms % 1000 / 100))"

# `scim test` prints one line per check, starting with its status (SUCCESS, ERROR, SKIPPED, …).
passed=$(grep -c '^SUCCESS ' "$out" || true)
failed=$(grep -Ec '^(ERROR|CRITICAL|SKIPPED|WARNING) ' "$out" || true)
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  if [ -n "${SCIM_VERBOSE:-}" ]; then cat "$out"; else grep -v '^SUCCESS ' "$out" || true; fi
  echo "scim2-tester ($engine): $passed passed, $failed failed (exit $status) in ${seconds} s" >&2
  exit 1
fi
[ -n "${SCIM_VERBOSE:-}" ] && cat "$out"
echo "scim2-tester ($engine): $passed checks passed, 0 failed in ${seconds} s"
