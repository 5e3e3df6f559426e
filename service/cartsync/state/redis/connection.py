"""The Redis client and the boundary every command crosses: how a client is built (plain,
Sentinel, Cluster), the scripts registered on it, Redis failures turned into the
domain's ``StateUnavailable``, and how values are packed.

Each other module of this package is one part of the state store (``carts``, ``lane``,
``records``, ``feed``); ``RedisStateStore`` (``__init__.py``) is all of them on one
client. Read-modify-write steps are Lua scripts (``state/lua/``), registered once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import zlib
from collections.abc import Callable, Coroutine
from importlib import resources
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.commands.core import AsyncScript
from redis.driver_info import DriverInfo

from ...carts.ports.state import StateLost, StateUnavailable
from ...redis_url import SENTINEL_SCHEME, parse_sentinel_url

CART_TTL_S = 30 * 24 * 3600
GUEST_CART_TTL_S = 7 * 24 * 3600
Client = redis.Redis | RedisCluster


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


_ZLIB = b"\x78"  # every zlib stream's first byte; no JSON cart or msgpack record starts so
_PACK_FROM = 256  # smaller values are not worth a compressor's time


def packed(value: bytes) -> bytes:
    """A cart (or a record holding one) as Redis keeps it: zlib at its fastest level.
    JSON carts shrink to about a third (3,039 → 1,086 bytes for a 7-line cart) for
    ~20 µs; Redis memory is what sizes a deployment."""
    return zlib.compress(value, 1) if len(value) >= _PACK_FROM else value


def unpacked(value: bytes) -> bytes:
    """Read back what ``packed`` wrote (values written before it are read as they are)."""
    return zlib.decompress(value) if value[:1] == _ZLIB else value


def ms(seconds: float) -> int:
    """A lease's time to live as Redis takes it (whole milliseconds, at least one)."""
    return max(int(seconds * 1000), 1)


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


def translated(
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


def _scripts(client: Client) -> dict[str, AsyncScript]:
    """Every script in ``state/lua/``, registered on ``client`` under its file's name."""
    folder = resources.files("cartsync.state").joinpath("lua")
    return {
        entry.name.removesuffix(".lua"): client.register_script(entry.read_text())
        for entry in folder.iterdir()
        if entry.name.endswith(".lua")
    }


# What each connection tells Redis in CLIENT SETINFO, made once: left to redis-py, every
# new connection builds its own and reads redis-py's version from the installed package
# metadata, ~1.9 ms of CPU each (profiled: a burst of 25 writes opens ~20 connections).
_DRIVER = DriverInfo()


def connect(url: str, *, max_connections: int, cluster: bool) -> Client:
    """A client on a blocking pool: past ``max_connections`` a command waits for a free
    connection (a burst of streams re-reading carts) instead of failing.

    ``cluster``: redis-py's cluster client on the same URL (any one node; the rest are
    discovered). Every key of one cart shares the hash tag ``{cart:ID}``, so each script
    and pipeline of a cart stays in one slot; PUBLISH reaches every node."""
    if url.startswith(SENTINEL_SCHEME):
        hosts, master, db, password = parse_sentinel_url(url)
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            hosts,
            socket_timeout=5,
            socket_connect_timeout=3,
            sentinel_kwargs={"password": password} if password else None,
        )
        client: Client = sentinel.master_for(
            master,
            db=db,
            password=password,
            socket_timeout=5,
            socket_connect_timeout=3,
            max_connections=max_connections,
            driver_info=_DRIVER,
        )
        return client
    if cluster:
        return RedisCluster.from_url(
            url,
            max_connections=max_connections,
            socket_timeout=5,
            socket_connect_timeout=3,
            driver_info=_DRIVER,
        )
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        socket_timeout=5,
        socket_connect_timeout=3,
        health_check_interval=30,
        driver_info=_DRIVER,
    )
    return redis.Redis(connection_pool=pool)


class RedisBase:
    """The client, its scripts and the time carts are kept: what every part shares."""

    def __init__(
        self,
        client: Client,
        *,
        cart_ttl_s: int = CART_TTL_S,
        guest_cart_ttl_s: int = GUEST_CART_TTL_S,
    ) -> None:
        self._redis = client
        self._cart_ttl_s = cart_ttl_s
        self._guest_cart_ttl_s = guest_cart_ttl_s
        self._scripts = _scripts(client)
        self._tasks: list[asyncio.Task[None]] = []

    def _ttl(self, cart_or_owner: str) -> int:
        """Idle carts expire with their tokens: guests' sooner (ids say which)."""
        guest = cart_or_owner.startswith(("cg_", "g_"))
        return self._guest_cart_ttl_s if guest else self._cart_ttl_s

    @translated
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
