#!/usr/bin/env bash
# Prints, for this machine, the figures of the performance targets (SPEC §9) next to the targets,
# and appends them to bench/results.md. Builds the portal as scripts/run.sh deploys it (build-site,
# release: server binary and WASM site) and the release benchmark binary first, and installs the
# tools it drives when they are missing: what scripts/setup.sh installs (Debian's chromium and
# sqlite3, the npm packages with Playwright), Debian's wrk, and postfix's smtp-sink/smtp-source
# (postfix is installed unconfigured and its daemon is never started). Not part of the tests.
#
#   scripts/bench.sh            # every section
#   scripts/bench.sh p1 p4      # only some sections (p1, p2, p3, p4)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$here"
bash scripts/setup.sh

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ! -x /usr/sbin/smtp-sink ] || [ ! -x /usr/sbin/smtp-source ]; then missing+=(postfix); fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    if [[ " ${missing[*]} " == *" postfix "* ]]; then
        # Only the test tools are wanted: no mail configuration, and no daemon started.
        echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
            as_root chmod +x /usr/sbin/policy-rc.d
            trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
        fi
    fi
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The deployed build, exactly as scripts/run.sh makes it (build-site, the server in the profile
# `quick-release`): P1 and P4 measure this server binary and this site. RA_BENCH_PROFILE=release
# measures the packages' profile (fat LTO) instead.
profile="${RA_BENCH_PROFILE:-quick-release}"
cargo run --locked --quiet -p site_build -- --release --server-profile "$profile"
# The same profile and flags (env.sh: `--cfg erase_components`, as build-site), so the in-process
# portal of P2/P3 is the deployed server and shares its compiled dependencies.
cargo build --locked --profile "$profile" -p bench
dir="$profile"; [ "$profile" = dev ] && dir=debug
export RA_BENCH_PORTAL_BIN="$CARGO_TARGET_DIR/$dir/ra-portal"
# P1 beside PostgreSQL (issue 22) needs a throwaway cluster: scripts/postgres.sh starts one for the
# run (PG_URL) when PostgreSQL is installed, and removes it after.
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    exec bash scripts/postgres.sh "$CARGO_TARGET_DIR/$dir/ra-bench" "$@"
fi
exec "$CARGO_TARGET_DIR/$dir/ra-bench" "$@"
