"""One contract for every state store: Redis (alone, behind Sentinel, as a Cluster) and
the embedded one behave the same."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from cartsync.carts.ports.state import (
    Change,
    Commit,
    Generation,
    Message,
    ResultsReady,
    Snapshot,
    StateLost,
    StateStore,
)
from cartsync.state.memory import MemoryStateStore
from cartsync.state.redis import RedisStateStore


@pytest.fixture(params=["memory", "redis", "cluster", "sentinel"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        memory = MemoryStateStore()
        yield memory
        await memory.aclose()
        return
    if request.param == "sentinel":
        # Our own master behind our own Sentinel (conftest.redis_sentinel_url).
        sentinel_store = RedisStateStore.from_url(request.getfixturevalue("redis_sentinel_url"))
        await sentinel_store._redis.flushdb()
        yield sentinel_store
        await sentinel_store.aclose()
        return
    if request.param == "cluster":
        # Our own 3-master cluster (conftest.redis_cluster_url), flushed on every node.
        url = request.getfixturevalue("redis_cluster_url")
        cluster_store = RedisStateStore.from_url(url, cluster=True)
        cluster = RedisCluster.from_url(url)
        await cluster.flushall(target_nodes=RedisCluster.ALL_NODES)
        await cluster.aclose()
        yield cluster_store
        await cluster_store.aclose()
        return
    # Database 1 of our own private redis-server (conftest.redis_url): the gateway tests
    # use database 0 of the same server.
    client = aioredis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/1")
    await client.flushdb()
    redis_store = RedisStateStore(client)
    yield redis_store
    await redis_store.aclose()


async def _cart(store: StateStore) -> str:
    """A new cart, claimed by a new owner: a cart exists from its claim on."""
    cart = "c_" + secrets.token_hex(6)
    assert await store.claim_cart("u_" + secrets.token_hex(6), cart) == cart
    return cart


async def _wipe(store: StateStore) -> None:
    """Lose all data, as a Redis without persistence does when it restarts."""
    if isinstance(store, MemoryStateStore):
        store.wipe()
        return
    assert isinstance(store, RedisStateStore)
    client = store._redis
    if isinstance(client, RedisCluster):
        await client.flushall(target_nodes=RedisCluster.ALL_NODES)
    else:
        await client.flushdb()


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
        cart = await _cart(store)
        assert await store.upstream_token(cart) is None
        await store.set_upstream_token(cart, "t1")
        await store.set_upstream_token(cart, "t2")
        assert await store.upstream_token(cart) == "t2"


class TestSnapshots:
    async def test_versions_grow_within_one_epoch(self, store: StateStore) -> None:
        cart = await _cart(store)
        epoch, first = await store.reserve_version(cart)
        again, second = await store.reserve_version(cart)
        assert (again, second) == (epoch, first + 1)

    async def test_an_older_snapshot_never_replaces_a_newer_one(self, store: StateStore) -> None:
        """A slow writer with version 1 cannot overwrite version 2."""
        cart = await _cart(store)
        epoch, v1 = await store.reserve_version(cart)
        _, v2 = await store.reserve_version(cart)
        assert await store.store_snapshot(cart, _snapshot(epoch, v2, b"new"))
        assert not await store.store_snapshot(cart, _snapshot(epoch, v1, b"old"))
        stored = await store.snapshot(cart)
        assert stored is not None
        assert (stored.version, stored.body) == (v2, b"new")

    async def test_a_snapshot_of_another_epoch_is_refused(self, store: StateStore) -> None:
        cart = await _cart(store)
        epoch, version = await store.reserve_version(cart)
        assert not await store.store_snapshot(cart, _snapshot(epoch + "x", version + 5))
        assert await store.snapshot(cart) is None

    async def test_touch_moves_the_confirmation_time_of_that_version_only(
        self, store: StateStore
    ) -> None:
        cart = await _cart(store)
        epoch, version = await store.reserve_version(cart)
        await store.store_snapshot(cart, _snapshot(epoch, version))
        await store.touch_snapshot(cart, version, 5000.0)
        await store.touch_snapshot(cart, version + 1, 9000.0)
        stored = await store.snapshot(cart)
        assert stored is not None
        assert stored.fetched_at == 5000.0
        assert stored.etag == f'"{epoch}.{version}"'


class TestCoordination:
    async def test_a_lease_has_one_holder_and_only_it_renews_or_releases(
        self, store: StateStore
    ) -> None:
        cart = await _cart(store)
        assert await store.acquire_lease(cart, "one", 10)
        assert not await store.acquire_lease(cart, "two", 10)
        assert await store.lease_holder(cart) == "one"
        assert not await store.renew_lease(cart, "two", 10)
        assert await store.release_lease(cart, "two") == -1
        assert await store.renew_lease(cart, "one", 10)
        assert await store.release_lease(cart, "one") == 1
        assert await store.acquire_lease(cart, "two", 10)

    async def test_a_lease_expires_after_its_time_to_live(self, store: StateStore) -> None:
        """A dead holder's lease frees itself."""
        cart = await _cart(store)
        assert await store.acquire_lease(cart, "dead", 0.05)
        await asyncio.sleep(0.1)  # wait-ok: the lease's own expiry is what is tested
        assert await store.acquire_lease(cart, "next", 10)

    async def test_the_lease_is_kept_while_work_is_queued(self, store: StateStore) -> None:
        """Release refuses while the queue holds work: nothing queued is stranded."""
        cart = await _cart(store)
        assert await store.acquire_lease(cart, "holder", 10)
        await store.enqueue(cart, [b"op-1"])
        assert await store.release_lease(cart, "holder") == 0
        assert await store.complete(cart, "holder", 1, {"op-1": b"done"}, 60)
        assert await store.release_lease(cart, "holder") == 1

    async def test_the_queue_keeps_order_until_the_holder_completes(
        self, store: StateStore
    ) -> None:
        cart = await _cart(store)
        await store.enqueue(cart, [b"a", b"b"])
        await store.enqueue(cart, [b"c"])
        assert await store.queued(cart, 2) == [b"a", b"b"]
        assert await store.acquire_lease(cart, "holder", 10)
        assert await store.set_inflight(cart, "holder", b"batch")
        assert await store.inflight(cart) == b"batch"
        assert not await store.complete(cart, "intruder", 2, {"a": b"x"}, 60)
        assert await store.complete(cart, "holder", 2, {"a": b"ra", "b": b"rb"}, 60)
        assert await store.queued(cart, 10) == [b"c"]
        assert await store.inflight(cart) is None
        assert await store.results(cart, ["a", "b", "c"]) == [b"ra", b"rb", None]

    async def test_queueing_takes_an_idle_carts_lease_and_reads_its_first_turn(
        self, store: StateStore
    ) -> None:
        """enqueue_and_lead: queued either way; the lease, the queue's head, the snapshot
        and the credentials only when nobody held the lease; nothing on a lost cart."""
        cart = await _cart(store)
        epoch, version = await store.reserve_version(cart)
        stored = _snapshot(epoch, version, b'{"a":1}')
        assert await store.store_snapshot(cart, stored)
        await store.set_upstream_token(cart, "tok")
        head = await store.enqueue_and_lead(cart, [b"a", b"b"], "holder", 10, 1)
        assert head is not None
        assert head.read
        assert (head.inflight, head.queued, head.credentials) == (None, [b"a"], "tok")
        assert head.snapshot is not None
        assert head.snapshot.tag == stored.tag
        assert head.snapshot.body == stored.body
        assert await store.lease_holder(cart) == "holder"
        assert await store.enqueue_and_lead(cart, [b"c"], "other", 10, 25) is None
        assert await store.queued(cart, 10) == [b"a", b"b", b"c"]
        await _wipe(store)
        with pytest.raises(StateLost):
            await store.enqueue_and_lead(cart, [b"d"], "late", 10, 25)

    async def test_a_commit_stores_the_next_version_records_and_releases(
        self, store: StateStore
    ) -> None:
        """commit: fenced; the snapshot only as the next version of the sequence (else
        BEHIND and nothing recorded); the lease released on an empty queue, else the
        queue's head returned."""
        cart = await _cart(store)
        epoch, version = await store.reserve_version(cart)
        assert await store.store_snapshot(cart, _snapshot(epoch, version))
        await store.enqueue(cart, [b"a", b"b"])
        assert await store.acquire_lease(cart, "holder", 10)
        assert (await store.commit(cart, "intruder", 1, {"a": b"ra"}, 60)).status is Commit.LOST
        skipped = _snapshot(epoch, version + 2, b"{}", "d2")
        done = await store.commit(cart, "holder", 1, {"a": b"ra"}, 60, snapshot=skipped)
        assert done.status is Commit.BEHIND
        assert await store.results(cart, ["a"]) == [None]
        following = _snapshot(epoch, version + 1, b'{"n":2}', "d2")
        done = await store.commit(
            cart, "holder", 1, {"a": b"ra"}, 60, snapshot=following, release=True, limit=5
        )
        assert (done.status, done.queued) == (Commit.KEPT, [b"b"])
        current = await store.snapshot(cart)
        assert current is not None
        assert (current.tag, current.body) == (following.tag, b'{"n":2}')
        assert await store.reserve_version(cart) == (epoch, version + 2)  # the sequence moved
        done = await store.commit(cart, "holder", 1, {"b": b"rb"}, 60, release=True)
        assert done.status is Commit.RELEASED
        assert await store.lease_holder(cart) is None
        assert await store.results(cart, ["a", "b"]) == [b"ra", b"rb"]

    async def test_only_the_holder_records_a_batch_in_flight(self, store: StateStore) -> None:
        cart = await _cart(store)
        assert await store.acquire_lease(cart, "holder", 10)
        assert not await store.set_inflight(cart, "intruder", b"batch")
        assert await store.inflight(cart) is None

    async def test_a_fenced_snapshot_needs_the_lease(self, store: StateStore) -> None:
        """A holder that lost its lease cannot store a snapshot."""
        cart = await _cart(store)
        epoch, version = await store.reserve_version(cart)
        assert await store.acquire_lease(cart, "holder", 10)
        assert not await store.store_snapshot(cart, _snapshot(epoch, version), "former")
        assert await store.store_snapshot(cart, _snapshot(epoch, version), "holder")

    async def test_records_are_reserved_once(self, store: StateStore) -> None:
        """The first reservation wins; later ones get the stored record."""
        assert await store.reserve_record("u_1:key", b"first", 60) is None
        assert await store.reserve_record("u_1:key", b"second", 60) == b"first"
        await store.put_record("u_1:key", b"final", 60)
        assert await store.reserve_record("u_1:key", b"third", 60) == b"final"
        await store.drop_record("u_1:key")
        assert await store.reserve_record("u_1:key", b"fourth", 60) is None

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

    async def test_a_commit_announces_the_results_it_is_asked_to_only(
        self, store: StateStore
    ) -> None:
        """A holder leaves out of the announcement the results its own replica's callers
        wait for (it wakes them itself); the rest are announced, and every result is
        recorded either way."""
        received: asyncio.Queue[ResultsReady] = asyncio.Queue()

        async def handler(message: Message | None) -> None:
            if isinstance(message, ResultsReady):
                await received.put(message)

        await store.subscribe(handler)
        cart = await _cart(store)
        await store.enqueue(cart, [b"a", b"b", b"c"])
        assert await store.acquire_lease(cart, "holder", 10)
        await store.commit(cart, "holder", 1, {"a": b"ra"}, 60, announce=[])
        await store.commit(cart, "holder", 1, {"b": b"rb"}, 60, announce=["b"])
        await store.commit(cart, "holder", 1, {"c": b"rc"}, 60)  # None: all of them
        first = await asyncio.wait_for(received.get(), timeout=5)
        second = await asyncio.wait_for(received.get(), timeout=5)
        # Announcements arrive in order: had "a" been announced, it would be first.
        assert (first.op_ids, second.op_ids) == (("b",), ("c",))
        assert await store.results(cart, ["a", "b", "c"]) == [b"ra", b"rb", b"rc"]


