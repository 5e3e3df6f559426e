"""The embedded state store: everything in this process, for a single instance.

It honours the same contract as Redis (``tests/contract``) so the one-instance demo
behaves like production; it cannot be shared, so ``cartsync serve`` refuses more
than one worker without Redis.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..carts.ports.state import (
    Change,
    ChangeHandler,
    Commit,
    Committed,
    Generation,
    Head,
    Message,
    ResultsReady,
    Snapshot,
    StateLost,
)


@dataclass(slots=True)
class _Expiring:
    value: bytes
    expires_at: float


class MemoryStateStore:
    def __init__(self) -> None:
        self._owners: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._sequences: dict[str, tuple[str, int]] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._queues: dict[str, list[bytes]] = {}
        self._inflight: dict[str, bytes] = {}
        self._results: dict[str, dict[str, bytes]] = {}
        self._records: dict[str, _Expiring] = {}
        self._values: dict[str, _Expiring] = {}
        self._windows: dict[str, tuple[int, int]] = {}
        self._handlers: list[ChangeHandler] = []
        self._born: dict[str, float] = {}
        self._orders: dict[str, dict[int, bytes]] = {}
        self._lost: dict[str, float] = {}
        self._generation: str | None = None
        self._loss: float | None = None

    def wipe(self) -> None:
        """Lose every piece of data, as a Redis without persistence does on restart
        (tests: the embedded store otherwise never loses anything)."""
        handlers = self._handlers
        self.__init__()  # type: ignore[misc]
        self._handlers = handlers

    def _exists(self, cart_id: str) -> None:
        if cart_id not in self._born and cart_id not in self._sequences:
            raise StateLost(cart_id)

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self._handlers.clear()

    async def cart_of(self, owner: str) -> str | None:
        return self._owners.get(owner)

    async def claim_cart(self, owner: str, cart_id: str) -> str:
        self._born.setdefault(cart_id, time.time())
        return self._owners.setdefault(owner, cart_id)

    async def forget_owner(self, owner: str) -> None:
        self._owners.pop(owner, None)

    async def upstream_token(self, cart_id: str) -> str | None:
        return self._tokens.get(cart_id)

    async def set_upstream_token(self, cart_id: str, token: str) -> None:
        self._tokens[cart_id] = token

    def _stored(self, cart_id: str) -> Snapshot | None:
        self._exists(cart_id)
        stored = self._snapshots.get(cart_id)
        lost = self._lost.get(cart_id)
        if stored is None or stored.lost_at == lost:
            return stored
        return replace(stored, lost_at=lost)

    async def snapshot(self, cart_id: str) -> Snapshot | None:
        return self._stored(cart_id)

    async def snapshot_and_token(self, cart_id: str) -> tuple[Snapshot | None, str | None]:
        return self._stored(cart_id), self._tokens.get(cart_id)

    async def flag_lost(self, cart_id: str, at: float) -> None:
        self._lost[cart_id] = at

    async def clear_lost(self, cart_id: str) -> None:
        self._lost.pop(cart_id, None)

    async def lost_flag(self, cart_id: str) -> float | None:
        return self._lost.get(cart_id)

    async def generation(self) -> Generation:
        return Generation(self._generation, self._loss)

    async def start_generation(
        self, candidate: str, lost_at: float | None, window_s: int
    ) -> Generation:
        if self._generation is None:
            self._generation = candidate
        if lost_at is not None and self._loss is None:
            self._loss = lost_at
        return Generation(self._generation, self._loss)

    async def reserve_version(self, cart_id: str) -> tuple[str, int]:
        self._exists(cart_id)
        epoch, seq = self._sequences.get(cart_id, (secrets.token_hex(4), 0))
        self._sequences[cart_id] = (epoch, seq + 1)
        return epoch, seq + 1

    async def store_snapshot(
        self, cart_id: str, snapshot: Snapshot, lease_token: str | None = None
    ) -> bool:
        if lease_token is not None and self._holder(cart_id) != lease_token:
            return False
        current = self._snapshots.get(cart_id)
        epoch = self._sequences.get(cart_id, (snapshot.epoch, 0))[0]
        if snapshot.epoch != epoch:
            return False
        if current is not None and current.epoch == epoch and current.version >= snapshot.version:
            return False
        self._snapshots[cart_id] = snapshot
        await self.publish(Change(cart_id, snapshot.epoch, snapshot.version))
        return True

    async def touch_snapshot(self, cart_id: str, version: int, fetched_at: float) -> None:
        current = self._snapshots.get(cart_id)
        if current is not None and current.version == version:
            self._snapshots[cart_id] = replace(current, fetched_at=fetched_at)

    def _holder(self, cart_id: str) -> str | None:
        lease = self._leases.get(cart_id)
        if lease is None or lease[1] <= time.monotonic():
            return None
        return lease[0]

    async def enqueue(self, cart_id: str, entries: Sequence[bytes]) -> None:
        self._exists(cart_id)
        self._queues.setdefault(cart_id, []).extend(entries)

    async def queued(self, cart_id: str, limit: int) -> list[bytes]:
        return list(self._queues.get(cart_id, [])[:limit])

    async def acquire_lease(self, cart_id: str, token: str, ttl_s: float) -> bool:
        if self._holder(cart_id) is not None:
            return False
        self._leases[cart_id] = (token, time.monotonic() + ttl_s)
        return True

    async def lead(
        self, cart_id: str, token: str, ttl_s: float, limit: int
    ) -> tuple[bytes | None, list[bytes]] | None:
        if not await self.acquire_lease(cart_id, token, ttl_s):
            return None
        return self._inflight.get(cart_id), list(self._queues.get(cart_id, [])[:limit])

    async def begin_batch(
        self, cart_id: str, token: str, ttl_s: float, op_ids: Sequence[str], record: bytes
    ) -> list[bytes | None] | None:
        if not await self.renew_lease(cart_id, token, ttl_s):
            return None
        recorded = self._results.get(cart_id, {})
        answered = [recorded.get(op_id) for op_id in op_ids]
        if not any(a is not None for a in answered):
            self._inflight[cart_id] = record
        return answered

    async def renew_lease(self, cart_id: str, token: str, ttl_s: float) -> bool:
        if self._holder(cart_id) != token:
            return False
        self._leases[cart_id] = (token, time.monotonic() + ttl_s)
        return True

    async def lease_holder(self, cart_id: str) -> str | None:
        return self._holder(cart_id)

    async def release_lease(self, cart_id: str, token: str) -> int:
        if self._holder(cart_id) != token:
            return -1
        if self._queues.get(cart_id):
            return 0
        del self._leases[cart_id]
        return 1

    async def set_inflight(self, cart_id: str, token: str, record: bytes) -> bool:
        if self._holder(cart_id) != token:
            return False
        self._inflight[cart_id] = record
        return True

    async def inflight(self, cart_id: str) -> bytes | None:
        return self._inflight.get(cart_id)

    async def complete(
        self, cart_id: str, token: str, count: int, results: Mapping[str, bytes], ttl_s: int
    ) -> bool:
        return await self._complete(cart_id, token, count, results, tuple(results))

    async def _complete(
        self,
        cart_id: str,
        token: str,
        count: int,
        results: Mapping[str, bytes],
        announced: tuple[str, ...],
    ) -> bool:
        if self._holder(cart_id) != token:
            return False
        queue = self._queues.get(cart_id, [])
        del queue[:count]
        self._results.setdefault(cart_id, {}).update(results)
        self._inflight.pop(cart_id, None)
        if announced:
            await self.publish(ResultsReady(cart_id, announced))
        return True

    async def enqueue_and_lead(
        self, cart_id: str, entries: Sequence[bytes], token: str, ttl_s: float, limit: int
    ) -> Head | None:
        await self.enqueue(cart_id, entries)
        first = await self.lead(cart_id, token, ttl_s, limit)
        if first is None:
            return None
        return Head(first[0], first[1], self._stored(cart_id), self._tokens.get(cart_id), True)

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
        if self._holder(cart_id) != token:
            return Committed(Commit.LOST)
        if snapshot is not None:
            self._exists(cart_id)
            sequence = self._sequences.get(cart_id)
            if sequence != (snapshot.epoch, snapshot.version - 1):
                return Committed(Commit.BEHIND)
            self._sequences[cart_id] = (snapshot.epoch, snapshot.version)
            self._snapshots[cart_id] = snapshot
            await self.publish(Change(cart_id, snapshot.epoch, snapshot.version))
        announced = tuple(results) if announce is None else tuple(announce)
        await self._complete(cart_id, token, count, results, announced)
        if not release:
            return Committed(Commit.KEPT)
        if await self.release_lease(cart_id, token) == 1:
            return Committed(Commit.RELEASED)
        return Committed(Commit.KEPT, list(self._queues.get(cart_id, [])[:limit]))

    async def results(self, cart_id: str, op_ids: Sequence[str]) -> list[bytes | None]:
        recorded = self._results.get(cart_id, {})
        return [recorded.get(op_id) for op_id in op_ids]

    async def record_order(self, cart_id: str, order_id: int, record: bytes) -> None:
        self._orders.setdefault(cart_id, {})[order_id] = record

    async def orders(self, cart_id: str) -> list[bytes]:
        return list(self._orders.get(cart_id, {}).values())

    def _record(self, key: str) -> bytes | None:
        entry = self._records.get(key)
        if entry is None or entry.expires_at <= time.monotonic():
            self._records.pop(key, None)
            return None
        return entry.value

    async def reserve_record(self, key: str, record: bytes, ttl_s: int) -> bytes | None:
        existing = self._record(key)
        if existing is not None:
            return existing
        self._records[key] = _Expiring(record, time.monotonic() + ttl_s)
        return None

    async def put_record(self, key: str, record: bytes, ttl_s: int) -> None:
        self._records[key] = _Expiring(record, time.monotonic() + ttl_s)

    async def drop_record(self, key: str) -> None:
        self._records.pop(key, None)

    async def hit(self, key: str, limit: int, window_s: int) -> int | None:
        now = int(time.time())
        window = now // window_s
        start, count = self._windows.get(key, (window, 0))
        if start != window:
            start, count = window, 0
        count += 1
        self._windows[key] = (start, count)
        if count > limit:
            return (window + 1) * window_s - now
        return None

    async def get_value(self, key: str) -> bytes | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry.expires_at <= time.monotonic():
            del self._values[key]
            return None
        return entry.value

    async def set_value(self, key: str, value: bytes, ttl_s: float) -> None:
        self._values[key] = _Expiring(value, time.monotonic() + ttl_s)

    async def take_value(self, key: str) -> bytes | None:
        value = await self.get_value(key)
        self._values.pop(key, None)
        return value

    async def touch_owner(self, owner: str, ttl_s: int) -> None:
        return None  # one process: carts live as long as it does

    async def publish(self, message: Message) -> None:
        for handler in list(self._handlers):
            await handler(message)

    async def subscribe(self, handler: ChangeHandler) -> None:
        self._handlers.append(handler)
