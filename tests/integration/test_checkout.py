"""Native checkout through cartsync: exactly one order per cart and key, whatever fails.

Two gateway replicas in front of storesim (latency and the session race on), once for
each WooCommerce profile the simulator has (8.9 and 9.9): the hazards the real stores
have (two concurrent POSTs make two orders; an order completes after its client gave
up) must not reach a shopper through cartsync.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ..support import free_port, gateway_env, start_gateway, start_storesim, stop
from .conftest import user_token

BEANIE, BELT, CAP = 10, 11, 12
ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address_1": "1 Main St",
    "city": "Los Angeles",
    "state": "CA",
    "postcode": "90001",
    "country": "US",
    "phone": "555-0100",
}
BILLING = {**ADDRESS, "email": "ada@example.com"}


@dataclass
class Shop:
    woo: str
    replicas: list[str]
    storesim: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    logs: Path = Path()


@pytest.fixture(scope="module", params=["8.9", "9.9"])
def shop(
    request: pytest.FixtureRequest, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shop]:
    woo = str(request.param)
    sim_port = free_port()
    sim = start_storesim(sim_port, "--secret", "checkout", "--woo", woo, "--latency", "30")
    logs = tmp_path_factory.mktemp(f"checkout-{woo}")
    env = gateway_env(
        f"http://127.0.0.1:{sim_port}",
        redis_url,
        upstream_read_timeout_s="2",
        upstream_read_retries="0",
        lock_ttl_s="4",
        reconcile_grace_s="3",
        write_timeout_s="20",
        write_rate_limit_per_minute="10000",
    )
    ports = [free_port(), free_port()]
    processes = [start_gateway(p, env, logs / f"replica-{n}.log") for n, p in enumerate(ports)]
    world = Shop(
        woo,
        [f"http://127.0.0.1:{p}" for p in ports],
        f"http://127.0.0.1:{sim_port}",
        processes,
        env,
        logs,
    )
    try:
        yield world
    finally:
        for process in world.processes:
            stop(process)
        stop(sim)


@pytest.fixture
async def sim(shop: Shop) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=shop.storesim, timeout=30) as client:
        yield client
        await client.put("/__sim/faults", json={})


def _user(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {user_token()}"}, timeout=30
    )


async def _orders_at_store(sim: httpx.AsyncClient, email: str) -> list[dict[str, object]]:
    listed = (await sim.get("/__sim/orders")).json()["orders"]
    return [o for o in listed if o["billing_email"] == email]


async def _fill(client: httpx.AsyncClient, email: str) -> None:
    added = await client.post("/v1/cart/items", json={"product_id": BELT})
    assert added.status_code == 200, added.text
    customer = await client.put(
        "/v1/cart/customer",
        json={"billing_address": {**BILLING, "email": email}, "shipping_address": ADDRESS},
    )
    assert customer.status_code == 200, customer.text


def _pay(client: httpx.AsyncClient, key: str, url: str | None = None) -> object:
    return client.post(
        f"{url or ''}/v1/cart/checkout",
        json={"payment_method": "bacs"},
        headers={"Idempotency-Key": key},
    )


class TestCheckout:
    async def test_an_order_is_placed_and_read_back(
        self, shop: Shop, sim: httpx.AsyncClient
    ) -> None:
        """The order in the compact style, the cart after it empty, the order listed."""
        email = f"one-{shop.woo}@example.com"
        async with _user(shop.replicas[0]) as client:
            await _fill(client, email)
            placed = await _pay(client, "pay-1")  # type: ignore[misc]
            assert placed.status_code == 200, placed.text
            order, cart = placed.json()["order"], placed.json()["cart"]
            listed = (await client.get("/v1/orders")).json()["items"]
            one = await client.get(f"/v1/orders/{order['id']}")
        assert order["status"] == "on-hold"
        assert [(line["product_id"], line["quantity"]) for line in order["lines"]] == [(BELT, 1)]
        assert order["totals"]["total"] == 7480  # 55.00 + 13.00 shipping + 10 % tax
        assert order["payment"]["status"] == "success"
        assert order["payment"]["redirect_url"] is None  # paid: nowhere to go
        assert cart["items"] == []
        assert [o["id"] for o in listed] == [order["id"]]
        assert one.json()["id"] == order["id"]
        for text in (placed.text, one.text, str(placed.headers)):
            assert "wc_order_" not in text  # the order key stays server side
        assert len(await _orders_at_store(sim, email)) == 1

    async def test_a_checkout_needs_an_idempotency_key(self, shop: Shop) -> None:
        async with _user(shop.replicas[0]) as client:
            await client.post("/v1/cart/items", json={"product_id": BEANIE})
            answer = await client.post("/v1/cart/checkout", json={"payment_method": "bacs"})
        assert answer.status_code == 422
        assert (answer.json()["code"], answer.json()["field"]) == (
            "idempotency_key_required",
            "Idempotency-Key",
        )

    async def test_an_empty_cart_and_a_missing_method_are_refused(self, shop: Shop) -> None:
        async with _user(shop.replicas[0]) as client:
            empty = await _pay(client, "empty-1")  # type: ignore[misc]
            await client.post("/v1/cart/items", json={"product_id": BEANIE})
            unknown = await client.post(
                "/v1/cart/checkout",
                json={"payment_method": "no-such-method", "billing_address": BILLING},
                headers={"Idempotency-Key": "unknown-1"},
            )
        assert (empty.status_code, empty.json()["code"]) == (409, "cart_empty")
        assert unknown.status_code == 422
        assert unknown.json()["field"] == "payment_method"

    async def test_another_users_order_is_not_found(self, shop: Shop) -> None:
        email = f"mine-{shop.woo}@example.com"
        async with _user(shop.replicas[0]) as mine, _user(shop.replicas[1]) as theirs:
            await _fill(mine, email)
            order = (await _pay(mine, "mine-1")).json()["order"]  # type: ignore[attr-defined]
            seen = await theirs.get(f"/v1/orders/{order['id']}")
        assert (seen.status_code, seen.json()["code"]) == (404, "order_not_found")


class TestExactlyOnce:
    async def test_two_devices_pressing_pay_at_once_make_one_order(
        self, shop: Shop, sim: httpx.AsyncClient
    ) -> None:
        """Different keys, both replicas, at once: one order at the store, and both
        devices are answered with it."""
        email = f"two-{shop.woo}@example.com"
        token = user_token()
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=shop.replicas[0], headers=headers) as setup:
            await _fill(setup, email)
        async with httpx.AsyncClient(headers=headers, timeout=30) as client:
            phone, laptop = await asyncio.gather(
                _pay(client, "phone-1", shop.replicas[0]),  # type: ignore[arg-type]
                _pay(client, "laptop-1", shop.replicas[1]),  # type: ignore[arg-type]
            )
        assert (phone.status_code, laptop.status_code) == (200, 200), (phone.text, laptop.text)
        assert phone.json()["order"]["id"] == laptop.json()["order"]["id"]
        assert len(await _orders_at_store(sim, email)) == 1

    async def test_the_same_key_after_a_dropped_answer_returns_the_one_order(
        self, shop: Shop, sim: httpx.AsyncClient
    ) -> None:
        """The store placed the order and the answer was dropped: the retry with the same
        key gets that order (Idempotent-Replayed), and the store has one."""
        email = f"drop-{shop.woo}@example.com"
        async with _user(shop.replicas[0]) as client:
            await _fill(client, email)
            await sim.put(
                "/__sim/faults",
                json={"next_drops": 1, "when": "after", "match": "POST checkout"},
            )
            first = await _pay(client, "drop-1")  # type: ignore[misc]
            retry = await _pay(client, "drop-1")  # type: ignore[misc]
        assert first.status_code == 200, first.text  # reconciled from the draft order
        assert retry.status_code == 200
        assert retry.headers.get("Idempotent-Replayed") == "true"
        assert retry.json()["order"]["id"] == first.json()["order"]["id"]
        assert len(await _orders_at_store(sim, email)) == 1

    async def test_a_replica_killed_mid_checkout_leaves_one_order(
        self, shop: Shop, sim: httpx.AsyncClient
    ) -> None:
        """SIGKILL to the replica while the store holds its checkout: the client's retry
        on the other replica, same key, returns the one order."""
        email = f"kill-{shop.woo}@example.com"
        token = user_token()
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "kill-1"}
        body = {"payment_method": "bacs"}
        async with httpx.AsyncClient(
            base_url=shop.replicas[0], headers={"Authorization": f"Bearer {token}"}
        ) as setup:
            await _fill(setup, email)
        await sim.put(
            "/__sim/faults",
            json={"next_hangs": 1, "hang_seconds": 1.5, "when": "after", "match": "POST checkout"},
        )
        async with httpx.AsyncClient(timeout=30) as client:
            sent = await _requests(sim, "POST checkout")
            doomed = asyncio.create_task(
                client.post(f"{shop.replicas[0]}/v1/cart/checkout", json=body, headers=headers)
            )
            await _until_request_at_store(sim, "POST checkout", sent)
            shop.processes[0].send_signal(signal.SIGKILL)
            shop.processes[0].wait()
            with pytest.raises(httpx.TransportError):
                await doomed
            retry = await _until_final(
                lambda: client.post(
                    f"{shop.replicas[1]}/v1/cart/checkout", json=body, headers=headers
                )
            )
        port = int(shop.replicas[0].rsplit(":", 1)[1])
        shop.processes[0] = start_gateway(port, shop.env, shop.logs / "replica-0-again.log")
        assert retry.status_code == 200, retry.text
        assert len(await _orders_at_store(sim, email)) == 1
        assert retry.json()["order"]["id"] == (await _orders_at_store(sim, email))[0]["id"]


async def _until_final(send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """Send again while the answer says "not yet" (409 idempotency_in_progress while the
    dead replica's lease runs out, 503, 504), as a client does, honouring Retry-After."""
    for _ in range(60):
        answer = await send()
        not_yet = answer.status_code in (503, 504) or (
            answer.status_code == 409 and answer.json()["code"] == "idempotency_in_progress"
        )
        if not not_yet:
            return answer
        await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))  # wait-ok: Retry-After
    raise AssertionError("no final answer")


async def _requests(sim: httpx.AsyncClient, route: str) -> int:
    counters = (await sim.get("/__sim/state")).json()["counters"]["requests"]
    return int(counters.get(route, 0))


async def _until_request_at_store(sim: httpx.AsyncClient, route: str, before: int) -> None:
    for _ in range(200):
        if await _requests(sim, route) > before:
            return
        await asyncio.sleep(0.02)  # wait-ok: polling the store's counter with a deadline
    raise AssertionError(f"{route} never reached the store")
