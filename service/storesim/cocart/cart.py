"""CoCart 4.4's cart operations, on the cart engine's state (``storesim.cart``).

Each operation checks in CoCart's order and raises CoCart's error (code, status,
message); the odd statuses are CoCart's own (405 above the stock, 403 sold
individually, 404 out of stock). Inside WordPress' core batch the cart is never
loaded, so the first step that needs it raises ``cocart_cart_error`` (500).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .. import catalog
from ..cart import CartState, Line, RemovedLine
from ..catalog import Product
from ..errors import StoreError
from ..inventory import CATALOGUE_STOCK, Inventory
from ..totals import calculate
from .params import is_numeric, php_empty, stock_amount

NOTICE_TYPES = ("error", "success", "notice", "info")


def error(code: str, message: str, status: int) -> StoreError:
    return StoreError(code, message, status)


@dataclass(slots=True)
class Work:
    """What an operation works on: the request's private copy of the cart (None inside
    WordPress' core batch, where CoCart has no cart), the live stock, and the notices it
    adds."""

    state: CartState | None
    inventory: Inventory = CATALOGUE_STOCK
    notices: dict[str, list[str]] = field(default_factory=dict)

    def cart(self) -> CartState:
        if self.state is None:
            raise error("cocart_cart_error", "Unable to retrieve cart.", 500)
        return self.state

    def notice(self, message: str, kind: str = "success") -> None:
        self.notices.setdefault(kind, []).append(message)

    def printed(self) -> dict[str, list[str]] | list[Any]:
        """``maybe_return_notices``: by type, then cleared; ``[]`` when there are none."""
        out = {kind: list(self.notices[kind]) for kind in NOTICE_TYPES if self.notices.get(kind)}
        self.notices.clear()
        return out or []


# -- products -----------------------------------------------------------------------


def parent_of(product: Product) -> Product:
    return catalog.PRODUCTS[product.parent_id] if product.type == "variation" else product


def variation_data(product: Product) -> tuple[tuple[str, str], ...]:
    """A variation's attributes in the parent's attribute order (pa_color, then logo),
    the order WooCommerce's ``add_to_cart`` merges them into."""
    values = dict(product.attributes)
    attributes = catalog.VARIATION_ATTRIBUTES.get(product.parent_id, ())
    return tuple((a.cart_key, values[a.cart_key]) for a in attributes if a.cart_key in values)


def line_key(product: Product) -> str:
    """``generate_cart_id`` with CoCart's variation data: ``16_17_attribute_pa_colorblue...``."""
    if product.type != "variation":
        return hashlib.md5(str(product.id).encode(), usedforsecurity=False).hexdigest()
    data = "".join(k + v for k, v in variation_data(product))
    raw = f"{product.parent_id}_{product.id}_{data}"
    return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()


def in_stock(product: Product, inventory: Inventory) -> bool:
    if product.is_variable:
        children = [p for p in catalog.PRODUCTS.values() if p.parent_id == product.id]
        return any(in_stock(child, inventory) for child in children)
    return inventory.in_stock(product)


def max_purchase(product: Product, inventory: Inventory = CATALOGUE_STOCK) -> int:
    """``get_max_purchase_quantity``: 1 when sold individually, the stock when managed."""
    if product.sold_individually:
        return 1
    stock = inventory.stock(product)
    return stock if stock is not None else -1


def validate_product_id(raw: Any) -> int:
    if php_empty(raw):
        raise error("cocart_product_id_required", "Product ID number is required!", 404)
    if not is_numeric(raw):
        wanted = str(raw).lower()
        found = next((p.id for p in catalog.PRODUCTS.values() if p.sku.lower() == wanted), None)
        if found is None:
            raise error(
                "cocart_unknown_product_id",
                "Product does not exist! Check that you have submitted a product ID or SKU ID "
                "correctly for a product that exists.",
                404,
            )
        return found
    return int(float(raw))


def product_for_cart(product_id: int) -> Product:
    product = catalog.PRODUCTS.get(product_id)
    if product is None:
        raise error("cocart_invalid_product", "This product cannot be added to the cart.", 400)
    return product


def validate_quantity(raw: Any, product: Product, inventory: Inventory = CATALOGUE_STOCK) -> int:
    if not is_numeric(raw):
        raise error(
            "cocart_quantity_not_numeric", "Quantity must be integer or a float value!", 405
        )
    if float(raw) < 1:
        raise error("cocart_quantity_invalid_amount", "Quantity must be a minimum of 1.", 405)
    maximum = max_purchase(product, inventory)
    if maximum > 0 and float(raw) > maximum:
        raise error("cocart_quantity_invalid_amount", f"Quantity must be {maximum} or lower.", 405)
    return stock_amount(raw)


