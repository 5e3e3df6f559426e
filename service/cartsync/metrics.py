"""Prometheus metrics recorded where things happen (the rest are collected from the
cart service's counters in ``observability.py``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

UPSTREAM_SECONDS = Histogram(
    "cartsync_upstream_request_duration_seconds",
    "Calls to the store: latency by method, route and outcome (status or error)",
    ["method", "route", "outcome"],
    buckets=(0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8),
)


JWKS_FETCHES = Counter(
    "cartsync_jwks_fetches",
    "Fetches of the identity provider's key set (CARTSYNC_JWT_JWKS_URL) by outcome",
    ["outcome"],
)


def observe_upstream(method: str, route: str, outcome: str, seconds: float) -> None:
    UPSTREAM_SECONDS.labels(method, route, outcome).observe(seconds)
