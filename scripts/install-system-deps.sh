#!/usr/bin/env bash
# Installs the system packages cartsync's tests and benchmarks need on Debian/Ubuntu:
# redis-server and redis-cli (tests, demo, benchmarks), nginx (the local stack's balancer) and wrk
# (the load generator of `make bench`), Node.js with npm (the TypeScript client's tests) and
# Chromium (the demo page's browser test: Playwright drives Debian's /usr/bin/chromium; Playwright's
# own browser downloads are never used).
#
# With --image-test[=podman|docker] it installs instead what `make image-test` needs (nothing
# else needs it): debootstrap (the stand-in base images) and, for Podman, Debian's podman with
# runc (crun 1.8 refuses this machine's hybrid cgroups), netavark, aardvark-dns (names on a
# compose network) and iptables (netavark's NAT and published ports). Docker is not installed:
# with --image-test=docker the engine must already be there.
set -euo pipefail
missing=()
case "${1:-}" in
  --image-test | --image-test=podman)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    command -v runc >/dev/null 2>&1 || missing+=(runc)
    [ -x /usr/lib/podman/netavark ] || missing+=(netavark)
    [ -x /usr/lib/podman/aardvark-dns ] || missing+=(aardvark-dns)
    command -v iptables >/dev/null 2>&1 || missing+=(iptables)
    ;;
  --image-test=docker)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    ;;
  "") ;;
  *) echo "usage: $0 [--image-test[=podman|docker]]" >&2; exit 2 ;;
esac
if [ -n "${1:-}" ]; then
  if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    # --no-install-recommends: podman's recommends (buildah, fuse-overlayfs, slirp4netns,
    # uidmap) are for rootless use; as root none is needed. runc named beside podman so
    # that apt takes it, not crun, for podman's runtime.
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
  exit 0
fi
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
