"""Every Redis key, built in one place.

All keys of one cart share the hash tag ``{cart:ID}`` so Lua scripts and multi-key
steps stay in one Redis Cluster slot. The owner → cart key lives in its own slot and
is never used in the same script as a cart's keys. ``v1`` versions the stored formats.
"""

from __future__ import annotations

PREFIX = "cs:v1"
CHANGES_CHANNEL = f"{PREFIX}:changes"
NONCE = f"{PREFIX}:upstream:nonce"
# The dataset's marker and its last loss, in one slot (one script reads both).
GENERATION = f"{PREFIX}:{{dataset}}:generation"
LOSS = f"{PREFIX}:{{dataset}}:loss"


def owner(owner_id: str) -> str:
    return f"{PREFIX}:owner:{{{owner_id}}}"


def cart_token(cart_id: str) -> str:
    return f"{PREFIX}:{{cart:{cart_id}}}:token"


def cart_snapshot(cart_id: str) -> str:
    return f"{PREFIX}:{{cart:{cart_id}}}:snap"


def lock(name: str) -> str:
    return f"{PREFIX}:lock:{{{name}}}"


def rate(key: str, window: int) -> str:
    return f"{PREFIX}:rate:{{{key}}}:{window}"


def value(key: str) -> str:
    return f"{PREFIX}:value:{key}"


def cart_queue(cart_id: str) -> str:
    return f"{PREFIX}:{{cart:{cart_id}}}:queue"


def cart_lease(cart_id: str) -> str:
    return f"{PREFIX}:{{cart:{cart_id}}}:lease"


def cart_inflight(cart_id: str) -> str:
    return f"{PREFIX}:{{cart:{cart_id}}}:inflight"


def cart_orders(cart_id: str) -> str:
    return f"{PREFIX}:{{cart:{cart_id}}}:orders"


def cart_results(cart_id: str) -> str:
    return f"{PREFIX}:{{cart:{cart_id}}}:results"


def idempotency(record_key: str) -> str:
    """``record_key`` is already owner-scoped and hashed (``carts/idempotency.py``)."""
    return f"{PREFIX}:idem:{record_key}"
