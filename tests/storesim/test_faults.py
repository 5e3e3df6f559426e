"""Fault injection on a real storesim server: 500s, hangs and dropped connections."""

from __future__ import annotations

import httpx
import pytest

from .helpers import API, add, cart, new_cart, quantity


class TestFaults:
    async def test_an_injected_error_strikes_before_the_cart_changes(
        self, storesim_live: httpx.AsyncClient
    ) -> None:
        """``when=before``: a 500 with WordPress' critical-error body; nothing applied."""
        headers = await new_cart(storesim_live)
        await storesim_live.put("/__sim/faults", json={"next_errors": 1, "match": "add-item"})
        response = await add(storesim_live, headers, 15)
        assert response.status_code == 500
        assert response.json()["code"] == "internal_server_error"
        assert quantity(await cart(storesim_live, headers), 15) == 0

    async def test_an_error_after_the_change_leaves_the_item_in_the_cart(
        self, storesim_live: httpx.AsyncClient
    ) -> None:
        """``when=after``: the client sees a 500, yet the write was saved."""
        headers = await new_cart(storesim_live)
        await storesim_live.put(
            "/__sim/faults", json={"next_errors": 1, "when": "after", "match": "add-item"}
        )
        assert (await add(storesim_live, headers, 15)).status_code == 500
        assert quantity(await cart(storesim_live, headers), 15) == 1

    async def test_a_dropped_connection_gives_the_client_no_complete_answer(
        self, storesim_live: httpx.AsyncClient
    ) -> None:
        """A drop closes the connection mid-response: httpx cannot read an answer."""
        headers = await new_cart(storesim_live)
        await storesim_live.put(
            "/__sim/faults", json={"next_drops": 1, "when": "after", "match": "add-item"}
        )
        with pytest.raises(httpx.RemoteProtocolError):
            await add(storesim_live, headers, 15)
        assert quantity(await cart(storesim_live, headers), 15) == 1

    async def test_a_hang_outlasts_the_clients_timeout(
        self, storesim_live: httpx.AsyncClient
    ) -> None:
        """A hang keeps the request open past a client's read timeout."""
        headers = await new_cart(storesim_live)
        await storesim_live.put(
            "/__sim/faults", json={"next_hangs": 1, "hang_seconds": 2.0, "match": "add-item"}
        )
        with pytest.raises(httpx.ReadTimeout):
            await storesim_live.post(
                f"{API}/cart/add-item", json={"id": 15, "quantity": 1}, headers=headers, timeout=0.3
            )
        state = (await storesim_live.get("/__sim/state")).json()
        assert state["counters"]["faults_injected"] == {"hang": 1}

    async def test_faults_only_hit_matching_routes(self, storesim_live: httpx.AsyncClient) -> None:
        """A fault limited to ``batch`` leaves single writes alone."""
        headers = await new_cart(storesim_live)
        await storesim_live.put("/__sim/faults", json={"error_rate": 1.0, "match": "batch"})
        assert (await add(storesim_live, headers, 15)).status_code == 201
        batch = await storesim_live.post(
            f"{API}/batch", json={"requests": []}, headers={"Cart-Token": headers["Cart-Token"]}
        )
        assert batch.status_code == 500

    async def test_reset_clears_faults_sessions_and_counters(
        self, storesim_live: httpx.AsyncClient
    ) -> None:
        """``POST /__sim/reset`` returns the simulator to its start-up state."""
        await storesim_live.put("/__sim/faults", json={"error_rate": 1.0})
        await storesim_live.post("/__sim/reset")
        state = (await storesim_live.get("/__sim/state")).json()
        assert state["faults"]["error_rate"] == 0.0
        assert state["sessions"] == 0
        assert state["counters"]["requests"] == {}
