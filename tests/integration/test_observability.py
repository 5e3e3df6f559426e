"""What operators see: one JSON line per request with its facts, the caller's trace
carried to the store, and the store's latency in the metrics."""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from .conftest import Gateway

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy/grafana/cartsync.json"


def _log_line(gateway: Gateway, request_id: str) -> dict[str, Any]:
    """The request's log line (written just after its answer: polled for briefly)."""
    deadline = time.monotonic() + 5
    while True:
        for raw in gateway.log.read_text().splitlines():
            if request_id in raw:
                line: dict[str, Any] = json.loads(raw)
                if line.get("event") == "request" and line.get("request_id") == request_id:
                    return line
        assert time.monotonic() < deadline, f"no log line for {request_id}"
        time.sleep(0.02)  # wait-ok: the line is written after the answer is sent


class TestTracing:
    async def test_the_callers_trace_reaches_the_store_as_a_child_span(
        self, client: httpx.AsyncClient, sim: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
        request_id = secrets.token_hex(8)
        added = await client.post(
            "/v1/cart/items",
            json={"product_id": 10},
            headers={"traceparent": f"00-{trace_id}-{span_id}-01", "X-Request-ID": request_id},
        )
        assert added.status_code == 200, added.text
        seen = (await sim.get("/__sim/traceparents")).json()
        ours = [t for t in seen if t.startswith(f"00-{trace_id}-")]
        assert ours, seen
        for header in ours:
            _, _, parent, flags = header.split("-")
            assert (len(parent), flags) == (16, "01")
            assert parent != span_id  # a span of ours, child of the caller's
        line = _log_line(gateway, request_id)
        assert line["trace_id"] == trace_id
        assert 1 <= line["upstream_calls"] <= len(ours)
        assert (line["method"], line["path"], line["status"]) == ("POST", "/v1/cart/items", 200)
        assert line["batch_size"] == 1  # one write alone: an upstream write of one

    async def test_a_malformed_traceparent_starts_a_new_trace(
        self, client: httpx.AsyncClient, sim: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        request_id = secrets.token_hex(8)
        bogus = "00-" + "0" * 32 + "-" + secrets.token_hex(8) + "-01"  # all-zero trace id
        added = await client.post(
            "/v1/cart/items",
            json={"product_id": 10},
            headers={"traceparent": bogus, "X-Request-ID": request_id},
        )
        assert added.status_code == 200, added.text
        line = _log_line(gateway, request_id)
        assert len(line["trace_id"]) == 32
        assert line["trace_id"] != "0" * 32
        seen = (await sim.get("/__sim/traceparents")).json()
        assert any(t.startswith(f"00-{line['trace_id']}-") for t in seen)


class TestRequestLines:
    async def test_a_read_line_says_where_the_cart_came_from(
        self, client: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        (await client.get("/v1/cart")).raise_for_status()
        request_id = secrets.token_hex(8)
        again = await client.get("/v1/cart", headers={"X-Request-ID": request_id})
        assert again.status_code == 200
        line = _log_line(gateway, request_id)
        assert line["cache"] in ("near", "state")
        assert line["upstream_calls"] == 0
        assert "authorization" not in json.dumps(line).lower()


class TestUpstreamMetrics:
    async def test_store_calls_are_timed_by_route_and_outcome(
        self, client: httpx.AsyncClient, gateway: Gateway
    ) -> None:
        # The Store API answers an add 201, CoCart 200; both on their cart/add-item route.
        outcome = 'outcome="201"' if gateway.kind == "storeapi" else 'outcome="200"'

        async def count() -> float:
            text = (await client.get("/metrics")).text
            total = 0.0
            for row in text.splitlines():
                if (
                    row.startswith("cartsync_upstream_request_duration_seconds_count{")
                    and 'route="/cart/add-item"' in row
                    and outcome in row
                ):
                    total += float(row.rsplit(" ", 1)[1])
            return total

        before = await count()
        added = await client.post("/v1/cart/items", json={"product_id": 10})
        assert added.status_code == 200, added.text
        assert await count() == before + 1


class TestDashboard:
    async def test_every_metric_the_dashboard_queries_is_exported(
        self, client: httpx.AsyncClient
    ) -> None:
        dashboard = json.loads(DASHBOARD.read_text())
        queried = {
            name
            for panel in dashboard["panels"]
            for target in panel["targets"]
            for name in re.findall(r"cartsync_[a-z_]+", target["expr"])
        }
        assert len(queried) >= 10
        added = await client.post("/v1/cart/items", json={"product_id": 10})
        assert added.status_code == 200, added.text
        (await client.get("/v1/cart")).raise_for_status()
        exported = {
            row.split("{", 1)[0].split(" ", 1)[0]
            for row in (await client.get("/metrics")).text.splitlines()
            if row.startswith("cartsync_")
        }
        assert queried <= exported, queried - exported
