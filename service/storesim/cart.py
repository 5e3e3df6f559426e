"""The cart engine: session state and the mutations of the Store API cart routes.

Each mutation validates in the order WooCommerce does and raises the same error (code,
status, message) the real store answered in the recordings; where 9.9.5 words or orders
a check differently, the :class:`~storesim.profiles.WooProfile` says so. Stock is the
live :class:`~storesim.inventory.Inventory`, not the catalogue's starting figure.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from . import catalog
from .catalog import MAX_QUANTITY, Product
from .errors import StoreError, invalid_param
from .inventory import CATALOGUE_STOCK, Inventory
from .profiles import WOO_8_9, WooProfile

BILLING_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "country",
    "email",
    "phone",
)
SHIPPING_FIELDS = tuple(f for f in BILLING_FIELDS if f != "email")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_POSTCODE_RULES: dict[str, re.Pattern[str]] = {
    "US": re.compile(r"^\d{5}(-\d{4})?$"),
    "CA": re.compile(r"^[ABCEGHJKLMNPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d$"),
    "DE": re.compile(r"^\d{5}$"),
    "GB": re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$"),
}


def _default_address(fields: tuple[str, ...]) -> dict[str, str]:
    address = dict.fromkeys(fields, "")
    address["country"] = catalog.STORE_COUNTRY
    address["state"] = catalog.STORE_STATE
    return address


@dataclass(slots=True)
class Line:
    """One cart line: a product (or variation) and its quantity."""

    key: str
    product_id: int  # the variation's id for variations
    quantity: int
    variation: tuple[tuple[str, str], ...] = ()

    @property
    def product(self) -> Product:
        return catalog.PRODUCTS[self.product_id]


@dataclass(frozen=True, slots=True)
class RemovedLine:
    """A line in WooCommerce's ``removed_cart_contents``: as it was, totals frozen (cents)."""

    key: str
    product_id: int
    quantity: int
    variation: tuple[tuple[str, str], ...]
    subtotal: int
    subtotal_tax: int
    total: int
    tax: int

    def restored(self) -> Line:
        return Line(self.key, self.product_id, self.quantity, self.variation)


@dataclass(slots=True)
class CartState:
    """Everything a WooCommerce session holds about one cart."""

    lines: dict[str, Line] = field(default_factory=dict)
    coupons: list[str] = field(default_factory=list)
    chosen_shipping: dict[str, str] = field(default_factory=dict)
    billing: dict[str, str] = field(default_factory=lambda: _default_address(BILLING_FIELDS))
    shipping: dict[str, str] = field(default_factory=lambda: _default_address(SHIPPING_FIELDS))
    removed: dict[str, RemovedLine] = field(default_factory=dict)
    # The checkout's session keys: the draft order (``store_api_draft_order``) and the
    # payment method a ``PUT /checkout`` chose (``chosen_payment_method``).
    draft_order: int | None = None
    payment_method: str = ""

    def copy(self) -> CartState:
        """A private copy (hand-written: ``deepcopy`` was half of a GET's cost)."""
        return CartState(
            {k: Line(v.key, v.product_id, v.quantity, v.variation) for k, v in self.lines.items()},
            list(self.coupons),
            dict(self.chosen_shipping),
            dict(self.billing),
            dict(self.shipping),
            dict(self.removed),
            self.draft_order,
            self.payment_method,
        )

    def is_empty(self) -> bool:
        return not self.lines

    def quantity_of(self, product_id: int) -> int:
        return sum(line.quantity for line in self.lines.values() if line.product_id == product_id)


def line_key(product: Product, variation: tuple[tuple[str, str], ...]) -> str:
    """WooCommerce's ``generate_cart_id``: md5 of ``parent_variation_keyvalue...``."""
    if product.type == "variation":
        parts = [str(product.parent_id), str(product.id)]
        if variation:
            parts.append("".join(k.strip() + v.strip() for k, v in variation))
    else:
        parts = [str(product.id)]
    return hashlib.md5("_".join(parts).encode(), usedforsecurity=False).hexdigest()


def quantity_limits(
    product: Product, line_exists: bool = True, inventory: Inventory = CATALOGUE_STOCK
) -> dict[str, Any]:
    if product.sold_individually:
        return {"minimum": 1, "maximum": 1, "multiple_of": 1, "editable": not line_exists}
    maximum = MAX_QUANTITY
    stock = inventory.stock(product)
    if stock is not None:
        maximum = min(maximum, max(stock, 0))
    return {"minimum": 1, "maximum": maximum, "multiple_of": 1, "editable": True}


def display_name(product: Product) -> str:
    """``$product->get_name()``: a variation's name carries its attributes."""
    return catalog.variation_display_name(product) if product.type == "variation" else product.name


