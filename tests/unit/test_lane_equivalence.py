"""Property: a sequence applied through the lane ends in the cart that applying it one
operation at a time ends in (storesim with the race off)."""

from __future__ import annotations

import asyncio
import hashlib
import time

import httpx
import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartsync.app import cart_policy, make_service
from cartsync.carts import operations as ops
from cartsync.carts.owners import Owner
from cartsync.carts.ports.upstream import Upstream
from cartsync.carts.snapshots import digest_of
from cartsync.cli import placeholder_settings
from cartsync.state.memory import MemoryStateStore
from cartsync.upstream.cocart import CoCartUpstream
from cartsync.upstream.storeapi import StoreApiUpstream
from storesim import SimConfig
from storesim import create_app as create_storesim

SIMPLE = [10, 11, 12, 13, 14, 15, 17, 18, 19]
KEYS = {
    p: hashlib.md5(str(p).encode(), usedforsecurity=False).hexdigest() for p in (10, 11, 12, 13, 15)
}

operation = st.one_of(
    st.builds(ops.AddItem, st.sampled_from(SIMPLE), st.integers(1, 4)),
    st.builds(ops.SetQuantity, st.sampled_from(list(KEYS.values())), st.integers(1, 5)),
    st.builds(ops.RemoveItem, st.sampled_from(list(KEYS.values()))),
    st.builds(ops.ApplyCoupon, st.sampled_from(["test", "20off", "min100", "nope"])),
    st.builds(ops.RemoveCoupon, st.sampled_from(["test", "20off"])),
    st.builds(ops.SelectShippingRate, st.sampled_from(["flat_rate:1", "free_shipping:2"])),
)


def _upstream(kind: str) -> Upstream:
    app = create_storesim(SimConfig(race=False, secret="equivalence"))
    transport = httpx.ASGITransport(app=app)
    if kind == "cocart":
        return CoCartUpstream("http://127.0.0.1:8181", transport=transport)
    return StoreApiUpstream("http://127.0.0.1:8181", transport=transport)


async def _through_lane(kind: str, sequence: list[ops.Operation], concurrent: bool) -> str:
    upstream = _upstream(kind)
    settings_ = msgspec.structs.replace(placeholder_settings(), reconcile_grace_s=1.0)
    service = make_service(cart_policy(settings_), MemoryStateStore(), upstream, time.time)
    await service.start()
    owner = Owner("user", "property")
    pairs = [(f"op{i}", op) for i, op in enumerate(sequence)]
    if concurrent:
        await asyncio.gather(*(service.apply(owner, [pair]) for pair in pairs))
    else:
        await service.apply(owner, pairs)
    cart_id = await service.cart_id(owner)
    final = await upstream.fetch_cart(await service.lane.credentials.get(cart_id))
    await service.close()
    await upstream.aclose()
    return digest_of(final.cart)


async def _one_by_one(kind: str, sequence: list[ops.Operation]) -> str:
    upstream = _upstream(kind)
    first = await upstream.fetch_cart(None)
    token, cart = first.credentials, first.cart
    for op in sequence:
        outcome = await upstream.apply_batch(token, [op], cart)
        token, cart = outcome.credentials or token, outcome.cart or cart
    final = await upstream.fetch_cart(token)
    await upstream.aclose()
    return digest_of(final.cart)


class TestLaneEquivalence:
    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        st.sampled_from(["storeapi", "cocart"]),
        st.lists(operation, min_size=1, max_size=12),
        st.booleans(),
    )
    def test_batched_application_equals_sequential_application(
        self, kind: str, sequence: list[ops.Operation], concurrent: bool
    ) -> None:
        """On either store, whether queued as one request or as concurrent ones, the
        final cart is the one-by-one cart."""
        lane = asyncio.run(_through_lane(kind, sequence, concurrent))
        direct = asyncio.run(_one_by_one(kind, sequence))
        assert lane == direct
