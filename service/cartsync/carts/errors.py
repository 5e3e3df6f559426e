"""Domain errors with stable machine codes, and the translation of the store's codes.

    CartError                 code, message, field, cart (the encoded cart, when known)
    ├── Invalid               the request cannot be applied as asked
    ├── NotFound              a product, variation, line or coupon that is not there
    ├── Conflict              the cart or the catalogue does not allow it now
    ├── RateLimited           too many requests from this owner
    ├── Unavailable           the store is down or refused to serve (retry later)
    └── UpstreamTimedOut      the store did not answer in time

The HTTP layer maps classes to statuses (``api/errors.py``); the README lists every
code. The domain never names a status.
"""

from __future__ import annotations

from ..upstream.errors import UpstreamRejected
from ..upstream.storeapi_mapping import plain_text


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


# WooCommerce code → (our class, our code, the field at fault).
_BY_CODE: dict[str, tuple[type[CartError], str, str | None]] = {
    "woocommerce_rest_cart_invalid_product": (NotFound, "product_not_found", "product_id"),
    "woocommerce_rest_cart_invalid_parent_product": (NotFound, "product_not_found", "product_id"),
    "woocommerce_rest_product_invalid_id": (NotFound, "product_not_found", "product_id"),
    "woocommerce_rest_variation_id_from_variation_data": (
        NotFound,
        "variation_not_found",
        "variation",
    ),
    "woocommerce_rest_invalid_variation_data": (Invalid, "invalid_variation", "variation"),
    "woocommerce_rest_missing_variation_data": (Invalid, "invalid_variation", "variation"),
    "woocommerce_rest_product_out_of_stock": (Conflict, "out_of_stock", "product_id"),
    "woocommerce_rest_product_partially_out_of_stock": (Conflict, "insufficient_stock", "quantity"),
    "woocommerce_rest_cart_product_no_stock": (Conflict, "out_of_stock", "product_id"),
    "woocommerce_rest_product_not_purchasable": (Conflict, "not_purchasable", "product_id"),
    "woocommerce_rest_cart_product_is_not_purchasable": (Conflict, "not_purchasable", "product_id"),
    "invalid_quantity": (Invalid, "invalid_quantity", "quantity"),
    "woocommerce_rest_product_invalid_quantity": (Invalid, "invalid_quantity", "quantity"),
    "readonly_quantity": (Conflict, "quantity_not_editable", "quantity"),
    "woocommerce_rest_cart_product_sold_individually": (
        Conflict,
        "quantity_not_editable",
        "quantity",
    ),
    "woocommerce_rest_cart_invalid_key": (NotFound, "item_not_found", "key"),
    "woocommerce_rest_cart_item_error": (Conflict, "item_rejected", None),
    "woocommerce_rest_add_to_cart_error": (Conflict, "item_rejected", None),
    "woocommerce_rest_cart_coupon_invalid_code": (NotFound, "coupon_not_applied", "code"),
    "woocommerce_rest_cart_coupon_disabled": (Conflict, "coupons_disabled", "code"),
    "woocommerce_rest_shipping_disabled": (Conflict, "shipping_disabled", "rate_id"),
    "woocommerce_rest_cart_missing_rate_id": (Invalid, "invalid_request", "rate_id"),
    "rest_missing_callback_param": (Invalid, "invalid_request", None),
    "rest_invalid_param": (Invalid, "invalid_request", None),
}

# The store sends one code for every coupon refusal: tell them apart by message.
_COUPON_MESSAGES = (
    ("does not exist", "coupon_not_found"),
    ("already been applied", "coupon_already_applied"),
    ("has expired", "coupon_expired"),
    ("minimum spend", "coupon_minimum_not_met"),
    ("maximum spend", "coupon_maximum_exceeded"),
    ("usage limit", "coupon_usage_limit_reached"),
)

# WordPress argument errors name the parameter; ours name our field.
_FIELDS = {
    "billing_address": "billing_address",
    "shipping_address": "shipping_address",
    "rate_id": "rate_id",
    "package_id": "package_id",
    "quantity": "quantity",
    "id": "product_id",
    "code": "code",
    "key": "key",
}

UPSTREAM_CODES = tuple(sorted(_BY_CODE))


def translate(error: UpstreamRejected, cart: bytes | None = None) -> CartError:
    """Our error for the store's refusal; ``cart`` is the store's cart, encoded."""
    message = plain_text(error.message) or "The store refused the request."
    if error.code == "woocommerce_rest_cart_coupon_error":
        lowered = message.lower()
        for needle, code in _COUPON_MESSAGES:
            if needle in lowered:
                klass: type[CartError] = NotFound if code == "coupon_not_found" else Conflict
                return klass(code, message, field="code", cart=cart)
        return Conflict("coupon_invalid", message, field="code", cart=cart)
    klass, code, field = _BY_CODE.get(error.code, (Conflict, "rejected_by_store", None))
    if error.code in ("rest_invalid_param", "rest_missing_callback_param") and error.details:
        name = next(iter(error.details))
        field = _FIELDS.get(name, name)
        detail = error.details[name]
        if isinstance(detail, str) and "postcode" in detail.lower():
            return Invalid(
                "invalid_postcode", plain_text(detail), field=f"{field}.postcode", cart=cart
            )
        if isinstance(detail, str):
            message = plain_text(detail)
    return klass(code, message, field=field, cart=cart)