def _validate_quantity(
    quantity: int,
    product: Product,
    line_exists: bool,
    inventory: Inventory = CATALOGUE_STOCK,
    profile: WooProfile = WOO_8_9,
) -> None:
    limits = quantity_limits(product, line_exists, inventory)
    named = f"&quot;{display_name(product)}&quot;"

    def too_few() -> StoreError:
        if profile.named_quantity_messages:
            text = f"The minimum quantity of {named} allowed in the cart is {limits['minimum']}"
        else:
            text = f"The minimum quantity that can be added to the cart is {limits['minimum']}"
        return StoreError("invalid_quantity", text, 400)

    if profile.minimum_before_readonly and quantity < limits["minimum"]:
        raise too_few()
    if not limits["editable"]:
        if profile.named_quantity_messages:
            text = f"The quantity of {named} cannot be changed"
        else:
            text = "This item is already in the cart and its quantity cannot be edited"
        raise StoreError("readonly_quantity", text, 400)
    if quantity > limits["maximum"]:
        if profile.named_quantity_messages:
            text = f"The maximum quantity of {named} allowed in the cart is {limits['maximum']}"
        else:
            text = f"The maximum quantity that can be added to the cart is {limits['maximum']}"
        raise StoreError("invalid_quantity", text, 400)
    if quantity < limits["minimum"]:
        raise too_few()


def _invalid_product() -> StoreError:
    return StoreError(
        "woocommerce_rest_cart_invalid_product", "This product cannot be added to the cart.", 400
    )


def _resolve_variation(parent: Product, requested: Any) -> Product:
    """Find the variation matching ``[{attribute, value}]`` by taxonomy, label or name."""
    no_match = StoreError(
        "woocommerce_rest_variation_id_from_variation_data", "No matching variation found.", 400
    )
    if not isinstance(requested, list):
        raise no_match
    wanted: dict[str, str] = {}
    for attribute in catalog.VARIATION_ATTRIBUTES.get(parent.id, ()):
        names = {
            attribute.name.lower(),
            attribute.label.lower(),
            attribute.cart_key.lower(),
        }
        for entry in requested:
            if not isinstance(entry, dict):
                continue
            if str(entry.get("attribute", "")).strip().lower() in names:
                value = str(entry.get("value", ""))
                slugs = {slug for slug, _ in attribute.terms}
                if attribute.is_taxonomy:
                    value = value.strip().lower()
                if value in slugs:
                    wanted[attribute.cart_key] = value
    variation = catalog.find_variation(parent.id, wanted)
    if variation is None:
        raise no_match
    return variation


def add_item(
    state: CartState,
    product_id: int,
    quantity: int,
    variation: Any,
    inventory: Inventory = CATALOGUE_STOCK,
    profile: WooProfile = WOO_8_9,
) -> Line | None:
    """``cart/add-item``: add ``quantity`` (may be 0 or negative) of a product."""
    product = catalog.PRODUCTS.get(product_id)
    if product is None:
        raise _invalid_product()
    if product.is_variable:
        product = _resolve_variation(product, variation)
    if not inventory.in_stock(product):
        raise StoreError(
            "woocommerce_rest_product_out_of_stock",
            f"You cannot add &quot;{product.name}&quot; to the cart because the product is "
            "out of stock.",
            400,
        )
    stock = inventory.stock(product)
    if stock is not None and stock < state.quantity_of(product.id) + quantity:
        raise StoreError(
            "woocommerce_rest_product_partially_out_of_stock",
            f"You cannot add that amount of &quot;{product.name}&quot; to the cart because "
            f"there is not enough stock ({stock} remaining).",
            400,
        )
    key = line_key(product, product.attributes)
    existing = state.lines.get(key)
    if existing is not None:
        new_quantity = existing.quantity + quantity
        _validate_quantity(new_quantity, product, True, inventory, profile)
        existing.quantity = new_quantity
        return existing
    if quantity <= 0:
        return None
    _validate_quantity(quantity, product, False, inventory, profile)
    line = Line(key, product.id, quantity, product.attributes)
    state.lines[key] = line
    return line


def _line_or_409(state: CartState, key: Any, message: str) -> Line:
    line = state.lines.get(key) if isinstance(key, str) else None
    if line is None:
        raise StoreError("woocommerce_rest_cart_invalid_key", message, 409, with_cart=True)
    return line


def update_item(
    state: CartState,
    key: Any,
    quantity: int,
    inventory: Inventory = CATALOGUE_STOCK,
    profile: WooProfile = WOO_8_9,
) -> Line:
    """``cart/update-item``: set the quantity of a line."""
    line = _line_or_409(state, key, "Cart item does not exist.")
    _validate_quantity(quantity, line.product, True, inventory, profile)
    line.quantity = quantity
    return line


