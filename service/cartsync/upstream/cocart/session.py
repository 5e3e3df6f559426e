"""CoCart's session rules: the cart key, and how a lost cart shows.

A guest cart is a row keyed by a 30-hex key; every request that names the key renews
its expiry to seven days on (CoCart 4.4); a cron job deletes rows past their expiry.
A deleted key is not refused: CoCart adopts it again as a new, empty cart under the
same key, so the key alone cannot tell a lost cart from an emptied one. The
credentials therefore carry the store's own clock (``CoCart-Timestamp``) of the last
answer: an answer more than the expiry after it means the row may have been deleted,
and then the adapter moves the cart to a new key (so a rebuild starts from nothing,
and a failed rebuild can start over in another new key).

Credentials: ``<cart key>.<store time of the last answer>``.
"""

from __future__ import annotations

import time

CART_EXPIRY_S = 7 * 86400  # CoCart 4.4's guest cart expiration (filter cocart_cart_expiration)
RENEW_AFTER_S = CART_EXPIRY_S - 86400  # idle this long: read (which renews) before a write
STORE_STEP_S = 600.0  # store time that moved on less than this is not worth storing


def pack(key: str, store_time: int) -> str:
    return f"{key}.{store_time}"


def unpack(credentials: str | None) -> tuple[str, int] | None:
    if not credentials:
        return None
    key, _, stamp = credentials.partition(".")
    if not key or not stamp.isdigit():
        return None
    return key, int(stamp)


def cart_lost(sent: str | None, received: str | None) -> bool:
    before, after = unpack(sent), unpack(received)
    return before is not None and after is not None and before[0] != after[0]


def may_have_expired(credentials: str | None, store_now: float) -> bool:
    """The row behind these credentials may have been deleted by now."""
    known = unpack(credentials)
    return known is not None and store_now - known[1] >= CART_EXPIRY_S


def worth_storing(stored: str | None, received: str) -> bool:
    before, after = unpack(stored), unpack(received)
    if before is None or after is None or before[0] != after[0]:
        return True
    return after[1] - before[1] >= STORE_STEP_S


class StoreClock:
    """The store's clock as last seen (``CoCart-Timestamp``), to judge expiry in the
    store's time rather than ours."""

    def __init__(self) -> None:
        self._offset = 0.0

    def seen(self, stamp: str | None) -> int | None:
        if stamp is None or not stamp.isdigit():
            return None
        self._offset = int(stamp) - time.time()
        return int(stamp)

    def now(self, local: float | None = None) -> float:
        return (time.time() if local is None else local) + self._offset
