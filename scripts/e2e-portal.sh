#!/usr/bin/env bash
# Starts the portal for the browser tests on a fresh data folder (called by end2end/playwright.config.ts).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

port="${E2E_PORTAL_PORT:-3100}"
data="$(mktemp -d /tmp/ra-portal-e2e.XXXXXX)"
export RA_PORTAL_LISTEN="127.0.0.1:$port"
export RA_PORTAL_BASE_URL="http://127.0.0.1:$port"
export RA_PORTAL_DATA_DIR="$data"
export LEPTOS_SITE_ROOT="${E2E_SITE_ROOT:?scripts/test.sh sets E2E_SITE_ROOT}"
exec "${E2E_PORTAL_BIN:?scripts/test.sh sets E2E_PORTAL_BIN}" serve
