"""The embedded state store: everything in this process, for a single instance.

It honours the same contract as Redis (``tests/contract``) so the one-instance demo
behaves like production; it cannot be shared, so ``cartsync serve`` refuses more
than one worker without Redis.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace

from .port import Change, ChangeHandler, Snapshot


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
        self._locks: dict[str, tuple[str, float]] = {}
        self._values: dict[str, _Expiring] = {}
        self._windows: dict[str, tuple[int, int]] = {}
        self._handlers: list[ChangeHandler] = []

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self._handlers.clear()

    async def cart_of(self, owner: str) -> str | None:
        return self._owners.get(owner)

    async def claim_cart(self, owner: str, cart_id: str) -> str:
        return self._owners.setdefault(owner, cart_id)

    async def upstream_token(self, cart_id: str) -> str | None:
        return self._tokens.get(cart_id)

    async def set_upstream_token(self, cart_id: str, token: str) -> None:
        self._tokens[cart_id] = token

    async def snapshot(self, cart_id: str) -> Snapshot | None:
        return self._snapshots.get(cart_id)

    async def reserve_version(self, cart_id: str) -> tuple[str, int]:
        epoch, seq = self._sequences.get(cart_id, (secrets.token_hex(4), 0))
        self._sequences[cart_id] = (epoch, seq + 1)
        return epoch, seq + 1

    async def store_snapshot(self, cart_id: str, snapshot: Snapshot) -> bool:
        current = self._snapshots.get(cart_id)
        epoch = self._sequences.get(cart_id, (snapshot.epoch, 0))[0]
        if snapshot.epoch != epoch:
            return False
        if current is not None and current.epoch == epoch and current.version >= snapshot.version:
            return False
        self._snapshots[cart_id] = snapshot
        return True

    async def touch_snapshot(self, cart_id: str, version: int, fetched_at: float) -> None:
        current = self._snapshots.get(cart_id)
        if current is not None and current.version == version:
            self._snapshots[cart_id] = replace(current, fetched_at=fetched_at)

    async def try_lock(self, name: str, token: str, ttl_s: float) -> bool:
        now = time.monotonic()
        holder = self._locks.get(name)
        if holder is not None and holder[1] > now:
            return False
        self._locks[name] = (token, now + ttl_s)
        return True

    async def unlock(self, name: str, token: str) -> None:
        holder = self._locks.get(name)
        if holder is not None and holder[0] == token:
            del self._locks[name]

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

    async def publish(self, change: Change) -> None:
        for handler in list(self._handlers):
            await handler(change)

    async def subscribe(self, handler: ChangeHandler) -> None:
        self._handlers.append(handler)
