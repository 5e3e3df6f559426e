"""Errors of the upstream store, translated at the adapter's boundary.

UpstreamError
├── UpstreamUnavailable      network error, 5xx, or the store's rate limit
│   ├── UpstreamTimeout      no answer in time (a write's outcome is unknown)
│   └── UpstreamRateLimited  WooCommerce's ``rate_limit_exceeded``
├── UpstreamNonceRejected    the guest nonce expired: fetch a new one, retry once
└── UpstreamRejected         a 4xx with a WooCommerce error code (and maybe the cart)
"""

from __future__ import annotations

from typing import Any

from ..carts.model import Cart


class UpstreamError(Exception):
    """Anything that went wrong talking to the store."""


class UpstreamUnavailable(UpstreamError):
    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamOutcomeUnknown(UpstreamUnavailable):
    """The request left; the answer was lost (timeout, dropped connection, 5xx).

    ``finished`` is True when the store answered (a 5xx): its request is over, so the
    cart already shows whatever it did. Otherwise it may still be running.
    """

    def __init__(self, message: str, retry_after: int = 5, *, finished: bool = False) -> None:
        super().__init__(message, retry_after)
        self.finished = finished


class UpstreamTimeout(UpstreamOutcomeUnknown):
    pass


class UpstreamRateLimited(UpstreamUnavailable):
    pass


class UpstreamNonceRejected(UpstreamError):
    pass


class UpstreamRejected(UpstreamError):
    """The store refused the request; ``cart`` is its cart when it sent one (409s)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        *,
        cart: Cart | None = None,
        token: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.cart = cart
        self.token = token
        self.details = details or {}
