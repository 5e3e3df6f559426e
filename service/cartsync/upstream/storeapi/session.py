"""The Store API's session rules: the Cart-Token (a JWT naming the store's session) and
the guest Nonce.

A Cart-Token is signed with the shop's secret, so cartsync only reads its payload:
``user_id`` names the session (``t_...``), ``exp`` its expiry (48 h, sliding: every
cart answer carries a fresh token for the same session). A token the store no longer
accepts is not refused: the store answers for a new, empty session, which is how a
lost cart shows (``user_id`` changed).

The Nonce is one value for every guest session of the store, valid for 12-24 h.
WooCommerce 8.9 demands it on every write even with a Cart-Token (9.9 does not), so
the adapter keeps the newest one it was sent, in memory.
"""

from __future__ import annotations

import base64
import functools
import time
from typing import Any

import msgspec

RENEW_WITHIN_S = 3600.0  # renew a token with less than this left (it lives 48 h)
STORE_STEP_S = 600.0  # a token whose expiry moved on less than this is not worth storing


def claims(token: str | None) -> dict[str, Any]:
    """The Cart-Token's payload, read without its secret (only the store has it)."""
    if not token or token.count(".") != 2:
        return {}
    return _payload(token)


@functools.lru_cache(maxsize=4096)
def _payload(token: str) -> dict[str, Any]:
    """Decoded once a token: a turn asks about the same two tokens seven times (lost?
    renewal due? worth storing?), 2.5 µs a decode. Callers only read the dict."""
    part = token.split(".")[1]
    try:
        payload = msgspec.json.decode(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, msgspec.DecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def session_of(token: str | None) -> str | None:
    user = claims(token).get("user_id")
    return str(user) if user is not None else None


def expiry_of(token: str | None) -> float | None:
    expiry = claims(token).get("exp")
    return float(expiry) if isinstance(expiry, int | float) else None


def cart_lost(sent: str | None, received: str | None) -> bool:
    if not sent or not received:
        return False
    before = session_of(sent)
    return before is not None and before != session_of(received)


def renewal_due(token: str | None, now: float) -> bool:
    expiry = expiry_of(token)
    return expiry is not None and expiry - now < RENEW_WITHIN_S


def worth_storing(stored: str | None, received: str) -> bool:
    if stored is None or session_of(stored) != session_of(received):
        return True
    return (expiry_of(received) or 0.0) - (expiry_of(stored) or 0.0) >= STORE_STEP_S


class NonceKeeper:
    """The newest guest Nonce this replica was sent; forgotten when the store refuses it."""

    _MEMORY_S = 3600.0  # well inside the nonce's 12-24 h life

    def __init__(self) -> None:
        self._nonce: tuple[str, float] | None = None

    def current(self) -> str | None:
        if self._nonce is not None and time.monotonic() - self._nonce[1] < self._MEMORY_S:
            return self._nonce[0]
        return None

    def seen(self, nonce: str | None) -> None:
        if nonce:
            self._nonce = (nonce, time.monotonic())

    def forget(self) -> None:
        self._nonce = None