def remove_item(state: CartState, key: Any) -> None:
    line = _line_or_409(state, key, "Cart item no longer exists or is invalid.")
    del state.lines[line.key]


def get_line(state: CartState, key: str) -> Line:
    return _line_or_409(state, key, "Cart item does not exist.")


def format_coupon_code(code: Any) -> str:
    return str(code if code is not None else "").strip().lower()


def apply_coupon(
    state: CartState, raw_code: Any, items_subtotal_cents: int, profile: WooProfile = WOO_8_9
) -> str:
    code = format_coupon_code(raw_code)
    if code in state.coupons:
        quoted = f"&quot;{code}&quot;" if profile.escaped_coupon_applied else f'"{code}"'
        raise StoreError(
            "woocommerce_rest_cart_coupon_error",
            f"Coupon code {quoted} has already been applied.",
            400,
        )
    coupon = catalog.COUPONS.get(code)
    if coupon is None:
        raise StoreError(
            "woocommerce_rest_cart_coupon_error", f"Coupon &quot;{code}&quot; does not exist!", 400
        )
    invalid = coupon_invalid_reason(coupon, items_subtotal_cents)
    if invalid:
        raise StoreError("woocommerce_rest_cart_coupon_error", invalid, 400)
    state.coupons.append(code)
    return code


def coupon_invalid_reason(coupon: catalog.Coupon, items_subtotal_cents: int) -> str | None:
    if coupon.expired:
        return "This coupon has expired."
    if coupon.minimum_spend_cents is not None and items_subtotal_cents < coupon.minimum_spend_cents:
        amount = coupon.minimum_spend_cents
        return f"The minimum spend for this coupon is &#036;{amount // 100}.{amount % 100:02d}."
    return None


def remove_coupon(state: CartState, raw_code: Any) -> None:
    code = format_coupon_code(raw_code)
    if code not in state.coupons:
        raise StoreError(
            "woocommerce_rest_cart_coupon_invalid_code",
            "Coupon cannot be removed because it is not already applied to the cart.",
            409,
            with_cart=True,
        )
    state.coupons.remove(code)


def valid_email(text: str) -> bool:
    """``is_email``, as far as storesim checks it: one ``@`` and a dotted domain."""
    return bool(_EMAIL.match(text))


def valid_postcode(country: str, postcode: str) -> bool:
    """``WC_Validation::is_postcode``: the rules storesim knows (US, CA, DE, GB); letters,
    digits, spaces and dashes elsewhere."""
    rule = _POSTCODE_RULES.get(country)
    if rule is not None:
        return bool(rule.match(postcode.upper()))
    return not re.sub(r"[\s\-A-Za-z0-9]", "", postcode)


def _validate_address(name: str, address: dict[str, str]) -> None:
    country = address.get("country", "")
    rule = _POSTCODE_RULES.get(country)
    postcode = address.get("postcode", "")
    if rule and postcode and not rule.match(postcode.upper()):
        raise invalid_param(name, "The provided postcode / ZIP is not valid", "invalid_postcode")


def update_customer(state: CartState, billing: Any, shipping: Any) -> None:
    """``cart/update-customer``: merge partial addresses, as WooCommerce does."""
    updates: list[tuple[str, dict[str, str], tuple[str, ...], Any]] = [
        ("billing_address", state.billing, BILLING_FIELDS, billing),
        ("shipping_address", state.shipping, SHIPPING_FIELDS, shipping),
    ]
    merged: dict[str, dict[str, str]] = {}
    for name, current, fields, given in updates:
        if given is None:
            continue
        if not isinstance(given, dict):
            raise invalid_param(name, f"{name} is not of type object.", "rest_invalid_type")
        address = dict(current)
        for key in fields:
            if key in given and given[key] is not None:
                address[key] = str(given[key]).strip()
        if "email" in address and address["email"] and not _EMAIL.match(address["email"]):
            address["email"] = ""
        if address.get("postcode"):
            address["postcode"] = address["postcode"].upper()
        _validate_address(name, address)
        merged[name] = address
    if "billing_address" in merged:
        state.billing = merged["billing_address"]
    if "shipping_address" in merged:
        state.shipping = merged["shipping_address"]


def select_shipping_rate(state: CartState, package_id: Any, rate_id: str) -> None:
    """``cart/select-shipping-rate``: stored as given; an unknown rate falls back at totals."""
    if package_id is None:
        state.chosen_shipping = {"0": rate_id, **dict.fromkeys(state.chosen_shipping, rate_id)}
    else:
        state.chosen_shipping[str(package_id)] = rate_id
