#!/usr/bin/env bash
# Installs the system packages cartsync's tests and benchmarks need on Debian/Ubuntu:
# redis-server (tests, demo, benchmarks) and wrk (the load generator of `make bench`).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
# The Debian redis package starts a service on 6379; the tests start their own servers.
command -v redis-server wrk
