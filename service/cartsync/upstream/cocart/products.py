"""CoCart v2 products → compact products, in the same shape as the Store API's.

Attributes arrive keyed by their form field (``attribute_pa_color``, ``attribute_logo``)
with ``options`` slug → label; a variation names its choice per field.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ...carts import model
from .._text import plain_text
from . import php
from .mapping import UNLIMITED, CurrencyIn, cents, currency


class _In(msgspec.Struct, kw_only=True):
    pass


class _Prices(_In):
    price: str | int = "0"
    regular_price: str | int = "0"
    on_sale: bool = False
    currency: CurrencyIn = msgspec.field(default_factory=CurrencyIn)


class _Conditions(_In):
    sold_individually: bool = False


class _Stock(_In):
    is_in_stock: bool = True


class _PurchaseQuantity(_In):
    min_purchase: int = 1
    max_purchase: int = -1


class _AddToCart(_In):
    is_purchasable: bool = True
    purchase_quantity: _PurchaseQuantity = msgspec.field(default_factory=_PurchaseQuantity)


class _Attribute(_In):
    name: str = ""
    used_for_variation: bool = False
    options: dict[str, str] | list[Any] = msgspec.field(default_factory=dict)


class _Variation(_In):
    id: int
    attributes: dict[str, str] | list[Any] = msgspec.field(default_factory=dict)


class _Image(_In):
    src: dict[str, str] | str = msgspec.field(default_factory=dict)


class CoCartProduct(_In):
    id: int
    parent_id: int = 0
    name: str = ""
    type: str = "simple"
    slug: str = ""
    sku: str = ""
    short_description: str = ""
    prices: _Prices = msgspec.field(default_factory=_Prices)
    hidden_conditions: _Conditions = msgspec.field(default_factory=_Conditions)
    stock: _Stock = msgspec.field(default_factory=_Stock)
    add_to_cart: _AddToCart = msgspec.field(default_factory=_AddToCart)
    images: list[_Image] = msgspec.field(default_factory=list)
    attributes: dict[str, _Attribute] | list[Any] = msgspec.field(default_factory=dict)
    variations: list[_Variation] = msgspec.field(default_factory=list)


class _ProductList(_In):
    products: list[CoCartProduct] = msgspec.field(default_factory=list)


def product_of(body: bytes) -> CoCartProduct:
    return php.decode(body, CoCartProduct)


def products_of(body: bytes) -> list[CoCartProduct]:
    """A listing: ``{"products": [...]}`` (CoCart 4.4), or a bare list."""
    decoded = php.decode(body, _ProductList | list[CoCartProduct])  # type: ignore[arg-type]
    return decoded.products if isinstance(decoded, _ProductList) else decoded


def _taxonomy(field: str) -> str | None:
    name = field.removeprefix("attribute_")
    return name if name.startswith("pa_") else None


def _image(images: list[_Image]) -> str | None:
    if not images:
        return None
    src = images[0].src
    if isinstance(src, str):
        return src or None
    return src.get("thumbnail") or src.get("full") or None


def to_product(p: CoCartProduct) -> model.Product:
    attributes = p.attributes if isinstance(p.attributes, dict) else {}
    labels = {field: a.name for field, a in attributes.items()}
    most = p.add_to_cart.purchase_quantity.max_purchase
    sold_individually = p.hidden_conditions.sold_individually
    return model.Product(
        id=p.id,
        name=plain_text(p.name),
        slug=p.slug,
        type=p.type,
        parent_id=p.parent_id,
        sku=p.sku,
        price=cents(p.prices.price),
        regular_price=cents(p.prices.regular_price),
        on_sale=p.prices.on_sale,
        in_stock=p.stock.is_in_stock,
        purchasable=p.add_to_cart.is_purchasable,
        sold_individually=sold_individually,
        limits=model.QuantityLimits(
            min=max(p.add_to_cart.purchase_quantity.min_purchase, 1),
            max=1 if sold_individually else (most if most > 0 else UNLIMITED),
            step=1,
            editable=not sold_individually,
        ),
        image=_image(p.images),
        short_description=plain_text(p.short_description),
        attributes=[
            model.ProductAttribute(
                name=plain_text(a.name),
                taxonomy=_taxonomy(field),
                values=[
                    model.Attribute(name=plain_text(label), value=slug)
                    for slug, label in (a.options.items() if isinstance(a.options, dict) else [])
                ],
            )
            for field, a in attributes.items()
            if a.used_for_variation
        ],
        variations=[
            model.ProductVariation(
                id=v.id,
                attributes=[
                    model.Attribute(name=plain_text(labels.get(field, field)), value=value)
                    for field, value in (
                        v.attributes.items() if isinstance(v.attributes, dict) else []
                    )
                ],
            )
            for v in p.variations
        ],
    )


def _choices(variation: _Variation) -> list[tuple[str, str]]:
    attributes = variation.attributes
    return list(attributes.items()) if isinstance(attributes, dict) else []


def page_currency(products: list[CoCartProduct]) -> model.Currency | None:
    return currency(products[0].prices.currency) if products else None
