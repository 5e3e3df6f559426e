"""Domain errors with stable machine codes: what the cart service tells its callers.

    CartError                 code, message, field, cart (the encoded cart, when known)
    ├── Invalid               the request cannot be applied as asked
    ├── NotFound              a product, variation, line or coupon that is not there
    ├── Conflict              the cart or the catalogue does not allow it now
    ├── RateLimited           too many requests from this owner
    ├── Unavailable           the store is down or refused to serve (retry later)
    └── UpstreamTimedOut      the store did not answer in time

The HTTP layer maps classes to statuses (``api/errors.py``); the README lists every
code. The domain never names a status, and never a store's own code: each store
adapter translates its codes into these (``upstream/<store>/errors.py``).
"""

from __future__ import annotations


class CartError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        cart: bytes | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.cart = cart
        self.retry_after = retry_after


class Invalid(CartError):
    pass


class NotFound(CartError):
    pass


class Conflict(CartError):
    pass


class RateLimited(CartError):
    pass


class Unavailable(CartError):
    pass


class UpstreamTimedOut(CartError):
    pass


def not_supported(feature: str, field: str | None = None) -> Conflict:
    """The store this gateway fronts cannot do this at all (e.g. coupons on CoCart free)."""
    return Conflict(
        f"{feature}_not_supported",
        f"This shop's store does not support {feature.replace('_', ' ')}.",
        field=field,
    )


def state_lost(cart: bytes) -> Conflict:
    """A write that may repeat a change lost with the cart's state, not applied."""
    return Conflict(
        "cart_state_lost",
        "This cart's earlier state was lost, so this request may repeat a change that "
        "was lost with it. Check the cart, then send again with If-Match naming its "
        "version.",
        field="If-Match",
        cart=cart,
    )
