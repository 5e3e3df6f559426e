"""The Redis state store (redis-py asyncio, hiredis): for any number of replicas.

One module a job: ``connection`` (the client, its scripts, the error boundary, packing),
``carts`` (owners, cart records and snapshots, credentials), ``lane`` (queue, lease,
in-flight record, results), ``records`` (idempotency records, values, rate windows,
orders, the dataset's marker) and ``feed`` (the change feed's pub/sub). Keys come from
``state/keys.py``: every key of a cart carries the hash tag ``{cart:ID}``, so each
script of a cart runs in one Redis Cluster slot.
"""

from __future__ import annotations

from collections.abc import Callable

from .carts import RedisCarts
from .connection import CART_TTL_S, GUEST_CART_TTL_S, Client, connect
from .feed import RedisFeed
from .lane import RedisLane
from .records import RedisRecords


class RedisStateStore(RedisCarts, RedisLane, RedisRecords, RedisFeed):
    """The ``StateStore`` port on one Redis client (plain, Sentinel or Cluster)."""

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        cart_ttl_s: int = CART_TTL_S,
        guest_cart_ttl_s: int = GUEST_CART_TTL_S,
        max_connections: int = 200,
        cluster: bool = False,
        instrument: Callable[[Client], None] | None = None,
    ) -> RedisStateStore:
        """A store on the client ``connect`` builds for ``url``; ``instrument``:
        tracing's hook for the client, when tracing is on."""
        client = connect(url, max_connections=max_connections, cluster=cluster)
        if instrument is not None:
            instrument(client)
        return cls(client, cart_ttl_s=cart_ttl_s, guest_cart_ttl_s=guest_cart_ttl_s)


__all__ = ["CART_TTL_S", "GUEST_CART_TTL_S", "RedisStateStore"]
