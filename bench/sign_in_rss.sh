#!/usr/bin/env bash
# SPEC Q7: peak server memory while 32 wrong sign-ins arrive at once (target ≤ 150 MB RSS). Starts
# `ra-portal serve` (the binary given, or the debug build in the target dir) on a fresh data folder
# with one local account, fires 32 parallel wrong passwords at /auth/login with curl, three rounds,
# and prints the process's peak RSS (VmHWM) and the answers' status codes. Two runs: the default
# settings (throttled after 10 failures of the one client), and throttling off (only the cap on
# concurrent password hashes left), which shows what that cap alone holds.
#
#   bash bench/sign_in_rss.sh [path/to/ra-portal]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
bin="${1:-$CARGO_TARGET_DIR/debug/ra-portal}"
[ -x "$bin" ] || { echo "no binary at $bin (cargo build -p server)"; exit 1; }

run() {
    local label="$1"; shift
    local tmp; tmp="$(mktemp -d)"
    local port=$((20000 + RANDOM % 20000))
    export RA_PORTAL_DATA_DIR="$tmp/data" RA_PORTAL_LISTEN="127.0.0.1:$port" RA_PORTAL_BASE_URL="http://127.0.0.1:$port"
    echo "a long enough secret" | "$bin" user add --id nora --given Nora --family Nap --password-stdin >/dev/null 2>&1
    env "$@" RUST_LOG=warn "$bin" serve >"$tmp/log" 2>&1 &
    local pid=$!
    until curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; do sleep 0.1; done
    local idle; idle=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    : >"$tmp/codes"
    for _round in 1 2 3; do
        seq 32 | xargs -P 32 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
            -H "Origin: http://127.0.0.1:$port" \
            --data-urlencode username=nora --data-urlencode "password=wrong password {}" \
            "http://127.0.0.1:$port/auth/login" >>"$tmp/codes"
    done
    local peak; peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    printf '%-40s idle RSS %4d MB, peak RSS %4d MB; answers: %s\n' "$label" $((idle / 1024)) $((peak / 1024)) \
        "$(sort "$tmp/codes" | uniq -c | awk '{printf "%s×%s ", $1, $2}')"
    rm -rf "$tmp"
}

echo "binary: $bin ($(nproc) cores)"
run "default settings (throttled)"
run "throttling off, hash cap only" RA_PORTAL_SIGN_IN__CLIENT_FREE_FAILURES=100000 RA_PORTAL_SIGN_IN__ACCOUNT_FREE_FAILURES=100000 RA_PORTAL_SIGN_IN__HASH_WAIT_MS=60000
