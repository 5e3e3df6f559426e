"""Owners, carts and their snapshots in Redis: who owns which cart, each cart's record
(one hash: the snapshot, its version sequence and epoch, the lost mark) and its
upstream credentials.

A cart's record is made when it is claimed; a step that finds it gone raises
``StateLost`` rather than starting the cart over (the data was lost).
"""

from __future__ import annotations

import secrets
import time

from ...carts.ports.state import Change, Snapshot, StateLost
from .. import keys
from .connection import RedisBase, as_bytes, packed, text, translated, unpacked
from .feed import encode_message

SNAPSHOT_FIELDS = ("epoch", "version", "fetched", "digest", "body", "born", "lost")


def snapshot_of(cart_id: str, fields: list[bytes | str | None]) -> Snapshot | None:
    """A snapshot from its record's ``SNAPSHOT_FIELDS``; None when none is stored yet."""
    epoch, version, fetched, digest, body, born, lost = fields
    if epoch is None and born is None:
        raise StateLost(cart_id)  # no record at all: claimed once, gone now
    if epoch is None or version is None or body is None:
        return None
    return Snapshot(
        text(epoch),
        int(version),
        float(fetched or 0),
        text(digest or b""),
        unpacked(as_bytes(body)),
        float(lost) if lost is not None else None,
    )


class RedisCarts(RedisBase):
    @translated
    async def cart_of(self, owner: str) -> str | None:
        value = await self._redis.get(keys.owner(owner))
        return text(value) if value is not None else None

    @translated
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
        return text(value) if value is not None else cart_id

    @translated
    async def forget_owner(self, owner: str) -> None:
        await self._redis.delete(keys.owner(owner))

    @translated
    async def touch_owner(self, owner: str, ttl_s: int) -> None:
        await self._redis.expire(keys.owner(owner), min(ttl_s, self._ttl(owner)))

    @translated
    async def upstream_token(self, cart_id: str) -> str | None:
        value = await self._redis.get(keys.cart_token(cart_id))
        return text(value) if value is not None else None

    @translated
    async def set_upstream_token(self, cart_id: str, token: str) -> None:
        await self._redis.set(keys.cart_token(cart_id), token, ex=self._ttl(cart_id))

    @translated
    async def snapshot(self, cart_id: str) -> Snapshot | None:
        fields = await self._redis.hmget(keys.cart_snapshot(cart_id), list(SNAPSHOT_FIELDS))
        return snapshot_of(cart_id, fields)

    @translated
    async def snapshot_and_token(self, cart_id: str) -> tuple[Snapshot | None, str | None]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.cart_snapshot(cart_id), list(SNAPSHOT_FIELDS))
            pipe.get(keys.cart_token(cart_id))
            fields, token = await pipe.execute()
        return snapshot_of(cart_id, fields), text(token) if token is not None else None

    @translated
    async def reserve_version(self, cart_id: str) -> tuple[str, int]:
        epoch, version = await self._scripts["reserve_version"](
            keys=[keys.cart_snapshot(cart_id)], args=[secrets.token_hex(4)]
        )
        if int(version) < 0:
            raise StateLost(cart_id)
        return text(epoch), int(version)

    @translated
    async def flag_lost(self, cart_id: str, at: float) -> None:
        await self._redis.hset(keys.cart_snapshot(cart_id), "lost", repr(at))

    @translated
    async def clear_lost(self, cart_id: str) -> None:
        await self._redis.hdel(keys.cart_snapshot(cart_id), "lost")

    @translated
    async def lost_flag(self, cart_id: str) -> float | None:
        value = await self._redis.hget(keys.cart_snapshot(cart_id), "lost")
        return float(value) if value is not None else None

    @translated
    async def store_snapshot(
        self, cart_id: str, snapshot: Snapshot, lease_token: str | None = None
    ) -> bool:
        args = snapshot_args(cart_id, snapshot, self._ttl(cart_id))
        stored = await self._scripts["store_snapshot"](
            keys=[keys.cart_snapshot(cart_id), keys.cart_lease(cart_id)],
            args=[*args[:6], lease_token or "", *args[6:]],
        )
        return bool(stored)

    @translated
    async def touch_snapshot(self, cart_id: str, version: int, fetched_at: float) -> None:
        await self._scripts["touch_snapshot"](
            keys=[keys.cart_snapshot(cart_id)], args=[version, repr(fetched_at), self._ttl(cart_id)]
        )


def snapshot_args(cart_id: str, snapshot: Snapshot, ttl_s: int) -> list[str | int | bytes]:
    """A snapshot as the scripts that store one take it: epoch, version, fetched_at,
    digest, body (packed), the record's ttl, the change announcement, the channel."""
    change = encode_message(Change(cart_id, snapshot.epoch, snapshot.version))
    return [
        snapshot.epoch,
        snapshot.version,
        repr(snapshot.fetched_at),
        snapshot.digest,
        packed(snapshot.body),
        ttl_s,
        change,
        keys.CHANGES_CHANNEL,
    ]
