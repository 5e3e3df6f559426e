"""The Redis state store (redis-py asyncio, hiredis): for any number of replicas.

Read-modify-write steps are Lua scripts (``lua/``), registered once. Keys come from
``keys.py``. Changes go out on one pub/sub channel; a subscriber that reconnects
tells its handler that changes may have been missed (pub/sub is at-most-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import time
import zlib
from collections.abc import Callable, Coroutine, Mapping, Sequence
from importlib import resources
from typing import Any, ParamSpec, TypeVar

import msgspec
import redis.asyncio as redis
import structlog
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel

from ..carts.ports.state import (
    Change,
    ChangeHandler,
    Generation,
    Message,
    ResultsReady,
    Snapshot,
    StateLost,
    StateUnavailable,
)
from ..redis_url import SENTINEL_SCHEME, parse_sentinel_url
from . import keys

log = structlog.get_logger(__name__)
CART_TTL_S = 30 * 24 * 3600
GUEST_CART_TTL_S = 7 * 24 * 3600


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


_SNAPSHOT_FIELDS = ("epoch", "version", "fetched", "digest", "body", "born", "lost")


def _snapshot_of(cart_id: str, fields: list[bytes | str | None]) -> Snapshot | None:
    epoch, version, fetched, digest, body, born, lost = fields
    if epoch is None and born is None:
        raise StateLost(cart_id)  # no record at all: claimed once, gone now
    if epoch is None or version is None or body is None:
        return None
    return Snapshot(
        _text(epoch),
        int(version),
        float(fetched or 0),
        _text(digest or b""),
        _unpacked(_bytes(body)),
        float(lost) if lost is not None else None,
    )


_ZLIB = b"\x78"  # every zlib stream's first byte; no JSON cart or msgpack record starts so
_PACK_FROM = 256  # smaller values are not worth a compressor's time


def _packed(value: bytes) -> bytes:
    """A cart (or a record holding one) as Redis keeps it: zlib at its fastest level.
    JSON carts shrink to about a third (3,039 → 1,086 bytes for a 7-line cart) for
    ~20 µs; Redis memory is what sizes a deployment."""
    return zlib.compress(value, 1) if len(value) >= _PACK_FROM else value


def _unpacked(value: bytes) -> bytes:
    """Read back what ``_packed`` wrote (values written before it are read as they are)."""
    return zlib.decompress(value) if value[:1] == _ZLIB else value


def _script(name: str) -> str:
    return resources.files("cartsync.state").joinpath(f"lua/{name}.lua").read_text()


class _ChangeMessage(msgspec.Struct, array_like=True, tag="c"):
    cart_id: str
    epoch: str
    version: int


class _ResultsMessage(msgspec.Struct, array_like=True, tag="r"):
    cart_id: str
    op_ids: list[str]


_ENCODE = msgspec.msgpack.Encoder()


def _encode_message(message: Message) -> bytes:
    if isinstance(message, Change):
        return _ENCODE.encode(_ChangeMessage(message.cart_id, message.epoch, message.version))
    return _ENCODE.encode(_ResultsMessage(message.cart_id, list(message.op_ids)))


_DECODE = msgspec.msgpack.Decoder(_ChangeMessage | _ResultsMessage)


async def _drop_idle_connections(store: object) -> None:
    """One connection failed: Redis may have restarted, and every idle pooled connection
    to the old process would fail once, each costing a caller a 503. Drop them all now
    (the next commands connect afresh); nothing is resent, since a command whose answer
    was lost may have run."""
    client = getattr(store, "_redis", None)
    pool = getattr(client, "connection_pool", None)
    if pool is not None and hasattr(pool, "disconnect"):
        with contextlib.suppress(Exception):
            await pool.disconnect(inuse_connections=False)


P = ParamSpec("P")
R = TypeVar("R")


def _translated(
    method: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Redis failures become ``StateUnavailable`` at this boundary."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except StateLost:
            raise
        except (redis.RedisError, OSError) as exc:
            if isinstance(exc, redis.ConnectionError | OSError) and args:
                await _drop_idle_connections(args[0])
            raise StateUnavailable(f"{method.__name__}: {type(exc).__name__}") from exc

    return wrapper


class RedisStateStore:
    def __init__(
        self,
        client: redis.Redis | RedisCluster,
        *,
        cart_ttl_s: int = CART_TTL_S,
        guest_cart_ttl_s: int = GUEST_CART_TTL_S,
    ) -> None:
        self._redis = client
        self._cart_ttl_s = cart_ttl_s
        self._guest_cart_ttl_s = guest_cart_ttl_s
        self._reserve = client.register_script(_script("reserve_version"))
        self._store = client.register_script(_script("store_snapshot"))
        self._touch = client.register_script(_script("touch_snapshot"))
        self._acquire = client.register_script(_script("lease_acquire"))
        self._renew = client.register_script(_script("lease_renew"))
        self._release = client.register_script(_script("lease_release"))
        self._set_inflight = client.register_script(_script("set_inflight"))
        self._enqueue = client.register_script(_script("enqueue"))
        self._start_generation = client.register_script(_script("start_generation"))
        self._complete = client.register_script(_script("complete_batch"))
        self._lead = client.register_script(_script("lead"))
        self._begin = client.register_script(_script("begin_batch"))
        self._hit = client.register_script(_script("hit"))
        self._tasks: list[asyncio.Task[None]] = []

    def _ttl(self, cart_or_owner: str) -> int:
        """Idle carts expire with their tokens: guests' sooner (ids say which)."""
        guest = cart_or_owner.startswith(("cg_", "g_"))
        return self._guest_cart_ttl_s if guest else self._cart_ttl_s

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        cart_ttl_s: int = CART_TTL_S,
        guest_cart_ttl_s: int = GUEST_CART_TTL_S,
        max_connections: int = 200,
        cluster: bool = False,
        instrument: Callable[[redis.Redis | RedisCluster], None] | None = None,
    ) -> RedisStateStore:
        """A client on a blocking pool: past ``max_connections`` a command waits for a
        free connection (a burst of streams re-reading carts) instead of failing.

        ``cluster``: redis-py's cluster client on the same URL (any one node; the rest
        are discovered). Every key of one cart shares the hash tag ``{cart:ID}``, so each
        script and pipeline of a cart stays in one slot; PUBLISH reaches every node.
        ``instrument``: tracing's hook for the client, when tracing is on.
        """
        client: redis.Redis | RedisCluster
        if url.startswith(SENTINEL_SCHEME):
            hosts, master, db, password = parse_sentinel_url(url)
            sentinel = Sentinel(  # type: ignore[no-untyped-call]
                hosts,
                socket_timeout=5,
                socket_connect_timeout=3,
                sentinel_kwargs={"password": password} if password else None,
            )
            client = sentinel.master_for(
                master,
                db=db,
                password=password,
                socket_timeout=5,
                socket_connect_timeout=3,
                max_connections=max_connections,
            )
        elif cluster:
            client = RedisCluster.from_url(
                url,
                max_connections=max_connections,
                socket_timeout=5,
                socket_connect_timeout=3,
            )
        else:
            pool = redis.BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=5,
                socket_timeout=5,
                socket_connect_timeout=3,
                health_check_interval=30,
            )
            client = redis.Redis(connection_pool=pool)
        if instrument is not None:
            instrument(client)
        return cls(client, cart_ttl_s=cart_ttl_s, guest_cart_ttl_s=guest_cart_ttl_s)

    @_translated
    async def ping(self) -> None:
        await self._redis.ping()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self._redis.aclose()

    @_translated
    async def cart_of(self, owner: str) -> str | None:
        value = await self._redis.get(keys.owner(owner))
        return _text(value) if value is not None else None

    @_translated
    async def claim_cart(self, owner: str, cart_id: str) -> str:
        # The cart's record first (its own slot), then the binding: a binding never
        # points at a cart that has no record, unless the data was lost.
        record = keys.cart_snapshot(cart_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hsetnx(record, "born", repr(time.time()))
            pipe.expire(record, self._ttl(cart_id))
            await pipe.execute()
        key = keys.owner(owner)
        await self._redis.set(key, cart_id, nx=True, ex=self._ttl(owner))
        value = await self._redis.get(key)
        return _text(value) if value is not None else cart_id

    @_translated
    async def forget_owner(self, owner: str) -> None:
        await self._redis.delete(keys.owner(owner))

    @_translated
    async def upstream_token(self, cart_id: str) -> str | None:
        value = await self._redis.get(keys.cart_token(cart_id))
        return _text(value) if value is not None else None

    @_translated
    async def set_upstream_token(self, cart_id: str, token: str) -> None:
        await self._redis.set(keys.cart_token(cart_id), token, ex=self._ttl(cart_id))

    @_translated
    async def snapshot(self, cart_id: str) -> Snapshot | None:
        fields = await self._redis.hmget(keys.cart_snapshot(cart_id), list(_SNAPSHOT_FIELDS))
        return _snapshot_of(cart_id, fields)

    @_translated
    async def snapshot_and_token(self, cart_id: str) -> tuple[Snapshot | None, str | None]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.cart_snapshot(cart_id), list(_SNAPSHOT_FIELDS))
            pipe.get(keys.cart_token(cart_id))
            fields, token = await pipe.execute()
        return _snapshot_of(cart_id, fields), _text(token) if token is not None else None

    @_translated
    async def reserve_version(self, cart_id: str) -> tuple[str, int]:
        epoch, version = await self._reserve(
            keys=[keys.cart_snapshot(cart_id)], args=[secrets.token_hex(4)]
        )
        if int(version) < 0:
            raise StateLost(cart_id)
        return _text(epoch), int(version)

    @_translated
    async def flag_lost(self, cart_id: str, at: float) -> None:
        await self._redis.hset(keys.cart_snapshot(cart_id), "lost", repr(at))

    @_translated
    async def clear_lost(self, cart_id: str) -> None:
        await self._redis.hdel(keys.cart_snapshot(cart_id), "lost")

    @_translated
    async def lost_flag(self, cart_id: str) -> float | None:
        value = await self._redis.hget(keys.cart_snapshot(cart_id), "lost")
        return float(value) if value is not None else None

    @_translated
    async def store_snapshot(
        self, cart_id: str, snapshot: Snapshot, lease_token: str | None = None
    ) -> bool:
        change = _encode_message(Change(cart_id, snapshot.epoch, snapshot.version))
        stored = await self._store(
            keys=[keys.cart_snapshot(cart_id), keys.cart_lease(cart_id)],
            args=[
                snapshot.epoch,
                snapshot.version,
                repr(snapshot.fetched_at),
                snapshot.digest,
                _packed(snapshot.body),
                self._ttl(cart_id),
                lease_token or "",
                change,
                keys.CHANGES_CHANNEL,
            ],
        )
        return bool(stored)

    @_translated
    async def touch_snapshot(self, cart_id: str, version: int, fetched_at: float) -> None:
        await self._touch(
            keys=[keys.cart_snapshot(cart_id)], args=[version, repr(fetched_at), self._ttl(cart_id)]
        )

    @_translated
    async def enqueue(self, cart_id: str, entries: Sequence[bytes]) -> None:
        queued = await self._enqueue(
            keys=[keys.cart_queue(cart_id), keys.cart_snapshot(cart_id)],
            args=[self._ttl(cart_id), *entries],
        )
        if int(queued) < 0:
            raise StateLost(cart_id)

    @_translated
    async def queued(self, cart_id: str, limit: int) -> list[bytes]:
        values = await self._redis.lrange(keys.cart_queue(cart_id), 0, limit - 1)
        return [_bytes(v) for v in values]

    @_translated
    async def acquire_lease(self, cart_id: str, token: str, ttl_s: float) -> bool:
        return bool(
            await self._acquire(
                keys=[keys.cart_lease(cart_id)], args=[token, max(int(ttl_s * 1000), 1)]
            )
        )

    @_translated
    async def renew_lease(self, cart_id: str, token: str, ttl_s: float) -> bool:
        return bool(
            await self._renew(
                keys=[keys.cart_lease(cart_id)], args=[token, max(int(ttl_s * 1000), 1)]
            )
        )

    @_translated
    async def lease_holder(self, cart_id: str) -> str | None:
        value = await self._redis.get(keys.cart_lease(cart_id))
        return _text(value) if value is not None else None

    @_translated
    async def release_lease(self, cart_id: str, token: str) -> int:
        return int(
            await self._release(
                keys=[keys.cart_lease(cart_id), keys.cart_queue(cart_id)], args=[token]
            )
        )

    @_translated
    async def set_inflight(self, cart_id: str, token: str, record: bytes) -> bool:
        return bool(
            await self._set_inflight(
                keys=[keys.cart_lease(cart_id), keys.cart_inflight(cart_id)], args=[token, record]
            )
        )

    @_translated
    async def inflight(self, cart_id: str) -> bytes | None:
        value = await self._redis.get(keys.cart_inflight(cart_id))
        return _bytes(value) if value is not None else None

    @_translated
    async def complete(
        self, cart_id: str, token: str, count: int, results: Mapping[str, bytes], ttl_s: int
    ) -> bool:
        pairs: list[str | bytes | int] = []
        for op_id, result in results.items():
            pairs += [op_id, result]
        announcement = _encode_message(ResultsReady(cart_id, tuple(results)))
        done = await self._complete(
            keys=[
                keys.cart_lease(cart_id),
                keys.cart_queue(cart_id),
                keys.cart_results(cart_id),
                keys.cart_inflight(cart_id),
            ],
            args=[
                token,
                count,
                ttl_s,
                announcement,
                keys.CHANGES_CHANNEL,
                *pairs,
            ],
        )
        return bool(done)

    @_translated
    async def lead(
        self, cart_id: str, token: str, ttl_s: float, limit: int
    ) -> tuple[bytes | None, list[bytes]] | None:
        answer = await self._lead(
            keys=[keys.cart_lease(cart_id), keys.cart_inflight(cart_id), keys.cart_queue(cart_id)],
            args=[token, max(int(ttl_s * 1000), 1), limit],
        )
        if not answer or int(answer[0]) == 0:
            return None
        inflight = _bytes(answer[1]) if answer[1] else None
        return inflight, [_bytes(raw) for raw in answer[2]]

    @_translated
    async def begin_batch(
        self, cart_id: str, token: str, ttl_s: float, op_ids: Sequence[str], record: bytes
    ) -> list[bytes | None] | None:
        answer = await self._begin(
            keys=[
                keys.cart_lease(cart_id),
                keys.cart_results(cart_id),
                keys.cart_inflight(cart_id),
            ],
            args=[token, max(int(ttl_s * 1000), 1), record, *op_ids],
        )
        if not answer or int(answer[0]) == 0:
            return None
        return [_bytes(raw) if raw else None for raw in answer[1:]]

    @_translated
    async def results(self, cart_id: str, op_ids: Sequence[str]) -> list[bytes | None]:
        if not op_ids:
            return []
        values = await self._redis.hmget(keys.cart_results(cart_id), list(op_ids))
        return [_bytes(v) if v is not None else None for v in values]

    @_translated
    async def record_order(self, cart_id: str, order_id: int, record: bytes) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(keys.cart_orders(cart_id), str(order_id), record)
            pipe.expire(keys.cart_orders(cart_id), self._ttl(cart_id))
            await pipe.execute()

    @_translated
    async def orders(self, cart_id: str) -> list[bytes]:
        values = await self._redis.hvals(keys.cart_orders(cart_id))
        return [_bytes(v) for v in values]

    @_translated
    async def reserve_record(self, key: str, record: bytes, ttl_s: int) -> bytes | None:
        redis_key = keys.idempotency(key)
        packed = _packed(record)
        if await self._redis.set(redis_key, packed, nx=True, ex=ttl_s):
            return None
        existing = await self._redis.get(redis_key)
        if existing is None:  # expired between the two calls: try once more
            if await self._redis.set(redis_key, packed, nx=True, ex=ttl_s):
                return None
            existing = await self._redis.get(redis_key)
        return _unpacked(_bytes(existing)) if existing is not None else None

    @_translated
    async def put_record(self, key: str, record: bytes, ttl_s: int) -> None:
        await self._redis.set(keys.idempotency(key), _packed(record), ex=ttl_s)

    @_translated
    async def drop_record(self, key: str) -> None:
        await self._redis.delete(keys.idempotency(key))

    @_translated
    async def hit(self, key: str, limit: int, window_s: int) -> int | None:
        window = int(time.time()) // window_s
        wait_ms = await self._hit(keys=[keys.rate(key, window)], args=[limit, window_s * 1000])
        return None if int(wait_ms) == 0 else max(1, -(-int(wait_ms) // 1000))

    @_translated
    async def get_value(self, key: str) -> bytes | None:
        value = await self._redis.get(keys.value(key))
        return _bytes(value) if value is not None else None

    @_translated
    async def set_value(self, key: str, value: bytes, ttl_s: float) -> None:
        await self._redis.set(keys.value(key), value, px=max(int(ttl_s * 1000), 1))

    @_translated
    async def take_value(self, key: str) -> bytes | None:
        value = await self._redis.getdel(keys.value(key))
        return _bytes(value) if value is not None else None

    @_translated
    async def touch_owner(self, owner: str, ttl_s: int) -> None:
        await self._redis.expire(keys.owner(owner), min(ttl_s, self._ttl(owner)))

    @_translated
    async def generation(self) -> Generation:
        marker, lost = await self._redis.mget(keys.GENERATION, keys.LOSS)
        return Generation(
            _text(marker) if marker is not None else None,
            float(lost) if lost is not None else None,
        )

    @_translated
    async def start_generation(
        self, candidate: str, lost_at: float | None, window_s: int
    ) -> Generation:
        marker, lost = await self._start_generation(
            keys=[keys.GENERATION, keys.LOSS],
            args=[candidate, repr(lost_at) if lost_at is not None else "", max(window_s, 1)],
        )
        return Generation(_text(marker), float(lost) if lost else None)

    @_translated
    async def publish(self, message: Message) -> None:
        await self._redis.publish(keys.CHANGES_CHANNEL, _encode_message(message))

    async def subscribe(self, handler: ChangeHandler) -> None:
        ready = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._listen(handler, ready)))
        await ready.wait()

    async def _listen(self, handler: ChangeHandler, ready: asyncio.Event) -> None:
        """Deliver changes; after any disconnection, resubscribe and report a gap."""
        backoff = 0.1
        while True:
            if isinstance(self._redis, RedisCluster):
                try:
                    # The cluster pub/sub picks its node from the slot map, which the
                    # client loads on its first command: load it first.
                    await self._redis.initialize()
                except (redis.RedisError, OSError) as exc:
                    log.warning("change feed: cluster unreachable", error=type(exc).__name__)
                    ready.set()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(keys.CHANGES_CHANNEL)
                backoff = 0.1
                await handler(None)  # anything cached before now may have missed a change
                ready.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        decoded = _DECODE.decode(message["data"])
                    except msgspec.DecodeError:
                        continue
                    if isinstance(decoded, _ChangeMessage):
                        await handler(Change(decoded.cart_id, decoded.epoch, decoded.version))
                    else:
                        await handler(ResultsReady(decoded.cart_id, tuple(decoded.op_ids)))
            except asyncio.CancelledError:
                raise
            except (redis.RedisError, OSError) as exc:
                log.warning("change feed disconnected", error=type(exc).__name__)
                ready.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
