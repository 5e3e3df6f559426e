"""CoCart's error answers, translated into the domain's refusals.

CoCart 4.4 answers ``{"code", "message", "data": {"status"}}`` with statuses of its
own choosing (405 above the stock, 403 sold individually, 404 out of stock); the code
is what counts. This table is the only place those codes are known.
"""

from __future__ import annotations

from typing import Any

from ...carts.errors import CartError, Conflict, Invalid, NotFound
from ...carts.ports.upstream_errors import UpstreamRefused
from .._text import plain_text

# CoCart code → (our class, our code, the field at fault).
_BY_CODE: dict[str, tuple[type[CartError], str, str | None]] = {
    "cocart_invalid_product": (NotFound, "product_not_found", "product_id"),
    "cocart_product_id_required": (Invalid, "invalid_request", "product_id"),
    "cocart_product_does_not_exist": (NotFound, "product_not_found", "product_id"),
    "cocart_product_invalid_id": (NotFound, "product_not_found", "product_id"),
    "cocart_product_out_of_stock": (Conflict, "out_of_stock", "product_id"),
    "cocart_not_enough_in_stock": (Conflict, "insufficient_stock", "quantity"),
    "cocart_not_enough_stock_remaining": (Conflict, "insufficient_stock", "quantity"),
    "cocart_quantity_invalid_amount": (Conflict, "insufficient_stock", "quantity"),
    "cocart_quantity_not_numeric": (Invalid, "invalid_quantity", "quantity"),
    "cocart_product_sold_individually": (Conflict, "quantity_not_editable", "quantity"),
    "cocart_cannot_add_to_cart": (Conflict, "item_rejected", None),
    "cocart_cannot_be_purchased": (Conflict, "not_purchasable", "product_id"),
    "cocart_product_failed_validation": (Conflict, "item_rejected", None),
    "cocart_no_variation_found": (NotFound, "variation_not_found", "variation"),
    "cocart_missing_variation_data": (Invalid, "invalid_variation", "variation"),
    "cocart_invalid_variation_data": (Invalid, "invalid_variation", "variation"),
    "cocart_item_not_in_cart": (NotFound, "item_not_found", "key"),
    "cocart_cart_item_key_required": (Invalid, "invalid_request", "key"),
    "cocart_cart_empty": (Conflict, "cart_empty", None),
    "rest_invalid_param": (Invalid, "invalid_request", None),
    "rest_missing_callback_param": (Invalid, "invalid_request", None),
}

_FIELDS = {"id": "product_id", "quantity": "quantity", "variation": "variation"}

STORE_CODES = tuple(sorted(_BY_CODE))  # the README's error table lists each


# CoCart says "above the stock" with one code wherever it happens; the Store API tells
# adding too many (a conflict with the stock) from setting a line too high (an invalid
# quantity), and so do we.
_ON_A_LINE = {"cocart_quantity_invalid_amount": (Invalid, "invalid_quantity", "quantity")}


def refusal(
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    on_a_line: bool = False,
) -> UpstreamRefused:
    """The domain's refusal for a CoCart error code (and its message and params);
    ``on_a_line``: the request changed a line already in the cart."""
    text = plain_text(message) or "The store refused the request."
    klass, ours, field = _BY_CODE.get(code, (Conflict, "rejected_by_store", None))
    if on_a_line and code in _ON_A_LINE:
        klass, ours, field = _ON_A_LINE[code]
    if details:
        name = next(iter(details))
        field = _FIELDS.get(name, name)
        if isinstance(details[name], str):
            text = plain_text(details[name])
    return UpstreamRefused(klass(ours, text, field=field))
