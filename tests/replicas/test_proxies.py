"""Shoppers behind the stack's nginx: each keeps an address of its own, in cartsync's
guest-token limit and at the store, and cannot take another's by forging
``X-Forwarded-For``.

Two shoppers on one machine: clients bound to 127.0.0.2 and 127.0.0.3 (all of 127/8 is
loopback on Linux); nginx reaches the replica from 127.0.0.1, the one trusted proxy
(``CARTSYNC_TRUSTED_PROXIES``, set by the stack). One replica, so the per-replica
guest-token window is exactly the one a shopper fills.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from deploy.local.stack import Stack

from ..integration.conftest import user_token
from ..support import AUDIENCE, GUEST_SECRET, ISSUER, JWT_SECRET

PER_MINUTE = 100  # guest tokens: a tenth of it, 10 a minute per client address
GUESTS_PER_MINUTE = 10
ALICE, BOB = "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(
        replicas=1,
        latency="off",
        settings={"rate_limit_per_minute": str(PER_MINUTE)},
        workdir=tmp_path_factory.mktemp("proxied"),
        jwt_secret=JWT_SECRET,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        guest_secret=GUEST_SECRET,
    ).start()
    try:
        yield running
    finally:
        running.stop()


def _shopper(stack: Stack, address: str, agent: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(
        base_url=stack.url, transport=transport, timeout=20, headers={"User-Agent": agent}
    )


@pytest.fixture
async def shoppers(stack: Stack) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        _shopper(stack, ALICE, "Alice/1.0 (iPhone)") as alice,
        _shopper(stack, BOB, "Bob/2.0 (Android)") as bob,
    ):
        yield alice, bob


class TestBehindNginx:
    async def test_two_shoppers_have_their_own_guest_token_buckets(
        self, shoppers: tuple[httpx.AsyncClient, httpx.AsyncClient]
    ) -> None:
        alice, bob = shoppers
        issued = [(await alice.post("/v1/session/guest")).status_code for _ in range(11)]
        assert issued == [201] * GUESTS_PER_MINUTE + [429]
        # Forging X-Forwarded-For does not move Alice into Bob's bucket: nginx appends the
        # address it saw, and the replica takes the right-most one that is not a proxy.
        forged = await alice.post("/v1/session/guest", headers={"X-Forwarded-For": BOB})
        assert forged.status_code == 429
        assert forged.json()["code"] == "rate_limited"
        assert (await bob.post("/v1/session/guest")).status_code == 201

    async def test_the_store_sees_each_shoppers_address(
        self, stack: Stack, shoppers: tuple[httpx.AsyncClient, httpx.AsyncClient]
    ) -> None:
        alice, bob = shoppers
        async with httpx.AsyncClient(base_url=stack.storesim_url) as sim:
            # WooCommerce's limiter with proxy_support, as the README says to set it.
            limit = {"enabled": True, "limit": 1000, "seconds": 600, "proxy_support": True}
            (await sim.put("/__sim/rate-limit", json=limit)).raise_for_status()
            try:
                for shopper, writes in ((alice, 2), (bob, 1)):
                    headers = {"Authorization": f"Bearer {user_token()}"}
                    if shopper is alice:  # a claim of her own goes nowhere
                        headers["X-Forwarded-For"] = "203.0.113.9"
                    for _ in range(writes):
                        added = await shopper.post(
                            "/v1/cart/items", json={"product_id": 15}, headers=headers
                        )
                        assert added.status_code == 200, added.text
                seen = (await sim.get("/__sim/forwarded")).json()
            finally:
                await sim.put("/__sim/rate-limit", json={"enabled": False})
        # Every call the store got was counted under the shopper it was made for; none
        # under the gateway's own address.
        assert set(seen) == {ALICE, BOB}
        assert seen[ALICE] > seen[BOB] >= 1
