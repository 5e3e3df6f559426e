#!/usr/bin/env bash
# Installs the system packages cartsync's tests and benchmarks need on Debian/Ubuntu:
# redis-server and redis-cli (tests, demo, benchmarks), nginx (the local stack's balancer) and wrk
# (the load generator of `make bench`).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)  # joins the test cluster
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
# The Debian packages may start system services (redis on 6379, nginx on 80); the tests
# and the local stack start their own servers on free ports and never use those.
command -v redis-server wrk
