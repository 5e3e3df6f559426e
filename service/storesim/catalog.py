"""The recorded store: products, coupons, tax, shipping and payment of the test store.

Presentation (the product JSON) comes from ``data/products.json`` (8.9.1) and
``data/products-9.9.json`` (9.9.5), extracted from the recordings; the facts the cart
engine needs (prices in cents, starting stock, weight, variation attributes) are declared
here, matching ``tests/fidelity/recordings/README.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from typing import Any

SITE_PLACEHOLDER = "{site}"


@dataclass(frozen=True, slots=True)
class Product:
    """A purchasable product or variation as the cart engine sees it."""

    id: int
    name: str
    type: str  # simple | variable | variation
    sku: str
    regular_cents: int
    sale_cents: int | None
    weight_g: int
    parent_id: int = 0
    stock: int | None = None  # None: stock not managed
    in_stock: bool = True
    sold_individually: bool = False
    # Variation data as WooCommerce keeps it on the cart line, in cart order:
    # (("attribute_logo", "No"), ("attribute_pa_color", "red")).
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def price_cents(self) -> int:
        return self.sale_cents if self.sale_cents is not None else self.regular_cents

    @property
    def is_variable(self) -> bool:
        return self.type == "variable"


@dataclass(frozen=True, slots=True)
class VariationAttribute:
    """An attribute of a variable product: taxonomy (``pa_color``) or custom (``Logo``)."""

    name: str  # taxonomy slug or custom attribute name: pa_color, Logo
    label: str  # Color, Logo
    terms: tuple[tuple[str, str], ...]  # (slug, display name)

    @property
    def is_taxonomy(self) -> bool:
        return self.name.startswith("pa_")

    @property
    def cart_key(self) -> str:
        """``attribute_pa_color`` / ``attribute_logo``: the key on the cart line."""
        return "attribute_" + (self.name if self.is_taxonomy else self.name.lower())

    def term_name(self, slug: str) -> str:
        for term_slug, term_name in self.terms:
            if term_slug == slug:
                return term_name
        return slug


@dataclass(frozen=True, slots=True)
class Coupon:
    """A coupon of the recorded store; amounts in cents or percent."""

    id: int
    code: str
    discount_type: str  # percent | fixed_cart
    amount: int  # percent value, or cents for fixed_cart
    expired: bool = False
    minimum_spend_cents: int | None = None


@dataclass(frozen=True, slots=True)
class ShippingRate:
    """A rate of the store's one shipping zone (United States)."""

    rate_id: str
    name: str
    method_id: str
    instance_id: int
    cost_cents: int
    taxable: bool


_SIMPLE_G = 500
_VARIATION_G = 1000

PRODUCTS: dict[int, Product] = {
    p.id: p
    for p in (
        Product(10, "Beanie with Logo", "simple", "Woo-beanie-logo", 2000, 1800, _SIMPLE_G),
        Product(11, "Belt", "simple", "woo-belt", 6500, 5500, _SIMPLE_G),
        Product(12, "Cap", "simple", "woo-cap", 1800, 1600, _SIMPLE_G, stock=3),
        Product(13, "Album", "simple", "woo-album", 1500, None, _SIMPLE_G, sold_individually=True),
        Product(
            14,
            "T-Shirt with Logo",
            "simple",
            "Woo-tshirt-logo",
            1800,
            None,
            _SIMPLE_G,
            in_stock=False,
        ),
        Product(15, "Sunglasses", "simple", "woo-sunglasses", 9000, None, _SIMPLE_G),
        Product(16, "Hoodie", "variable", "woo-hoodie", 4500, 4200, _VARIATION_G),
        Product(
            17,
            "Hoodie",
            "variation",
            "woo-hoodie-blue-logo",
            4500,
            None,
            _VARIATION_G,
            parent_id=16,
            attributes=(("attribute_logo", "Yes"), ("attribute_pa_color", "blue")),
        ),
        Product(
            18,
            "Hoodie",
            "variation",
            "woo-hoodie-blue",
            4500,
            None,
            _VARIATION_G,
            parent_id=16,
            attributes=(("attribute_logo", "No"), ("attribute_pa_color", "blue")),
        ),
        Product(
            19,
            "Hoodie",
            "variation",
            "woo-hoodie-red",
            4500,
            4200,
            _VARIATION_G,
            parent_id=16,
            attributes=(("attribute_logo", "No"), ("attribute_pa_color", "red")),
        ),
    )
}

# The variable product's attributes, in the parent's order (Color first, as the
# product JSON and the variation names "Hoodie - Blue, Yes" show).
VARIATION_ATTRIBUTES: dict[int, tuple[VariationAttribute, ...]] = {
    16: (
        VariationAttribute("pa_color", "Color", (("blue", "Blue"), ("red", "Red"))),
        VariationAttribute("Logo", "Logo", (("Yes", "Yes"), ("No", "No"))),
    )
}

COUPONS: dict[str, Coupon] = {
    c.code: c
    for c in (
        Coupon(20, "test", "percent", 15),
        Coupon(21, "20off", "fixed_cart", 2000),
        Coupon(22, "expired", "percent", 10, expired=True),
        Coupon(23, "min100", "fixed_cart", 1000, minimum_spend_cents=10000),
    )
}

TAX_RATE = Fraction(10, 100)
TAX_LABEL = "Tax"
TAX_RATE_LABEL = "10%"
SHIPPING_ZONE_COUNTRIES = frozenset({"US"})
SHIPPING_RATES: tuple[ShippingRate, ...] = (
    ShippingRate("flat_rate:1", "Flat rate", "flat_rate", 1, 1300, True),
    ShippingRate("free_shipping:2", "Free shipping", "free_shipping", 2, 0, False),
    ShippingRate("local_pickup:3", "Local pickup", "local_pickup", 3, 0, False),
)
PAYMENT_METHODS = ("bacs", "cheque")  # the enabled gateways
# Every gateway WooCommerce registers (the checkout's ``payment_method`` enum), by title.
PAYMENT_GATEWAYS = {
    "bacs": "Direct bank transfer",
    "cheque": "Check payments",
    "cod": "Cash on delivery",
}
STORE_COUNTRY = "US"
STORE_STATE = "CA"
LOW_STOCK_AMOUNT = 2
MAX_QUANTITY = 9999


@dataclass(frozen=True, slots=True)
class ProductDocuments:
    """The product JSON of the recorded store, in its listing order (newest first)."""

    ordered: tuple[dict[str, Any], ...]
    by_id: dict[int, dict[str, Any]] = field(default_factory=dict)


def load_product_documents(name: str = "products.json") -> ProductDocuments:
    """The product JSON of one recorded version (``products.json``: 8.9.1)."""
    raw = resources.files("storesim").joinpath(f"data/{name}").read_text(encoding="utf-8")
    docs: list[dict[str, Any]] = json.loads(raw)
    return ProductDocuments(tuple(docs), {int(d["id"]): d for d in docs})


def variation_display_name(variation: Product) -> str:
    """``Hoodie - Blue, Yes``: the name WooCommerce gives a variation in shipping packages."""
    attrs = VARIATION_ATTRIBUTES.get(variation.parent_id, ())
    values = dict(variation.attributes)
    names = [a.term_name(values.get(a.cart_key, "")) for a in attrs]
    return f"{variation.name} - {', '.join(names)}"


def find_variation(parent_id: int, wanted: dict[str, str]) -> Product | None:
    """The variation of ``parent_id`` whose attributes equal ``wanted`` (cart keys → slugs)."""
    for product in PRODUCTS.values():
        if product.parent_id == parent_id and dict(product.attributes) == wanted:
            return product
    return None
