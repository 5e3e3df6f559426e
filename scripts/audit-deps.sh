#!/usr/bin/env bash
# Dependency audit (`make lint`): pip-audit against the locks (requirements.lock, what
# the image ships, and requirements-dev.lock), every pinned version checked against the
# advisory data, `--strict` so a dependency that could not be audited fails the run
# instead of passing it silently (pip-audit's default is to warn and exit 0).
#
# Advisory data comes from PyPI's per-release JSON API (pip-audit's default service) or,
# failing that, from OSV. When neither answers from this machine the audit is skipped,
# and says so and why: it never passes without having checked.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}

# Which advisory service answers: "pypi", "osv", or nothing (the reasons on stderr).
service=$("$BIN/python" - <<'PY'
import json
import sys
import urllib.error
import urllib.request

PROBES = [
    # A release that exists for good: its JSON carries the `vulnerabilities` field.
    ("pypi", urllib.request.Request("https://pypi.org/pypi/pip/24.0/json")),
    ("osv", urllib.request.Request(
        "https://api.osv.dev/v1/query",
        data=json.dumps({"package": {"name": "pip", "ecosystem": "PyPI"}, "version": "24.0"}).encode(),
        headers={"Content-Type": "application/json"},
    )),
]
for name, request in PROBES:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            body = json.load(response)
        if name == "osv" or "vulnerabilities" in body:
            print(name)
            sys.exit(0)
        print(f"  {name}: {request.full_url} carries no advisory data", file=sys.stderr)
    except urllib.error.HTTPError as exc:
        print(f"  {name}: {request.full_url} answered HTTP {exc.code}", file=sys.stderr)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        print(f"  {name}: {request.full_url} unreachable ({reason})", file=sys.stderr)
PY
) || true

if [ -z "$service" ]; then
  echo "audit: SKIPPED - no advisory data reachable from this machine (above); the locks were not audited" >&2
  exit 0
fi
for lock in requirements.lock requirements-dev.lock; do
  "$BIN/pip-audit" --strict --progress-spinner off --vulnerability-service "$service" \
    --disable-pip --no-deps -r "$lock"
done
echo "audit: requirements.lock and requirements-dev.lock have no known vulnerability ($service)"
