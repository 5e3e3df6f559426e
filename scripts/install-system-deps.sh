#!/usr/bin/env bash
# Installs the system packages the tests need (redis-server) on Debian/Ubuntu.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
# The Debian package starts a service on 6379; the tests start their own servers.
command -v redis-server