class TestLostData:
    async def test_a_claimed_cart_exists_before_it_has_a_snapshot(self, store: StateStore) -> None:
        """A cart just claimed has no snapshot yet, and is not lost."""
        cart = await _cart(store)
        assert await store.snapshot(cart) is None
        await store.enqueue(cart, [b"op"])
        assert await store.queued(cart, 10) == [b"op"]

    async def test_a_cart_whose_data_is_gone_says_so_everywhere(self, store: StateStore) -> None:
        """After the data is lost, reading, versioning or queueing for the cart raises
        ``StateLost`` (and queues nothing) instead of starting it over quietly."""
        cart = await _cart(store)
        epoch, version = await store.reserve_version(cart)
        assert await store.store_snapshot(cart, _snapshot(epoch, version))
        await _wipe(store)
        for step in (
            store.snapshot(cart),
            store.snapshot_and_token(cart),
            store.reserve_version(cart),
            store.enqueue(cart, [b"op"]),
        ):
            with pytest.raises(StateLost) as lost:
                await step
            assert lost.value.cart_id == cart
        assert await store.queued(cart, 10) == []

    async def test_a_cart_can_be_claimed_again_and_flagged(self, store: StateStore) -> None:
        """The lost cart's id can be bound again; its flag says when its state was lost
        and rides on its snapshots until cleared."""
        cart = await _cart(store)
        await _wipe(store)
        assert await store.claim_cart("u_again", cart) == cart
        await store.flag_lost(cart, 1234.5)
        assert await store.lost_flag(cart) == 1234.5
        epoch, version = await store.reserve_version(cart)
        assert await store.store_snapshot(cart, _snapshot(epoch, version))
        stored = await store.snapshot(cart)
        assert stored is not None
        assert stored.lost_at == 1234.5
        await store.clear_lost(cart)
        assert await store.lost_flag(cart) is None
        cleared = await store.snapshot(cart)
        assert cleared is not None
        assert cleared.lost_at is None

    async def test_the_dataset_is_marked_once_and_a_loss_is_recorded(
        self, store: StateStore
    ) -> None:
        """The first marker wins; after a wipe the marker is gone, and the replica that
        noticed records the loss with the new marker."""
        first = await store.start_generation("gen-a", None, 60)
        assert first == Generation("gen-a", None)
        assert (await store.start_generation("gen-b", None, 60)).id == "gen-a"
        await _wipe(store)
        assert await store.generation() == Generation(None, None)
        after = await store.start_generation("gen-c", 777.0, 60)
        assert after == Generation("gen-c", 777.0)
        assert (await store.start_generation("gen-d", 999.0, 60)) == Generation("gen-c", 777.0)
        assert await store.generation() == Generation("gen-c", 777.0)
