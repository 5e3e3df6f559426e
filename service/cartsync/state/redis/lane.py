"""The cart's lane in Redis: its queue, lease, in-flight record and results.

Every step is one script on the cart's keys (one hash tag, one cluster slot), fenced by
the lease where it matters. The common write takes three round trips on its cart: the
caller queues its operation and takes the lease in one (``enqueue_and_lead``, which
also reads what the first turn needs), the holder records the batch as in flight before
it leaves (``begin_batch``), and one step stores the cart the store answered, records
the results and lets the lease go (``commit``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...carts.ports.state import (
    Commit,
    Committed,
    Head,
    ResultsReady,
    Snapshot,
    StateLost,
)
from .. import keys
from .carts import snapshot_args, snapshot_of
from .connection import RedisBase, as_bytes, ms, text, translated
from .feed import encode_message

_NO_SNAPSHOT: list[str | int | bytes] = ["", "", "", "", "", "", "", ""]
_COMMITS = {0: Commit.LOST, 1: Commit.KEPT, 2: Commit.RELEASED, 3: Commit.BEHIND}


class RedisLane(RedisBase):
    @translated
    async def enqueue(self, cart_id: str, entries: Sequence[bytes]) -> None:
        queued = await self._scripts["enqueue"](
            keys=[keys.cart_queue(cart_id), keys.cart_snapshot(cart_id)],
            args=[self._ttl(cart_id), *entries],
        )
        if int(queued) < 0:
            raise StateLost(cart_id)

    @translated
    async def enqueue_and_lead(
        self, cart_id: str, entries: Sequence[bytes], token: str, ttl_s: float, limit: int
    ) -> Head | None:
        answer = await self._scripts["enqueue_lead"](
            keys=[
                keys.cart_queue(cart_id),
                keys.cart_snapshot(cart_id),
                keys.cart_lease(cart_id),
                keys.cart_inflight(cart_id),
                keys.cart_token(cart_id),
            ],
            args=[self._ttl(cart_id), token, ms(ttl_s), limit, *entries],
        )
        if int(answer[0]) < 0:
            raise StateLost(cart_id)
        if int(answer[0]) == 0:
            return None
        _, inflight, queued, fields, credentials = answer
        return Head(
            as_bytes(inflight) if inflight else None,
            [as_bytes(raw) for raw in queued],
            snapshot_of(cart_id, fields),
            text(credentials) if credentials else None,
            read=True,
        )

    @translated
    async def queued(self, cart_id: str, limit: int) -> list[bytes]:
        values = await self._redis.lrange(keys.cart_queue(cart_id), 0, limit - 1)
        return [as_bytes(v) for v in values]

    @translated
    async def acquire_lease(self, cart_id: str, token: str, ttl_s: float) -> bool:
        return bool(
            await self._scripts["lease_acquire"](
                keys=[keys.cart_lease(cart_id)], args=[token, ms(ttl_s)]
            )
        )

    @translated
    async def renew_lease(self, cart_id: str, token: str, ttl_s: float) -> bool:
        return bool(
            await self._scripts["lease_renew"](
                keys=[keys.cart_lease(cart_id)], args=[token, ms(ttl_s)]
            )
        )

    @translated
    async def lease_holder(self, cart_id: str) -> str | None:
        value = await self._redis.get(keys.cart_lease(cart_id))
        return text(value) if value is not None else None

    @translated
    async def release_lease(self, cart_id: str, token: str) -> int:
        return int(
            await self._scripts["lease_release"](
                keys=[keys.cart_lease(cart_id), keys.cart_queue(cart_id)], args=[token]
            )
        )

    @translated
    async def set_inflight(self, cart_id: str, token: str, record: bytes) -> bool:
        return bool(
            await self._scripts["set_inflight"](
                keys=[keys.cart_lease(cart_id), keys.cart_inflight(cart_id)], args=[token, record]
            )
        )

    @translated
    async def inflight(self, cart_id: str) -> bytes | None:
        value = await self._redis.get(keys.cart_inflight(cart_id))
        return as_bytes(value) if value is not None else None

    async def complete(
        self, cart_id: str, token: str, count: int, results: Mapping[str, bytes], ttl_s: int
    ) -> bool:
        done = await self.commit(cart_id, token, count, results, ttl_s)
        return done.status is not Commit.LOST

    @translated
    async def commit(
        self,
        cart_id: str,
        token: str,
        count: int,
        results: Mapping[str, bytes],
        ttl_s: int,
        *,
        snapshot: Snapshot | None = None,
        release: bool = False,
        limit: int = 0,
        announce: Sequence[str] | None = None,
    ) -> Committed:
        pairs: list[str | bytes | int] = []
        for op_id, result in results.items():
            pairs += [op_id, result]
        stored = _NO_SNAPSHOT
        if snapshot is not None:
            args = snapshot_args(cart_id, snapshot, self._ttl(cart_id))
            stored = ["1", *args[:5], args[5], args[6]]  # the channel is ARGV[5] already
        announced = tuple(results) if announce is None else tuple(announce)
        announcement = encode_message(ResultsReady(cart_id, announced)) if announced else b""
        answer = await self._scripts["commit"](
            keys=[
                keys.cart_lease(cart_id),
                keys.cart_queue(cart_id),
                keys.cart_results(cart_id),
                keys.cart_inflight(cart_id),
                keys.cart_snapshot(cart_id),
            ],
            args=[
                token,
                count,
                ttl_s,
                announcement,
                keys.CHANGES_CHANNEL,
                "1" if release else "",
                limit,
                *stored,
                *pairs,
            ],
        )
        code = int(answer[0])
        if code < 0:
            raise StateLost(cart_id)
        queued = [as_bytes(raw) for raw in answer[1]] if len(answer) > 1 else None
        return Committed(_COMMITS[code], queued)

    @translated
    async def lead(
        self, cart_id: str, token: str, ttl_s: float, limit: int
    ) -> tuple[bytes | None, list[bytes]] | None:
        answer = await self._scripts["lead"](
            keys=[keys.cart_lease(cart_id), keys.cart_inflight(cart_id), keys.cart_queue(cart_id)],
            args=[token, ms(ttl_s), limit],
        )
        if not answer or int(answer[0]) == 0:
            return None
        inflight = as_bytes(answer[1]) if answer[1] else None
        return inflight, [as_bytes(raw) for raw in answer[2]]

    @translated
    async def begin_batch(
        self, cart_id: str, token: str, ttl_s: float, op_ids: Sequence[str], record: bytes
    ) -> list[bytes | None] | None:
        answer = await self._scripts["begin_batch"](
            keys=[
                keys.cart_lease(cart_id),
                keys.cart_results(cart_id),
                keys.cart_inflight(cart_id),
            ],
            args=[token, ms(ttl_s), record, *op_ids],
        )
        if not answer or int(answer[0]) == 0:
            return None
        return [as_bytes(raw) if raw else None for raw in answer[1:]]

    @translated
    async def results(self, cart_id: str, op_ids: Sequence[str]) -> list[bytes | None]:
        if not op_ids:
            return []
        values = await self._redis.hmget(keys.cart_results(cart_id), list(op_ids))
        return [as_bytes(v) if v is not None else None for v in values]
