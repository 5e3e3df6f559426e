"""The local stack as clients meet it: one port, nginx in front of two replicas."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from ..integration.conftest import user_token
from .conftest import Deployment


async def _first_events(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], events: asyncio.Queue[Any]
) -> None:
    async with client.stream("GET", url, headers=headers) as response:
        await events.put(response.status_code)
        async for line in response.aiter_lines():
            if line.startswith("data:") and line[5:].strip():
                await events.put(json.loads(line[5:]))


class TestThroughTheBalancer:
    async def test_a_stream_through_nginx_hears_a_write_made_through_nginx(
        self, deployment: Deployment
    ) -> None:
        """The stream holds one connection, so nginx (least_conn) sends the write to the
        other replica; the event must still arrive, unbuffered, through the proxy."""
        headers = {"Authorization": f"Bearer {user_token()}"}
        events: asyncio.Queue[Any] = asyncio.Queue()
        async with (
            httpx.AsyncClient(base_url=deployment.balancer, timeout=30) as streaming,
            httpx.AsyncClient(base_url=deployment.balancer, timeout=30) as writing,
        ):
            reader = asyncio.create_task(
                _first_events(streaming, "/v1/cart/events", headers, events)
            )
            try:
                assert await asyncio.wait_for(events.get(), 10) == 200
                assert (await asyncio.wait_for(events.get(), 10))["items"] == []
                added = await writing.post(
                    "/v1/cart/items", json={"product_id": 15, "quantity": 2}, headers=headers
                )
                assert added.status_code == 200, added.text
                heard = await asyncio.wait_for(events.get(), 10)
                assert [(i["product_id"], i["quantity"]) for i in heard["items"]] == [(15, 2)]
                assert heard["version"] == added.json()["version"]
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    async def test_every_replica_answers_the_same_cart_behind_the_balancer(
        self, deployment: Deployment
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        async with httpx.AsyncClient(timeout=30) as client:
            added = await client.post(
                f"{deployment.balancer}/v1/cart/items",
                json={"product_id": 15},
                headers=headers,
            )
            assert added.status_code == 200, added.text
            answers = [
                await client.get(f"{url}/v1/cart", headers=headers)
                for url in (deployment.balancer, *deployment.replicas[:2])
            ]
        assert {a.headers["ETag"] for a in answers} == {f'"{added.json()["version"]}"'}
        assert answers[0].headers["Server"].startswith("nginx")
