"""Faults, rate limits and counters on the CoCart face (a real storesim server for the
faults that need a socket)."""

from __future__ import annotations

import httpx
import pytest

from .helpers import COCART, cocart_add, cocart_cart, cocart_quantity


class TestFaults:
    async def test_an_error_before_the_change_leaves_the_cart_as_it_was(
        self, storesim_live: httpx.AsyncClient
    ) -> None:
        await storesim_live.put(
            "/__sim/faults", json={"next_errors": 1, "match": "cocart/v2/cart/add-item"}
        )
        response = await cocart_add(storesim_live, "f1", 15)
        assert response.status_code == 500
        assert response.json()["code"] == "internal_server_error"
        assert "CoCart-API-Cart-Key" not in response.headers
        assert cocart_quantity(await cocart_cart(storesim_live, "f1"), 15) == 0

    async def test_an_error_after_the_change_keeps_the_item(
        self, storesim_live: httpx.AsyncClient
    ) -> None:
        await storesim_live.put(
            "/__sim/faults", json={"next_errors": 1, "when": "after", "match": "cocart"}
        )
        assert (await cocart_add(storesim_live, "f2", 15)).status_code == 500
        assert cocart_quantity(await cocart_cart(storesim_live, "f2"), 15) == 1

    async def test_a_dropped_connection_after_the_change(
        self, storesim_live: httpx.AsyncClient
    ) -> None:
        await storesim_live.put(
            "/__sim/faults", json={"next_drops": 1, "when": "after", "match": "add-item"}
        )
        with pytest.raises(httpx.RemoteProtocolError):
            await cocart_add(storesim_live, "f3", 15)
        assert cocart_quantity(await cocart_cart(storesim_live, "f3"), 15) == 1

    async def test_a_hang_outlasts_the_clients_timeout(
        self, storesim_live: httpx.AsyncClient
    ) -> None:
        await storesim_live.put(
            "/__sim/faults", json={"next_hangs": 1, "hang_seconds": 2.0, "match": "cocart"}
        )
        with pytest.raises(httpx.ReadTimeout):
            await storesim_live.get(f"{COCART}/cart", params={"cart_key": "f4"}, timeout=0.3)
        state = (await storesim_live.get("/__sim/state")).json()
        assert state["counters"]["faults_injected"] == {"hang": 1}

    async def test_faults_limited_to_the_store_api_leave_cocart_alone(
        self, storesim_live: httpx.AsyncClient
    ) -> None:
        await storesim_live.put("/__sim/faults", json={"error_rate": 1.0, "match": "wc/store"})
        assert (await cocart_add(storesim_live, "f5", 15)).status_code == 200
        assert (await storesim_live.get("/wp-json/wc/store/v1/cart")).status_code == 500


class TestLimitsAndCounters:
    async def test_the_rate_limit_applies_to_cocart_routes(
        self, storesim: httpx.AsyncClient
    ) -> None:
        await storesim.put("/__sim/rate-limit", json={"enabled": True, "limit": 2, "seconds": 30})
        answers = [
            await storesim.get(f"{COCART}/cart", params={"cart_key": "rl"}) for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [200, 200, 400]
        assert answers[2].json()["code"] == "rate_limit_exceeded"
        assert answers[2].headers["RateLimit-Remaining"] == "0"

    async def test_requests_are_counted_per_cocart_route(self, storesim: httpx.AsyncClient) -> None:
        await cocart_add(storesim, "cnt", 10)
        await cocart_add(storesim, "cnt", 11)
        await storesim.get(f"{COCART}/cart", params={"cart_key": "cnt"})
        await storesim.post(
            "/wp-json/batch/v1",
            json={
                "requests": [
                    {"path": "/cocart/v2/cart/add-item?cart_key=cnt", "body": {"id": "10"}}
                ]
            },
        )
        counters = (await storesim.get("/__sim/state")).json()["counters"]
        assert counters["requests"] == {
            "POST cocart/v2/cart/add-item": 2,
            "GET cocart/v2/cart": 1,
            "POST batch/v1": 1,
        }
        assert counters["subrequests"] == {"POST cocart/v2/cart/add-item": 1}
        assert counters["writes"] == 3

    async def test_the_control_plane_reads_seeds_and_drops_carts(
        self, storesim: httpx.AsyncClient
    ) -> None:
        seeded = await storesim.put(
            "/__sim/cocart/carts/seeded",
            json={
                "items": [
                    {"id": 10, "quantity": 2},
                    {"id": 16, "variation": {"attribute_pa_color": "red", "attribute_logo": "No"}},
                ]
            },
        )
        assert seeded.status_code == 200
        assert [(i["id"], i["quantity"]) for i in seeded.json()["items"]] == [(10, 2), (19, 1)]
        assert seeded.json()["cart"]["cart_key"] == "seeded"
        listed = (await storesim.get("/__sim/cocart/carts")).json()["carts"]
        assert [(c["cart_key"], c["item_count"]) for c in listed] == [("seeded", 3)]
        assert cocart_quantity(await cocart_cart(storesim, "seeded"), 19) == 1
        assert (await storesim.delete("/__sim/cocart/carts/seeded")).json() == {"deleted": True}
        assert (await storesim.get("/__sim/cocart/carts/seeded")).status_code == 404
        refused = await storesim.put("/__sim/cocart/carts/bad", json={"items": [{"id": 14}]})
        assert refused.status_code == 400
