#!/usr/bin/env bash
# Installs the system packages cartsync's tests and benchmarks need on Debian/Ubuntu:
# redis-server and redis-cli (tests, demo, benchmarks), nginx (the local stack's balancer) and wrk
# (the load generator of `make bench`), Node.js with npm (the TypeScript client's tests) and
# Chromium (the demo page's browser test: Playwright drives Debian's /usr/bin/chromium; Playwright's
# own browser downloads are never used).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)  # joins the test cluster
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v node >/dev/null 2>&1 || missing+=(nodejs)  # clients/typescript: npm ci && npm test
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # tests/browser: the demo page
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
# The Debian packages may start system services (redis on 6379, nginx on 80); the tests
# and the local stack start their own servers on free ports and never use those.
command -v redis-server wrk node npm chromium
