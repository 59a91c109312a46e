#!/usr/bin/env bash
# Starts one portal for the browser tests on a fresh data folder (called by end2end/playwright.config.ts).
#   E2E_MODE=local  local accounts, seeded with the demo data (`serve --demo`)
#   E2E_MODE=oidc   login through the test OpenID Connect provider on E2E_OIDC_PORT
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

port="${E2E_PORTAL_PORT:?}"
bin="${E2E_PORTAL_BIN:?scripts/test.sh sets E2E_PORTAL_BIN}"
data="$(mktemp -d /tmp/ra-portal-e2e.XXXXXX)"
export RA_PORTAL_LISTEN="127.0.0.1:$port"
export RA_PORTAL_BASE_URL="http://127.0.0.1:$port"
export RA_PORTAL_DATA_DIR="$data"
export LEPTOS_SITE_ROOT="${E2E_SITE_ROOT:?scripts/test.sh sets E2E_SITE_ROOT}"

case "${E2E_MODE:-local}" in
  local)
    exec "$bin" serve --demo
    ;;
  oidc)
    export RA_PORTAL_OIDC__ISSUER="http://127.0.0.1:${E2E_OIDC_PORT:?}"
    export RA_PORTAL_OIDC__CLIENT_ID="ra-portal"
    export RA_PORTAL_OIDC__CLIENT_SECRET="test-secret"
    # Mail goes through the test SMTP server: STARTTLS with the test CA, and AUTH.
    export RA_PORTAL_MAIL__SMTP__HOST="127.0.0.1"
    export RA_PORTAL_MAIL__SMTP__PORT="${E2E_SMTP_PORT:?}"
    export RA_PORTAL_MAIL__SMTP__SECURITY="starttls"
    export RA_PORTAL_MAIL__SMTP__USERNAME="portal"
    export RA_PORTAL_MAIL__SMTP__PASSWORD="smtp-test-password"
    export RA_PORTAL_MAIL__SMTP__CA_FILE="$here/end2end/services/.tls/ca.pem"
    # Certificates name the CRL and CA URLs of a public host, as in a real deployment: pkilint
    # (which the journeys run on every certificate) refuses a loopback IP in those URLs. The tests
    # fetch the CRL from this portal's own /pki/ routes.
    export RA_PORTAL_CA__PUBLICATION_URL="http://ra.example.org"
    # The operator registers domains in the UI; this one is there from the start.
    "$bin" domain add example.org --contact-group nap-example
    exec "$bin" serve
    ;;
  *)
    echo "unknown E2E_MODE ${E2E_MODE}" >&2
    exit 2
    ;;
esac
