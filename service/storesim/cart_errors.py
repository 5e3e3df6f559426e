"""``CartController::validate_cart_items``: what stops a cart from becoming an order.

The same check fills the cart's ``errors`` array (names in curly quotes, as WordPress'
``wptexturize`` leaves them) and refuses a checkout (names in straight quotes): one entry
per kind of problem, naming every product it concerns.
"""

from __future__ import annotations

from dataclasses import dataclass

from .cart import CartState, display_name
from .inventory import Inventory

# code -> (singular, plural) message templates; %s is the quoted product name(s).
_MESSAGES: dict[str, tuple[str, str]] = {
    "woocommerce_rest_product_out_of_stock": (
        "{} is out of stock and cannot be purchased. Please remove it from your cart.",
        "{} are out of stock and cannot be purchased. Please remove them from your cart.",
    ),
    "woocommerce_rest_product_too_many_in_cart": (
        "There are too many {} in the cart. Only 1 can be purchased. Please reduce the "
        "quantity in your cart.",
        "There are too many {} in the cart. Only 1 of each can be purchased. Please reduce "
        "the quantities in your cart.",
    ),
    "woocommerce_rest_product_partially_out_of_stock": (
        "There is not enough {} in stock. Please reduce the quantity in your cart.",
        "There are not enough {} in stock. Please reduce the quantities in your cart.",
    ),
}


@dataclass(frozen=True, slots=True)
class StockProblem:
    code: str
    names: tuple[str, ...]

    def message(self, curly: bool) -> str:
        quoted = [f"&#8220;{n}&#8221;" if curly else f'"{n}"' for n in self.names]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        singular, plural = _MESSAGES[self.code]
        return (singular if len(quoted) == 1 else plural).format(listed)


def stock_problems(state: CartState, inventory: Inventory) -> list[StockProblem]:
    """The cart's problems, in WooCommerce's order of kinds (out of stock first)."""
    found: dict[str, list[str]] = {code: [] for code in _MESSAGES}
    for line in state.lines.values():
        product = line.product
        name = display_name(product)
        stock = inventory.stock(product)
        if product.sold_individually and line.quantity > 1:
            found["woocommerce_rest_product_too_many_in_cart"].append(name)
        elif not inventory.in_stock(product):
            found["woocommerce_rest_product_out_of_stock"].append(name)
        elif stock is not None and stock < state.quantity_of(product.id):
            found["woocommerce_rest_product_partially_out_of_stock"].append(name)
    return [StockProblem(code, tuple(names)) for code, names in found.items() if names]


def cart_errors(state: CartState, inventory: Inventory) -> list[dict[str, str]]:
    """The ``errors`` array of the cart schema."""
    return [{"code": p.code, "message": p.message(True)} for p in stock_problems(state, inventory)]
