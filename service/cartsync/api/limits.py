"""Request-rate limits keyed by owner (never by a client-supplied value alone).

Every request counts against a per-replica window held in memory, so a hot read costs
no Redis call; writes also count against a window in the state store, shared by all
replicas. Unauthenticated guest-token requests are limited per client address: the
connection's peer, or, behind a proxy listed in ``CARTSYNC_TRUSTED_PROXIES``, the
address it forwards (uvicorn resolves ``X-Forwarded-For`` against that list before the
app sees the request, so a client cannot pick its own bucket). An IPv6 client is keyed
by its /64: one host is handed a whole /64 and can change addresses within it at will.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict

from ..carts.errors import RateLimited
from ..carts.ports.state import StateStore


class LocalWindow:
    """Fixed one-minute windows in this process, bounded in size."""

    def __init__(self, limit: int, size: int = 100_000) -> None:
        self._limit = limit
        self._size = size
        self._counts: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def check(self, key: str) -> None:
        now = int(time.time())
        window = now // 60
        start, count = self._counts.get(key, (window, 0))
        if start != window:
            start, count = window, 0
        self._counts[key] = (start, count + 1)
        if len(self._counts) > self._size:
            self._counts.popitem(last=False)
        if count + 1 > self._limit:
            raise RateLimited(
                "rate_limited", "Too many requests; slow down.", retry_after=(window + 1) * 60 - now
            )


class Limits:
    def __init__(self, state: StateStore, per_minute: int, writes_per_minute: int) -> None:
        self._state = state
        self._all = LocalWindow(per_minute)
        self._guests = LocalWindow(max(per_minute // 10, 10))
        self._writes_per_minute = writes_per_minute

    def check_request(self, owner_id: str) -> None:
        self._all.check(owner_id)

    async def check_write(self, owner_id: str) -> None:
        wait = await self._state.hit(f"w:{owner_id}", self._writes_per_minute, 60)
        if wait is not None:
            raise RateLimited("rate_limited", "Too many changes; slow down.", retry_after=wait)

    def check_guest_issue(self, client: str | None) -> None:
        self._guests.check(client_key(client))


def client_key(address: str | None) -> str:
    """The bucket of a client address: an IPv4 address as it is, an IPv6 address by its
    /64 (an IPv4-mapped one as the IPv4 address), anything else (a unix socket) as it is."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
