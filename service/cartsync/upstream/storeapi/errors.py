"""The Store API's error answers, translated into the domain's refusals.

WooCommerce answers ``{"code", "message", "data": {"status", "params"?, "cart"?}}``;
the code says what went wrong, not always which field (argument errors name the
parameter in ``data.params``), and one code covers every coupon refusal (the message
tells them apart). This table is the only place those codes are known.
"""

from __future__ import annotations

from typing import Any

from ...carts.errors import CartError, Conflict, Invalid, NotFound
from ...carts.model import Cart
from ...carts.ports.upstream_errors import UpstreamRefused
from .._text import plain_text

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
    "woocommerce_rest_cart_empty": (Conflict, "cart_empty", None),
    "woocommerce_rest_checkout_missing_payment_method": (
        Invalid,
        "payment_method_missing",
        "payment_method",
    ),
    "woocommerce_rest_checkout_payment_method_disabled": (
        Invalid,
        "payment_method_disabled",
        "payment_method",
    ),
    "woocommerce_rest_checkout_invalid_payment_method": (
        Invalid,
        "payment_method_unknown",
        "payment_method",
    ),
    "woocommerce_rest_invalid_address": (Invalid, "invalid_address", "shipping_address"),
    "woocommerce_rest_missing_email_address": (Invalid, "invalid_address", "billing_address"),
    "woocommerce_rest_invalid_shipping_option": (Conflict, "shipping_unavailable", None),
    "woocommerce_rest_invalid_order": (NotFound, "order_not_found", "id"),
    "woocommerce_rest_invalid_billing_email": (NotFound, "order_not_found", "id"),
    "woocommerce_rest_order_invalid_id": (NotFound, "order_not_found", "id"),
}

# Argument errors on these parameters have codes of their own (a checkout's).
_PARAM_CODES = {
    "billing_address": "invalid_address",
    "shipping_address": "invalid_address",
    "payment_method": "payment_method_unknown",
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

STORE_CODES = tuple(sorted(_BY_CODE))  # the README's error table lists each


def refusal(
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    cart: Cart | None = None,
    credentials: str | None = None,
) -> UpstreamRefused:
    """The domain's refusal for a Store API error code (and its message and params)."""
    return UpstreamRefused(
        _translate(code, plain_text(message) or "The store refused the request.", details),
        cart=cart,
        credentials=credentials,
    )


def _translate(code: str, message: str, details: dict[str, Any] | None) -> CartError:
    if code == "woocommerce_rest_cart_coupon_error":
        lowered = message.lower()
        for needle, ours in _COUPON_MESSAGES:
            if needle in lowered:
                klass: type[CartError] = NotFound if ours == "coupon_not_found" else Conflict
                return klass(ours, message, field="code")
        return Conflict("coupon_invalid", message, field="code")
    klass, ours, field = _BY_CODE.get(code, (Conflict, "rejected_by_store", None))
    if code in ("rest_invalid_param", "rest_missing_callback_param") and details:
        name = next(iter(details))
        field = _FIELDS.get(name, name)
        detail = details[name]
        if isinstance(detail, str) and "postcode" in detail.lower():
            return Invalid("invalid_postcode", plain_text(detail), field=f"{field}.postcode")
        if isinstance(detail, str):
            message = plain_text(detail)
        if code == "rest_invalid_param" and name in _PARAM_CODES:
            ours = _PARAM_CODES[name]
    return klass(ours, message, field=field)
