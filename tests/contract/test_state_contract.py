"""One contract for every state store: Redis and the embedded one behave the same."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from cartsync.state.memory import MemoryStateStore
from cartsync.state.port import Change, Snapshot, StateStore
from cartsync.state.redis import RedisStateStore


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        memory = MemoryStateStore()
        yield memory
        await memory.aclose()
        return
    # Database 1 of our own private redis-server (conftest.redis_url): the gateway tests
    # use database 0 of the same server.
    client = aioredis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    await client.flushdb()
    redis_store = RedisStateStore(client)
    yield redis_store
    await redis_store.aclose()


def _cart() -> str:
    return "c_" + secrets.token_hex(6)


def _snapshot(epoch: str, version: int, body: bytes = b"{}", digest: str = "d") -> Snapshot:
    return Snapshot(epoch, version, 1000.0 + version, digest, body)


class TestRegistry:
    async def test_an_owner_keeps_the_first_cart_it_claims(self, store: StateStore) -> None:
        """Two racing claims for one owner end with one cart id for both."""
        first = await store.claim_cart("u_1", "c_first")
        second = await store.claim_cart("u_1", "c_second")
        assert (first, second) == ("c_first", "c_first")
        assert await store.cart_of("u_1") == "c_first"
        assert await store.cart_of("u_unknown") is None

    async def test_the_newest_upstream_token_is_kept(self, store: StateStore) -> None:
        cart = _cart()
        assert await store.upstream_token(cart) is None
        await store.set_upstream_token(cart, "t1")
        await store.set_upstream_token(cart, "t2")
        assert await store.upstream_token(cart) == "t2"


class TestSnapshots:
    async def test_versions_grow_within_one_epoch(self, store: StateStore) -> None:
        cart = _cart()
        epoch, first = await store.reserve_version(cart)
        again, second = await store.reserve_version(cart)
        assert (again, second) == (epoch, first + 1)

    async def test_an_older_snapshot_never_replaces_a_newer_one(self, store: StateStore) -> None:
        """A slow writer with version 1 cannot overwrite version 2."""
        cart = _cart()
        epoch, v1 = await store.reserve_version(cart)
        _, v2 = await store.reserve_version(cart)
        assert await store.store_snapshot(cart, _snapshot(epoch, v2, b"new"))
        assert not await store.store_snapshot(cart, _snapshot(epoch, v1, b"old"))
        stored = await store.snapshot(cart)
        assert stored is not None
        assert (stored.version, stored.body) == (v2, b"new")

    async def test_a_snapshot_of_another_epoch_is_refused(self, store: StateStore) -> None:
        cart = _cart()
        epoch, version = await store.reserve_version(cart)
        assert not await store.store_snapshot(cart, _snapshot(epoch + "x", version + 5))
        assert await store.snapshot(cart) is None

    async def test_touch_moves_the_confirmation_time_of_that_version_only(
        self, store: StateStore
    ) -> None:
        cart = _cart()
        epoch, version = await store.reserve_version(cart)
        await store.store_snapshot(cart, _snapshot(epoch, version))
        await store.touch_snapshot(cart, version, 5000.0)
        await store.touch_snapshot(cart, version + 1, 9000.0)
        stored = await store.snapshot(cart)
        assert stored is not None
        assert stored.fetched_at == 5000.0
        assert stored.etag == f'"{epoch}.{version}"'


class TestCoordination:
    async def test_a_lock_has_one_holder_and_only_it_can_release(self, store: StateStore) -> None:
        assert await store.try_lock("cart:a", "one", 10)
        assert not await store.try_lock("cart:a", "two", 10)
        await store.unlock("cart:a", "two")
        assert not await store.try_lock("cart:a", "two", 10)
        await store.unlock("cart:a", "one")
        assert await store.try_lock("cart:a", "two", 10)

    async def test_a_lock_expires_after_its_time_to_live(self, store: StateStore) -> None:
        """A dead holder's lock frees itself."""
        assert await store.try_lock("cart:b", "dead", 0.05)
        await asyncio.sleep(0.1)  # wait-ok: the lock's own expiry is what is tested
        assert await store.try_lock("cart:b", "next", 10)

    async def test_the_rate_window_allows_the_limit_then_says_how_long_to_wait(
        self, store: StateStore
    ) -> None:
        results = [await store.hit("owner-x", 3, 60) for _ in range(4)]
        assert results[:3] == [None, None, None]
        assert results[3] is not None
        assert 1 <= results[3] <= 60

    async def test_values_expire(self, store: StateStore) -> None:
        await store.set_value("k", b"v", 0.05)
        assert await store.get_value("k") == b"v"
        await asyncio.sleep(0.1)  # wait-ok: the value's own expiry is what is tested
        assert await store.get_value("k") is None


class TestChanges:
    async def test_a_published_change_reaches_subscribers(self, store: StateStore) -> None:
        received: asyncio.Queue[Change | None] = asyncio.Queue()

        async def handler(change: Change | None) -> None:
            if change is not None:
                await received.put(change)

        await store.subscribe(handler)
        await store.publish(Change("c_1", "e1", 7))
        change = await asyncio.wait_for(received.get(), timeout=5)
        assert change == Change("c_1", "e1", 7)