def _find_variation(parent: Product, given: Any) -> Product:
    """``find_matching_product_variation``: every attribute given, values exact."""
    wanted = given if isinstance(given, dict) else {}
    for attribute in catalog.VARIATION_ATTRIBUTES.get(parent.id, ()):
        if attribute.cart_key not in wanted:
            break
    else:
        exact = {k: str(v) for k, v in wanted.items()}
        for product in catalog.PRODUCTS.values():
            if product.parent_id != parent.id:
                continue
            if all(exact.get(k) == v for k, v in product.attributes):
                return product
    raise error("cocart_no_variation_found", "No matching variation found.", 404)


def _check_variation(variation: Product, given: Any) -> None:
    """``validate_variable_product``: a value posted must be the variation's own."""
    wanted = given if isinstance(given, dict) else {}
    values = dict(variation.attributes)
    for attribute in catalog.VARIATION_ATTRIBUTES.get(variation.parent_id, ()):
        if attribute.cart_key in wanted and str(wanted[attribute.cart_key]) != values.get(
            attribute.cart_key
        ):
            allowed = ", ".join(slug for slug, _ in attribute.terms)
            raise error(
                "cocart_invalid_variation_data",
                f"Invalid value posted for {attribute.label}. Allowed values: {allowed}",
                400,
            )


# -- operations -------------------------------------------------------------------------


def add_item(work: Work, raw_id: Any, raw_quantity: Any, variation: Any) -> Line:
    """``cart/add-item``: validate, then add to (or merge into) the cart."""
    product = product_for_cart(validate_product_id(raw_id))
    quantity = validate_quantity(raw_quantity, product, work.inventory)
    target = product
    if product.is_variable:
        target = _find_variation(product, variation)
    if target.type == "variation":
        _check_variation(target, variation)
    state = work.cart()  # generate_cart_id: the first step that needs the cart
    key = line_key(target)
    if target.sold_individually:
        quantity = 1
        if key in state.lines and state.lines[key].quantity > 0:
            raise error(
                "cocart_product_sold_individually",
                f"You cannot add another '{target.name}' to your cart.",
                403,
            )
    if not in_stock(product, work.inventory):
        raise error(
            "cocart_product_out_of_stock",
            f'You cannot add "{product.name}" to the cart because the product is out of stock.',
            404,
        )
    _check_stock(state, target, quantity, work.inventory)
    if not in_stock(target, work.inventory):  # WooCommerce's own add_to_cart check
        name = catalog.variation_display_name(target)
        raise error(
            "cocart_add_to_cart_error",
            f"You cannot add &quot;{name}&quot; to the cart because the product is out of stock.",
            400,
        )
    line = state.lines.get(key)
    if line is not None:
        line.quantity += quantity
    else:
        line = state.lines[key] = Line(key, target.id, quantity, variation_data(target))
    work.notice(f"“{parent_of(target).name}” has been added to your cart.")
    return line


def _check_stock(state: CartState, product: Product, quantity: int, inventory: Inventory) -> None:
    stock = inventory.stock(product)
    if stock is None:
        return
    if quantity > stock:
        raise error(
            "cocart_not_enough_in_stock",
            f'You cannot add that amount of ({quantity}) for "{product.name}" to the cart '
            f"because there is not enough stock, only ({stock} remaining).",
            404,
        )
    in_cart = state.quantity_of(product.id)
    if stock < in_cart + quantity:
        raise error(
            "cocart_not_enough_stock_remaining",
            f'You cannot add that amount of "{product.name}" to the cart &mdash; we have '
            f"({stock}) in stock remaining. You already have ({in_cart}) in your cart.",
            404,
        )


def add_items(work: Work, raw_id: Any, quantities: Any) -> None:
    """``cart/add-items``: for grouped products, and the store has none."""
    product_for_cart(validate_product_id(raw_id))
    raise error("cocart_grouped_product_empty", "Please choose a product to add to your cart.", 404)


def item_key(raw: Any) -> str:
    key = str(raw if raw is not None else "0")
    if key == "0":
        raise error("cocart_cart_item_key_required", "Missing cart item key is required!", 404)
    return key


