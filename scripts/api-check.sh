#!/usr/bin/env bash
# Checks the REST API (R21) with schemathesis, an independent property-based tester: starts the
# already built debug portal with the demo data on a fresh data folder and a free port, makes a
# read+write API token for the demo NAP with the CLI, and runs schemathesis against
# /api/v1/openapi.json with a fixed seed and a bounded number of cases. Checks: no server error
# (5xx), every answer conforms to the documented schema, status code and content type, and the
# authentication checks (a request without a valid token is refused) pass. Prints one line: cases,
# failures, seconds. Exits non-zero when anything fails.
#   RA_PORTAL_BIN      the portal binary (default: the debug build in CARGO_TARGET_DIR)
#   API_CHECK_EXAMPLES cases per operation (default 25; with about 20 operations a few hundred)
#   API_CHECK_SEED     the seed (default 20261207)
#   API_CHECK_VERBOSE=1 print schemathesis' whole output
#   --postgres         the portal on a new database of the PostgreSQL that scripts/postgres.sh
#                      started (issue 22): `bash scripts/postgres.sh bash scripts/api-check.sh --postgres`
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

bin="${RA_PORTAL_BIN:-$CARGO_TARGET_DIR/debug/ra-portal}"
st="$SCHEMATHESIS_VENV/bin/st"
[ -x "$bin" ] || { echo "api-check: no portal binary at $bin (cargo build -p server first)" >&2; exit 2; }
[ -x "$st" ] || { echo "api-check: schemathesis is missing (run scripts/setup.sh)" >&2; exit 2; }

started=$(date +%s%N)
data="$(mktemp -d /tmp/ra-portal-api.XXXXXX)"
out="$data/schemathesis.out"
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
# The checker sends hundreds of requests a second with one token; the rate limit (429) would
# answer most of them instead of the handlers under test. server/tests cover the limit itself.
export RA_PORTAL_API__RATE_LIMIT_PER_MINUTE=0
export RUST_LOG="${RUST_LOG:-warn}"
unset RA_PORTAL_CONFIG RA_PORTAL_DATABASE
engine="SQLite"
if [ "${1:-}" = "--postgres" ]; then
  # A new database on the throwaway cluster; the portal migrates it at start.
  source "$here/scripts/postgres.sh"
  pg_portal_on_new_database api_check
  engine="PostgreSQL"
fi

# --demo seeds example.org and its NAP (the local account nora) on the first start.
"$bin" serve --demo >"$data/portal.log" 2>&1 &
portal_pid=$!
for _ in $(seq 1 100); do
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$portal_pid" 2>/dev/null || { cat "$data/portal.log" >&2; echo "api-check: the portal did not start" >&2; exit 1; }
  sleep 0.1
done

# The token goes to schemathesis through the environment (its config file names ${API_TOKEN}),
# never on a command line, which `ps` shows.
API_TOKEN="$("$bin" api-token create --creator nora --domain example.org --scope read-write \
  --name schemathesis --days 1 2>"$data/token.err")" || { cat "$data/token.err" >&2; exit 1; }
export API_TOKEN
cat >"$data/schemathesis.toml" <<'EOF'
[headers]
Authorization = "Bearer ${API_TOKEN}"
EOF

status=0
(cd "$data" && "$st" --config-file "$data/schemathesis.toml" run \
  "http://127.0.0.1:$port/api/v1/openapi.json" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,ignored_auth \
  --max-examples "${API_CHECK_EXAMPLES:-25}" --seed "${API_CHECK_SEED:-20261207}" \
  --phases examples,coverage,fuzzing --no-shrink --workers 2 \
  --request-timeout 30 --max-failures 50 --warnings off --no-color >"$out" 2>&1) || status=$?

elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
seconds="$((elapsed_ms / 1000)).$((elapsed_ms % 1000 / 100))"

# The summary's "Test cases:" line: "<n> generated, <m> found <k> unique failures" or "... passed".
cases=$(grep -Eo '[0-9]+ generated' "$out" | head -1 | grep -Eo '[0-9]+' || echo 0)
if [ "$status" -ne 0 ] || [ "${cases:-0}" -eq 0 ]; then
  cat "$out"
  echo "schemathesis ($engine): failed (exit $status) after ${cases:-0} cases in ${seconds} s" >&2
  exit 1
fi
[ -n "${API_CHECK_VERBOSE:-}" ] && cat "$out"
echo "schemathesis ($engine): $cases cases, 0 failures (server errors, schema, status, content type, auth) in ${seconds} s"
