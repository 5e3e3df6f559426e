"""What Redis keeps beside the carts: idempotency records, small cached values, the
shared write-rate windows, the orders placed through a cart, and the dataset's marker
(the generation every replica checks to notice that the data was lost).
"""

from __future__ import annotations

import time

from ...carts.ports.state import Generation
from .. import keys
from .connection import RedisBase, as_bytes, packed, text, translated, unpacked


class RedisRecords(RedisBase):
    @translated
    async def reserve_record(self, key: str, record: bytes, ttl_s: int) -> bytes | None:
        redis_key = keys.idempotency(key)
        value = packed(record)
        if await self._redis.set(redis_key, value, nx=True, ex=ttl_s):
            return None
        existing = await self._redis.get(redis_key)
        if existing is None:  # expired between the two calls: try once more
            if await self._redis.set(redis_key, value, nx=True, ex=ttl_s):
                return None
            existing = await self._redis.get(redis_key)
        return unpacked(as_bytes(existing)) if existing is not None else None

    @translated
    async def put_record(self, key: str, record: bytes, ttl_s: int) -> None:
        await self._redis.set(keys.idempotency(key), packed(record), ex=ttl_s)

    @translated
    async def drop_record(self, key: str) -> None:
        await self._redis.delete(keys.idempotency(key))

    @translated
    async def record_order(self, cart_id: str, order_id: int, record: bytes) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(keys.cart_orders(cart_id), str(order_id), record)
            pipe.expire(keys.cart_orders(cart_id), self._ttl(cart_id))
            await pipe.execute()

    @translated
    async def orders(self, cart_id: str) -> list[bytes]:
        values = await self._redis.hvals(keys.cart_orders(cart_id))
        return [as_bytes(v) for v in values]

    @translated
    async def hit(self, key: str, limit: int, window_s: int) -> int | None:
        window = int(time.time()) // window_s
        wait_ms = await self._scripts["hit"](
            keys=[keys.rate(key, window)], args=[limit, window_s * 1000]
        )
        return None if int(wait_ms) == 0 else max(1, -(-int(wait_ms) // 1000))

    @translated
    async def get_value(self, key: str) -> bytes | None:
        value = await self._redis.get(keys.value(key))
        return as_bytes(value) if value is not None else None

    @translated
    async def set_value(self, key: str, value: bytes, ttl_s: float) -> None:
        await self._redis.set(keys.value(key), value, px=max(int(ttl_s * 1000), 1))

    @translated
    async def take_value(self, key: str) -> bytes | None:
        value = await self._redis.getdel(keys.value(key))
        return as_bytes(value) if value is not None else None

    @translated
    async def generation(self) -> Generation:
        marker, lost = await self._redis.mget(keys.GENERATION, keys.LOSS)
        return Generation(
            text(marker) if marker is not None else None,
            float(lost) if lost is not None else None,
        )

    @translated
    async def start_generation(
        self, candidate: str, lost_at: float | None, window_s: int
    ) -> Generation:
        marker, lost = await self._scripts["start_generation"](
            keys=[keys.GENERATION, keys.LOSS],
            args=[candidate, repr(lost_at) if lost_at is not None else "", max(window_s, 1)],
        )
        return Generation(text(marker), float(lost) if lost else None)