def _remove(state: CartState, key: str) -> None:
    """``remove_cart_item``: the line moves to ``removed_cart_contents``, totals frozen."""
    totals = next(t for t in calculate(state).lines if t.line.key == key)
    line = state.lines.pop(key)
    state.removed[key] = RemovedLine(
        key,
        line.product_id,
        line.quantity,
        line.variation,
        totals.subtotal,
        totals.subtotal_tax,
        totals.total,
        totals.total_tax,
    )


def update_item(work: Work, raw_key: Any, raw_quantity: Any) -> str | None:
    """``POST cart/item/{key}``: set one line's quantity (0 removes it)."""
    key = item_key(raw_key)
    state = work.cart()
    quantity = stock_amount(raw_quantity)
    if quantity == 0:
        return remove_item(work, key)
    line = state.lines.get(key)
    if line is None:
        raise error("cocart_item_not_in_cart", "Item specified does not exist in cart.", 404)
    product = line.product
    quantity = validate_quantity(quantity, product, work.inventory)
    stock = work.inventory.stock(product)
    if stock is not None and quantity > stock:
        raise error(
            "cocart_not_enough_in_stock",
            f'You cannot add that amount of ({quantity}) for "{product.name}" to the cart '
            f"because there is not enough stock, only ({stock} remaining).",
            404,
        )
    line.quantity = quantity
    return None


def _quoted(product_id: int) -> str:
    return f'"{parent_of(catalog.PRODUCTS[product_id]).name}"'


def remove_item(work: Work, raw_key: Any) -> str:
    """``DELETE cart/item/{key}``; answers the notice it adds."""
    key = item_key(raw_key)
    state = work.cart()
    if not state.lines and not state.removed:
        raise error("cocart_no_items", "No items in cart.", 404)
    if key not in state.lines:
        if key in state.removed:
            title = _quoted(state.removed[key].product_id)
            raise error(
                "cocart_item_not_in_cart", f"{title} has already been removed from cart.", 404
            )
        raise error("cocart_item_not_in_cart", "Item does not exist in cart.", 404)
    message = f"{_quoted(state.lines[key].product_id)} has been removed from cart."
    _remove(state, key)
    work.notice(message)
    return message


def restore_item(work: Work, raw_key: Any) -> Line:
    """``PUT cart/item/{key}``: put a removed line back."""
    key = item_key(raw_key)
    state = work.cart()
    if not state.removed:
        if key in state.lines:
            title = _quoted(state.lines[key].product_id)
            raise error(
                "cocart_item_restored_to_cart",
                f"{title} has already been restored to the cart.",
                405,
            )
        raise error("cocart_item_restored_to_cart", "Item does not exist in cart.", 404)
    removed = state.removed.pop(key, None)
    if removed is None:
        raise error("cocart_can_not_restore_item", "Unable to restore item to the cart.", 403)
    line = state.lines[key] = removed.restored()
    work.notice(f"{_quoted(line.product_id)} has been added back to your cart.")
    return line


def clear(work: Work, keep_removed: bool) -> None:
    """``cart/clear``: every line and coupon goes; removed items too unless kept."""
    state = work.cart()
    removed = dict(state.removed)
    state.lines.clear()
    state.coupons.clear()
    state.removed = removed if keep_removed else {}
    work.notice("Cart is cleared.", "notice")


def completely_empty(state: CartState) -> bool:
    return not state.lines and not state.removed


def _not_empty(work: Work) -> CartState:
    state = work.cart()
    if completely_empty(state):
        raise error("cocart_cart_empty", "Cart is empty. Please add items to cart first.", 404)
    return state


def update_cart(work: Work, quantities: Any) -> None:
    """``cart/update`` namespace ``update-cart``: a quantity map, line by line, never
    all-or-nothing (an unknown key is skipped, 0 removes, no stock check)."""
    state = _not_empty(work)
    items = quantities if isinstance(quantities, dict) else {}
    updated = False
    for key, raw in items.items():
        line = state.lines.get(str(key))
        if line is None:
            continue
        cleaned = "".join(c for c in str(raw) if c.isdigit() or c == ".")
        quantity = stock_amount(cleaned or "0")
        if quantity == line.quantity:
            continue
        if line.product.sold_individually and quantity > 1:
            work.notice(f'You can only have 1 "{line.product.name}" in your cart.', "error")
            continue
        if quantity <= 0:
            _remove(state, line.key)
        else:
            line.quantity = quantity
        updated = True
    if updated and not work.notices.get("error"):
        work.notice("Cart updated.")
