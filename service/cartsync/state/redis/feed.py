"""The change feed in Redis: one pub/sub channel every replica listens to.

Snapshot writes and recorded results are announced from inside the fenced scripts that
make them (``carts``, ``lane``), so an announcement costs no round trip of its own. A
subscriber that reconnects tells its handler that changes may have been missed
(pub/sub is at-most-once), and every replica then drops its near copies.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import redis.asyncio as redis
import structlog
from redis.asyncio.cluster import RedisCluster

from ...carts.ports.state import Change, ChangeHandler, Message, ResultsReady
from .. import keys
from .connection import RedisBase, translated

log = structlog.get_logger("cartsync.state.redis")


class _ChangeMessage(msgspec.Struct, array_like=True, tag="c"):
    cart_id: str
    epoch: str
    version: int


class _ResultsMessage(msgspec.Struct, array_like=True, tag="r"):
    cart_id: str
    op_ids: list[str]


_ENCODE = msgspec.msgpack.Encoder()
_DECODE = msgspec.msgpack.Decoder(_ChangeMessage | _ResultsMessage)


def encode_message(message: Message) -> bytes:
    if isinstance(message, Change):
        return _ENCODE.encode(_ChangeMessage(message.cart_id, message.epoch, message.version))
    return _ENCODE.encode(_ResultsMessage(message.cart_id, list(message.op_ids)))


class RedisFeed(RedisBase):
    @translated
    async def publish(self, message: Message) -> None:
        await self._redis.publish(keys.CHANGES_CHANNEL, encode_message(message))

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
