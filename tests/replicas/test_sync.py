"""Sync across devices, over HTTP against storesim and Redis, across two replicas."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ..integration.conftest import user_token
from .conftest import Deployment


async def _events(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    queue: asyncio.Queue[dict[str, Any]],
) -> None:
    """Read an SSE stream, putting each ``cart`` event (id and data) on ``queue``."""
    async with client.stream("GET", url, headers=headers) as response:
        await queue.put({"status": response.status_code})
        event: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                event["id"] = line[3:].strip()
            elif line.startswith("data:") and line[5:].strip():
                event["data"] = json.loads(line[5:].strip())
            elif line == "" and "data" in event:
                await queue.put(event)
                event = {}


@pytest.fixture
async def stream_tasks() -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class TestChangeFeed:
    async def test_a_write_on_one_replica_reaches_a_stream_on_another(
        self, deployment: Deployment, stream_tasks: list[asyncio.Task[None]]
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        one, two = deployment.replicas[:2]
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        async with httpx.AsyncClient(timeout=30) as client:
            stream_tasks.append(
                asyncio.create_task(_events(client, f"{two}/v1/cart/events", headers, queue))
            )
            assert (await asyncio.wait_for(queue.get(), 10))["status"] == 200
            initial = await asyncio.wait_for(queue.get(), 10)
            assert initial["data"]["items"] == []
            written = await client.post(
                f"{one}/v1/cart/items", json={"product_id": 15}, headers=headers
            )
            event = await asyncio.wait_for(queue.get(), 10)
        assert f'"{event["id"]}"' == written.headers["ETag"]
        assert event["data"]["items"][0]["product_id"] == 15

    async def test_last_event_id_resumes_and_a_client_behind_gets_the_cart_at_once(
        self, deployment: Deployment, stream_tasks: list[asyncio.Task[None]]
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        url = deployment.replicas[0]
        async with httpx.AsyncClient(timeout=30) as client:
            first = await client.post(
                f"{url}/v1/cart/items", json={"product_id": 15}, headers=headers
            )
            second = await client.post(
                f"{url}/v1/cart/items", json={"product_id": 10}, headers=headers
            )
            behind: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            stream_tasks.append(
                asyncio.create_task(
                    _events(
                        client,
                        f"{url}/v1/cart/events",
                        {**headers, "Last-Event-ID": first.headers["ETag"].strip('"')},
                        behind,
                    )
                )
            )
            await behind.get()
            caught_up = await asyncio.wait_for(behind.get(), 10)
            assert f'"{caught_up["id"]}"' == second.headers["ETag"]
            current: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            stream_tasks.append(
                asyncio.create_task(
                    _events(
                        client,
                        f"{url}/v1/cart/events",
                        {**headers, "Last-Event-ID": second.headers["ETag"].strip('"')},
                        current,
                    )
                )
            )
            await current.get()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(current.get(), 0.5)  # up to date: nothing to send

    async def test_browsers_open_the_stream_with_a_short_lived_owner_bound_token(
        self, deployment: Deployment, stream_tasks: list[asyncio.Task[None]]
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        url = deployment.replicas[0]
        async with httpx.AsyncClient(timeout=30) as client:
            await client.post(f"{url}/v1/cart/items", json={"product_id": 13}, headers=headers)
            issued = (await client.post(f"{url}/v1/cart/events/token", headers=headers)).json()
            assert issued["expires_at"] - time.time() <= 61
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            stream_tasks.append(
                asyncio.create_task(
                    _events(
                        client, f"{url}/v1/cart/events?stream_token={issued['token']}", {}, queue
                    )
                )
            )
            assert (await queue.get())["status"] == 200
            event = await asyncio.wait_for(queue.get(), 10)
            assert event["data"]["items"][0]["product_id"] == 13
            forged = await client.get(f"{url}/v1/cart/events?stream_token={user_token()}")
            assert forged.status_code == 401
            anonymous = await client.get(f"{url}/v1/cart/events")
            assert anonymous.status_code == 401

    async def test_a_long_poll_answers_on_the_next_change_or_304(
        self, deployment: Deployment
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        one, two = deployment.replicas[:2]
        async with httpx.AsyncClient(timeout=30) as client:
            version = (await client.get(f"{one}/v1/cart", headers=headers)).json()["version"]
            quiet = await client.get(
                f"{two}/v1/cart",
                headers=headers,
                params={"wait_for_change": version, "timeout": 0.3},
            )
            assert quiet.status_code == 304
            waiting = asyncio.create_task(
                client.get(
                    f"{two}/v1/cart",
                    headers=headers,
                    params={"wait_for_change": version, "timeout": 10},
                )
            )
            await asyncio.sleep(0.2)  # wait-ok: let the long poll start before the write
            written = await client.post(
                f"{one}/v1/cart/items", json={"product_id": 15}, headers=headers
            )
            answer = await waiting
        assert answer.status_code == 200
        assert answer.headers["ETag"] == written.headers["ETag"]


class TestMerge:
    async def test_a_guest_cart_merges_into_the_users_cart_once(
        self, deployment: Deployment
    ) -> None:
        url = deployment.replicas[0]
        user = {"Authorization": f"Bearer {user_token()}"}
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            guest_token = (await client.post("/v1/session/guest")).json()["token"]
            guest = {"Authorization": f"Bearer {guest_token}"}
            await client.post(
                "/v1/cart/items", json={"product_id": 10, "quantity": 2}, headers=guest
            )
            await client.post(
                "/v1/cart/items", json={"product_id": 12, "quantity": 2}, headers=guest
            )
            await client.post("/v1/cart/coupons", json={"code": "test"}, headers=guest)
            await client.put(
                "/v1/cart/customer",
                headers=guest,
                json={
                    "shipping_address": {
                        "first_name": "Gus",
                        "address_1": "2 Side St",
                        "city": "Albany",
                        "state": "NY",
                        "postcode": "12207",
                        "country": "US",
                    }
                },
            )
            await client.post("/v1/cart/items", json={"product_id": 10}, headers=user)
            await client.post(
                "/v1/cart/items", json={"product_id": 12, "quantity": 2}, headers=user
            )
            merged = await client.post(
                "/v1/cart/merge", json={"guest_token": guest_token}, headers=user
            )
            assert merged.status_code == 200
            body = merged.json()
            again = await client.post(
                "/v1/cart/merge", json={"guest_token": guest_token}, headers=user
            )
            after_again = (await client.get("/v1/cart", headers=user)).json()
            guest_now = (await client.get("/v1/cart", headers=guest)).json()
        cart = body["cart"]
        quantities = {i["product_id"]: i["quantity"] for i in cart["items"]}
        assert quantities == {10: 3, 12: 3}  # sum, and the Cap capped by its stock of 3
        if deployment.kind == "storeapi":
            assert [c["code"] for c in cart["coupons"]] == ["test"]
            assert cart["shipping_address"]["city"] == "Albany"
        else:  # CoCart free: no coupons, and only the billing address is kept
            assert body["merge"]["coupons"] == []  # the guest could not apply one
        assert {line["status"] for line in body["merge"]["lines"]} == {"merged"}
        assert again.json()["merge"] == body["merge"]
        assert after_again["version"] == cart["version"]  # running it twice changed nothing
        assert guest_now["items"] == []  # the guest cart was retired

    async def test_lines_that_cannot_be_added_are_reported(self, deployment: Deployment) -> None:
        url = deployment.replicas[1]
        user = {"Authorization": f"Bearer {user_token()}"}
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as client,
            httpx.AsyncClient(base_url=deployment.storesim) as sim,
        ):
            guest_token = (await client.post("/v1/session/guest")).json()["token"]
            guest = {"Authorization": f"Bearer {guest_token}"}
            await client.post("/v1/cart/items", json={"product_id": 15}, headers=guest)
            await client.post("/v1/cart/items", json={"product_id": 11}, headers=guest)
            await sim.put("/__sim/products/11/stock", json={"in_stock": False})
            try:
                merged = await client.post(
                    "/v1/cart/merge", headers=user, json={"guest_token": guest_token}
                )
            finally:
                await sim.put("/__sim/products/11/stock", json={"in_stock": True})
        report = {line["product_id"]: line for line in merged.json()["merge"]["lines"]}
        assert report[15]["status"] == "merged"
        assert report[11]["status"] == "refused"
        assert report[11]["error"]["code"] == "out_of_stock"

    async def test_merge_needs_a_user_and_a_guest_token(self, deployment: Deployment) -> None:
        url = deployment.replicas[0]
        user = {"Authorization": f"Bearer {user_token()}"}
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            guest_token = (await client.post("/v1/session/guest")).json()["token"]
            not_guest = await client.post(
                "/v1/cart/merge", headers=user, json={"guest_token": user_token()}
            )
            assert (not_guest.status_code, not_guest.json()["code"]) == (401, "invalid_token")
            as_guest = await client.post(
                "/v1/cart/merge",
                json={"guest_token": guest_token},
                headers={"Authorization": f"Bearer {guest_token}"},
            )
            assert as_guest.status_code == 422
            other = {"Authorization": f"Bearer {user_token()}"}
            await client.post("/v1/cart/merge", json={"guest_token": guest_token}, headers=user)
            taken = await client.post(
                "/v1/cart/merge", json={"guest_token": guest_token}, headers=other
            )
            assert (taken.status_code, taken.json()["code"]) == (409, "guest_already_merged")


class TestCheckoutHandoff:
    async def test_a_checkout_link_opens_the_cart_in_the_shop_once(
        self, deployment: Deployment
    ) -> None:
        url = deployment.replicas[0]
        headers = {"Authorization": f"Bearer {user_token()}"}
        async with httpx.AsyncClient(timeout=30) as client:
            await client.post(
                f"{url}/v1/cart/items", json={"product_id": 10, "quantity": 2}, headers=headers
            )
            link = await client.post(f"{url}/v1/cart/checkout-link", headers=headers)
            assert link.status_code == 201
            assert link.json()["expires_at"] - time.time() <= 301
            assert "eyJ" not in link.text  # the link holds a cartsync code, not the token
            opened = await client.get(link.json()["url"])
            assert opened.status_code == 303
            assert opened.headers["Cache-Control"] == "no-store"
            shop = await client.get(opened.headers["Location"])
            if deployment.kind == "cocart":
                # ?cocart-load-cart= answers 301 to itself with the session cookies
                # (as recorded); with them the storefront shows the cart.
                assert shop.status_code == 301
                shop = await client.get(f"{deployment.storesim}/checkout/")  # its cookies
            assert 'data-quantity="2"' in shop.text  # the store restored the same cart
            reused = await client.get(link.json()["url"])
            assert (reused.status_code, reused.json()["code"]) == (404, "link_expired")
            forged = await client.get(f"{url}/v1/checkout/{'x' * 43}")
            assert forged.status_code == 404
        for log in deployment.logs.glob("*.log"):
            assert link.json()["url"].rsplit("/", 1)[1] not in log.read_text()
