"""One contract for every store adapter: what the domain relies on from ``Upstream``.

Each test runs against the Store API and the CoCart adapter, each over storesim in
process (an ASGI transport) and as a real server (faults that hang or drop a connection
need a real socket). Several operations are applied as the lane applies them: turn by
turn, each turn the size ``turn()`` says one request carries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from cartsync.carts import errors as domain
from cartsync.carts import operations as ops
from cartsync.carts.model import Cart
from cartsync.carts.ports.upstream import BatchOutcome, Upstream
from cartsync.carts.ports.upstream_errors import (
    UpstreamOutcomeUnknown,
    UpstreamRateLimited,
    UpstreamRefused,
    UpstreamUnavailable,
)
from cartsync.upstream._http import StoreClientSettings
from cartsync.upstream.cocart import CoCartUpstream
from cartsync.upstream.storeapi import StoreApiUpstream
from storesim import SimConfig
from storesim import create_app as create_storesim

from ..support import free_port, start_storesim, stop

BEANIE, BELT, TSHIRT_OUT_OF_STOCK, SUNGLASSES = 10, 11, 14, 15
EXPIRED_AFTER_S = {"storeapi": 49 * 3600, "cocart": 8 * 86400}
FAST = StoreClientSettings(read_timeout=2.0, read_retries=0)


@dataclass
class Store:
    kind: str
    upstream: Upstream
    sim: httpx.AsyncClient  # the control plane of the storesim behind it


def _adapter(kind: str, url: str, transport: httpx.AsyncBaseTransport | None) -> Upstream:
    if kind == "cocart":
        return CoCartUpstream(url, client=FAST, transport=transport, lost_request_grace_s=0.5)
    return StoreApiUpstream(url, client=FAST, transport=transport)


@pytest.fixture(scope="module")
def sim_server() -> Iterator[str]:
    port = free_port()
    process = start_storesim(port, "--secret", "upstream-contract", "--no-race")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture(params=["storeapi", "cocart"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["in-process", "server"])
async def store(request: pytest.FixtureRequest, kind: str, sim_server: str) -> AsyncIterator[Store]:
    if request.param == "server":
        url, transport = sim_server, None
        control = httpx.AsyncClient(base_url=sim_server, timeout=10)
    else:
        app = create_storesim(SimConfig(race=False, secret="upstream-contract"))
        url, transport = "http://127.0.0.1:8181", httpx.ASGITransport(app=app)
        control = httpx.AsyncClient(base_url=url, transport=httpx.ASGITransport(app=app))
    upstream = _adapter(kind, url, transport)
    try:
        yield Store(kind, upstream, control)
    finally:
        await control.put("/__sim/faults", json={})
        await control.put("/__sim/rate-limit", json={"enabled": False})
        await upstream.aclose()
        await control.aclose()


async def _apply_turns(
    upstream: Upstream,
    credentials: str,
    operations: list[ops.Operation],
    current: Cart | None = None,
) -> tuple[BatchOutcome, int]:
    """Apply ``operations`` turn by turn, as the lane does: every refusal in order, the
    last cart and credentials, and how many turns (upstream requests) it took."""
    refusals: list[UpstreamRefused | None] = []
    turns = 0
    cart = current
    while operations:
        size = upstream.turn(operations, cart)
        assert 1 <= size <= upstream.capabilities.max_batch
        outcome = await upstream.apply_batch(credentials, operations[:size], cart)
        assert len(outcome.refusals) == size
        refusals += outcome.refusals
        cart = outcome.cart or cart
        credentials = outcome.credentials or credentials
        operations = operations[size:]
        turns += 1
    return BatchOutcome(refusals, cart, credentials), turns


def _quantity(outcome: BatchOutcome, product_id: int) -> int:
    assert outcome.cart is not None
    return sum(i.quantity for i in outcome.cart.items if i.product_id == product_id)


async def _cart_with_beanie(store: Store) -> tuple[str, str]:
    """A new cart holding two Beanies: (credentials, the Beanie's line key)."""
    first = await store.upstream.fetch_cart(None)
    outcome = await store.upstream.apply_batch(first.credentials, [ops.AddItem(BEANIE, 2)])
    assert outcome.refusals == [None]
    assert outcome.cart is not None
    assert outcome.credentials is not None
    return outcome.credentials, outcome.cart.items[0].key


class TestReads:
    async def test_a_new_cart_is_empty_and_comes_with_credentials(self, store: Store) -> None:
        """Reading without credentials gives an empty cart and credentials for it."""
        read = await store.upstream.fetch_cart(None)
        assert read.cart.items == []
        assert read.credentials

    async def test_credentials_read_back_the_same_cart(self, store: Store) -> None:
        """The credentials an answer carries read that cart back, not another."""
        credentials, key = await _cart_with_beanie(store)
        again = await store.upstream.fetch_cart(credentials)
        assert [(i.key, i.quantity) for i in again.cart.items] == [(key, 2)]
        assert not store.upstream.cart_lost(credentials, again.credentials)


class TestWrites:
    async def test_add_update_remove(self, store: Store) -> None:
        """An add, a quantity set and a removal each apply, and say so."""
        credentials, key = await _cart_with_beanie(store)
        updated = await store.upstream.apply_batch(credentials, [ops.SetQuantity(key, 5)])
        assert updated.refusals == [None]
        assert _quantity(updated, BEANIE) == 5
        removed = await store.upstream.apply_batch(
            updated.credentials or credentials, [ops.RemoveItem(key)], updated.cart
        )
        assert removed.refusals == [None]
        assert removed.cart is not None
        assert removed.cart.items == []

    async def test_a_refusal_in_the_middle_of_a_turn_leaves_the_others_applied(
        self, store: Store
    ) -> None:
        """Several operations in one call: each gets its own outcome, in order."""
        credentials, _ = await _cart_with_beanie(store)
        outcome, turns = await _apply_turns(
            store.upstream,
            credentials,
            [ops.AddItem(BELT, 1), ops.AddItem(TSHIRT_OUT_OF_STOCK, 1), ops.AddItem(SUNGLASSES, 1)],
        )
        # The Store API takes the three adds in one batch; CoCart one request each.
        assert turns == (1 if store.kind == "storeapi" else 3)
        assert [r is None for r in outcome.refusals] == [True, False, True]
        refusal = outcome.refusals[1]
        assert isinstance(refusal, UpstreamRefused)
        assert isinstance(refusal.error, domain.Conflict)
        assert refusal.error.code == "out_of_stock"
        assert (_quantity(outcome, BELT), _quantity(outcome, SUNGLASSES)) == (1, 1)

    async def test_quantity_sets_of_one_turn_all_apply(self, store: Store) -> None:
        """Quantity sets on several lines in one call (CoCart: one cart/update) apply."""
        credentials, beanie = await _cart_with_beanie(store)
        added = await store.upstream.apply_batch(credentials, [ops.AddItem(BELT, 1)])
        assert added.cart is not None
        belt = next(i.key for i in added.cart.items if i.product_id == BELT)
        sets: list[ops.Operation] = [ops.SetQuantity(beanie, 3), ops.SetQuantity(belt, 4)]
        assert store.upstream.turn(sets, added.cart) == 2
        outcome = await store.upstream.apply_batch(
            added.credentials or credentials, sets, added.cart
        )
        assert outcome.refusals == [None, None]
        assert (_quantity(outcome, BEANIE), _quantity(outcome, BELT)) == (3, 4)

    async def test_a_missing_line_is_refused_with_a_domain_code(self, store: Store) -> None:
        """The store's own code never reaches the domain: a missing line is
        ``item_not_found``."""
        credentials, _ = await _cart_with_beanie(store)
        outcome = await store.upstream.apply_batch(credentials, [ops.RemoveItem("0" * 32)])
        refusal = outcome.refusals[0]
        assert isinstance(refusal, UpstreamRefused)
        assert refusal.error.code == "item_not_found"

    async def test_what_the_store_cannot_do_is_refused_without_a_request(
        self, store: Store
    ) -> None:
        """A coupon on a store without coupons is ``coupons_not_supported``."""
        if store.upstream.capabilities.coupons:
            credentials, _ = await _cart_with_beanie(store)
            outcome = await store.upstream.apply_batch(credentials, [ops.ApplyCoupon("test")])
            assert outcome.refusals == [None]
            return
        credentials, _ = await _cart_with_beanie(store)
        before = (await store.sim.get("/__sim/state")).json()["counters"]["requests"]
        outcome = await store.upstream.apply_batch(credentials, [ops.ApplyCoupon("test")])
        refusal = outcome.refusals[0]
        assert isinstance(refusal, UpstreamRefused)
        assert refusal.error.code == "coupons_not_supported"
        after = (await store.sim.get("/__sim/state")).json()["counters"]["requests"]
        assert after == before


class TestFailures:
    async def test_a_5xx_before_the_change_is_an_unknown_outcome_that_changed_nothing(
        self, store: Store
    ) -> None:
        """A 5xx answer: the outcome is reported unknown (finished), and the cart shows
        whether it applied (here: it did not)."""
        credentials, _ = await _cart_with_beanie(store)
        await store.sim.put("/__sim/faults", json={"next_errors": 1, "when": "before"})
        with pytest.raises(UpstreamOutcomeUnknown) as lost:
            await store.upstream.apply_batch(credentials, [ops.AddItem(BELT, 1)])
        assert lost.value.finished
        after = await store.upstream.fetch_cart(credentials)
        assert all(i.product_id != BELT for i in after.cart.items)

    async def test_a_dropped_answer_after_the_change_is_unknown_and_the_cart_shows_it(
        self, kind: str, sim_server: str
    ) -> None:
        """A connection dropped after the store applied the write (a real server: only
        a socket can be dropped): unknown outcome; the re-read cart holds the change."""
        async with httpx.AsyncClient(base_url=sim_server, timeout=10) as control:
            store = Store(kind, _adapter(kind, sim_server, None), control)
            try:
                credentials, _ = await _cart_with_beanie(store)
                await control.put("/__sim/faults", json={"next_drops": 1, "when": "after"})
                with pytest.raises(UpstreamOutcomeUnknown) as lost:
                    await store.upstream.apply_batch(credentials, [ops.AddItem(BELT, 1)])
                assert not lost.value.finished
                after = await store.upstream.fetch_cart(credentials)
                assert any(i.product_id == BELT for i in after.cart.items)
            finally:
                await control.put("/__sim/faults", json={})
                await store.upstream.aclose()

    async def test_expired_credentials_name_a_new_empty_cart(self, store: Store) -> None:
        """After the store forgot an idle cart, reading it answers a new, empty cart
        under credentials the adapter says are another cart's."""
        credentials, _ = await _cart_with_beanie(store)
        await store.sim.post("/__sim/clock", json={"advance_seconds": EXPIRED_AFTER_S[store.kind]})
        after = await store.upstream.fetch_cart(credentials)
        assert after.cart.items == []
        assert store.upstream.cart_lost(credentials, after.credentials)

    async def test_the_rate_limit_is_its_own_failure(self, store: Store) -> None:
        """The store's rate limit is ``UpstreamRateLimited`` with a wait, not a refusal."""
        await store.sim.put("/__sim/rate-limit", json={"enabled": True, "limit": 1, "seconds": 60})
        await store.upstream.fetch_cart(None)  # the one request the limit allows
        with pytest.raises(UpstreamRateLimited) as limited:
            await store.upstream.fetch_cart(None)
        assert limited.value.retry_after > 0

    async def test_an_unreachable_store_is_unavailable(self, kind: str) -> None:
        """Nothing listening: ``UpstreamUnavailable`` (nothing was sent), not unknown."""
        upstream = _adapter(kind, f"http://127.0.0.1:{free_port()}", None)
        try:
            with pytest.raises(UpstreamUnavailable) as failed:
                await upstream.apply_batch(None, [ops.AddItem(BEANIE, 1)])
            assert not isinstance(failed.value, UpstreamOutcomeUnknown)
        finally:
            await upstream.aclose()
