"""The session race of the real store: overlapping writes to one cart lose updates."""

from __future__ import annotations

import asyncio

import httpx

from .helpers import API, add, cart, new_cart, quantity


async def _burst(client: httpx.AsyncClient, n: int) -> tuple[list[int], int]:
    headers = await new_cart(client)
    responses = await asyncio.gather(*(add(client, headers, 15) for _ in range(n)))
    return [r.status_code for r in responses], quantity(await cart(client, headers), 15)


class TestSessionRace:
    async def test_concurrent_add_items_are_all_acknowledged_but_some_are_lost(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """With the race on (the default), 25 concurrent adds answer 201 yet lose items."""
        statuses, kept = await _burst(storesim, 25)
        assert statuses == [201] * 25
        assert kept < 25

    async def test_switching_the_race_off_keeps_every_item(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """With the race off, the same burst keeps all 25 items."""
        (await storesim.put("/__sim/race", json={"enabled": False})).raise_for_status()
        statuses, kept = await _burst(storesim, 25)
        assert statuses == [201] * 25
        assert kept == 25

    async def test_one_batch_of_25_keeps_every_item_even_with_the_race_on(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """A batch is one PHP request: its 25 sub-requests apply in order, none lost."""
        headers = await new_cart(storesim)
        sub = {
            "method": "POST",
            "path": "/wc/store/v1/cart/add-item",
            "body": {"id": 15, "quantity": 1},
            "headers": headers,
        }
        response = await storesim.post(
            f"{API}/batch",
            json={"requests": [sub] * 25},
            headers={"Cart-Token": headers["Cart-Token"]},
        )
        assert response.status_code == 207
        quantities = [r["body"]["items"][0]["quantity"] for r in response.json()["responses"]]
        assert quantities == list(range(1, 26))
        assert quantity(await cart(storesim, headers), 15) == 25

    async def test_sequential_writes_never_lose_updates(self, storesim: httpx.AsyncClient) -> None:
        """The race needs overlap: one write after the other keeps everything."""
        headers = await new_cart(storesim)
        for _ in range(10):
            assert (await add(storesim, headers, 15)).status_code == 201
        assert quantity(await cart(storesim, headers), 15) == 10
