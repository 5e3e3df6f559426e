"""The store's failures as the domain understands them; adapters raise only these.

UpstreamError
├── UpstreamUnavailable      nothing was done: unreachable, 5xx before the write, busy
│   ├── UpstreamOutcomeUnknown   the request left and its answer was lost
│   │   └── UpstreamTimeout      no answer in time (the store may still be running it)
│   └── UpstreamRateLimited      the store's rate limit (``retry_after`` seconds)
└── UpstreamRefused          the store refused one operation; the adapter has already
                             translated its code into a domain error (``error``)

Each adapter keeps its store's error table and maps codes to ``UpstreamRefused`` at
its boundary, so the domain never sees a WooCommerce or CoCart code.
"""

from __future__ import annotations

from ..errors import CartError
from ..model import Cart


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


class UpstreamRefused(UpstreamError):
    """The store said no. ``error`` is the domain's error for it (class, stable code,
    plain-text message, field at fault); ``cart`` the store's cart when it sent one;
    ``credentials`` the newest ones the answer carried."""

    def __init__(
        self, error: CartError, *, cart: Cart | None = None, credentials: str | None = None
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.cart = cart
        self.credentials = credentials

    def with_cart(self, encoded: bytes | None) -> CartError:
        """The domain error to raise, with the cart (encoded) it concerns."""
        error = self.error
        return type(error)(
            error.code,
            error.message,
            field=error.field,
            cart=encoded,
            retry_after=error.retry_after,
        )
