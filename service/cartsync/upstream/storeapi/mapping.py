"""Store API JSON → the mobile cart and compact products.

The upstream payloads are decoded leniently: only the fields used are declared, the
rest is ignored, so an extension adding fields never breaks a read.
"""

from __future__ import annotations

import html

import msgspec

from ...carts import model
from .._text import plain_text


class _In(msgspec.Struct, kw_only=True):
    """Lenient base for upstream payloads."""


class _Currency(_In):
    currency_code: str = "USD"
    currency_minor_unit: int = 2
    currency_symbol: str = "$"
    currency_prefix: str = ""
    currency_suffix: str = ""


class _Limits(_In):
    minimum: int = 1
    maximum: int = 9999
    multiple_of: int = 1
    editable: bool = True


class _Image(_In):
    src: str = ""
    thumbnail: str = ""
    alt: str = ""


class _Variation(_In):
    attribute: str = ""
    value: str = ""


class _Prices(_In):
    price: str = "0"
    regular_price: str = "0"


class _ItemTotals(_In):
    line_subtotal: str = "0"
    line_total: str = "0"
    line_total_tax: str = "0"


class _Item(_In):
    key: str
    id: int
    quantity: int
    type: str = "simple"
    quantity_limits: _Limits = msgspec.field(default_factory=_Limits)
    name: str = ""
    sku: str = ""
    images: list[_Image] = msgspec.field(default_factory=list)
    variation: list[_Variation] = msgspec.field(default_factory=list)
    prices: _Prices = msgspec.field(default_factory=_Prices)
    totals: _ItemTotals = msgspec.field(default_factory=_ItemTotals)


class _CouponTotals(_In):
    total_discount: str = "0"
    total_discount_tax: str = "0"


class _Coupon(_In):
    code: str
    discount_type: str = ""
    totals: _CouponTotals = msgspec.field(default_factory=_CouponTotals)


class _FeeTotals(_In):
    total: str = "0"
    total_tax: str = "0"


class _Fee(_In):
    key: str = ""
    name: str = ""
    totals: _FeeTotals = msgspec.field(default_factory=_FeeTotals)


class _Totals(_Currency):
    total_items: str = "0"
    total_items_tax: str = "0"
    total_fees: str = "0"
    total_fees_tax: str = "0"
    total_discount: str = "0"
    total_discount_tax: str = "0"
    total_shipping: str | None = None
    total_shipping_tax: str | None = None
    total_price: str = "0"
    total_tax: str = "0"


class _Rate(_In):
    rate_id: str
    name: str = ""
    price: str = "0"
    taxes: str = "0"
    selected: bool = False


class _PackageItem(_In):
    key: str


class _Package(_In):
    package_id: int | str = 0
    name: str = ""
    items: list[_PackageItem] = msgspec.field(default_factory=list)
    shipping_rates: list[_Rate] = msgspec.field(default_factory=list)


class _Address(_In):
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    phone: str = ""
    email: str | None = None


class _Error(_In):
    code: str = ""
    message: str = ""


class StoreCart(_In):
    items: list[_Item] = msgspec.field(default_factory=list)
    coupons: list[_Coupon] = msgspec.field(default_factory=list)
    fees: list[_Fee] = msgspec.field(default_factory=list)
    totals: _Totals = msgspec.field(default_factory=_Totals)
    shipping_address: _Address = msgspec.field(default_factory=_Address)
    billing_address: _Address = msgspec.field(default_factory=_Address)
    needs_payment: bool = False
    needs_shipping: bool = False
    shipping_rates: list[_Package] = msgspec.field(default_factory=list)
    items_count: int = 0
    items_weight: int = 0
    errors: list[_Error] = msgspec.field(default_factory=list)


class _AddToCart(_In):
    minimum: int = 1
    maximum: int = 9999
    multiple_of: int = 1


class _ProductPrices(_In):
    price: str = "0"
    regular_price: str = "0"


class _Term(_In):
    name: str = ""
    slug: str = ""


class _ProductAttribute(_In):
    name: str = ""
    taxonomy: str | None = None
    has_variations: bool = False
    terms: list[_Term] = msgspec.field(default_factory=list)


class _VariationAttribute(_In):
    name: str = ""
    value: str = ""


class _ProductVariation(_In):
    id: int
    attributes: list[_VariationAttribute] = msgspec.field(default_factory=list)


class StoreProduct(_In):
    id: int
    name: str = ""
    slug: str = ""
    parent: int = 0
    type: str = "simple"
    sku: str = ""
    short_description: str = ""
    on_sale: bool = False
    prices: _ProductPrices = msgspec.field(default_factory=_ProductPrices)
    images: list[_Image] = msgspec.field(default_factory=list)
    attributes: list[_ProductAttribute] = msgspec.field(default_factory=list)
    variations: list[_ProductVariation] = msgspec.field(default_factory=list)
    is_purchasable: bool = True
    is_in_stock: bool = True
    sold_individually: bool = False
    add_to_cart: _AddToCart = msgspec.field(default_factory=_AddToCart)


class _ProductCurrency(_In):
    prices: _Currency = msgspec.field(default_factory=_Currency)


CART_DECODER = msgspec.json.Decoder(StoreCart)
PRODUCT_DECODER = msgspec.json.Decoder(StoreProduct)
PRODUCTS_DECODER = msgspec.json.Decoder(list[StoreProduct])
PRODUCTS_CURRENCY_DECODER = msgspec.json.Decoder(list[_ProductCurrency])


def money(value: str | None) -> int:
    return int(value) if value else 0


def _currency(c: _Currency) -> model.Currency:
    return model.Currency(
        code=c.currency_code,
        minor_unit=c.currency_minor_unit,
        symbol=html.unescape(c.currency_symbol),
        prefix=html.unescape(c.currency_prefix),
        suffix=html.unescape(c.currency_suffix),
    )


def _address(a: _Address) -> model.Address:
    return model.Address(
        first_name=a.first_name,
        last_name=a.last_name,
        company=a.company,
        address_1=a.address_1,
        address_2=a.address_2,
        city=a.city,
        state=a.state,
        postcode=a.postcode,
        country=a.country,
        phone=a.phone,
        email=a.email,
    )


def _image(images: list[_Image]) -> str | None:
    if not images:
        return None
    return images[0].thumbnail or images[0].src or None


def _item(i: _Item) -> model.Item:
    return model.Item(
        key=i.key,
        product_id=i.id,
        variation_id=i.id if i.type == "variation" else None,
        name=plain_text(i.name),
        sku=i.sku,
        quantity=i.quantity,
        limits=model.QuantityLimits(
            min=i.quantity_limits.minimum,
            max=i.quantity_limits.maximum,
            step=i.quantity_limits.multiple_of,
            editable=i.quantity_limits.editable,
        ),
        unit_price=money(i.prices.price),
        regular_price=money(i.prices.regular_price),
        subtotal=money(i.totals.line_subtotal),
        total=money(i.totals.line_total),
        tax=money(i.totals.line_total_tax),
        image=_image(i.images),
        attributes=[
            model.Attribute(name=plain_text(v.attribute), value=plain_text(v.value))
            for v in i.variation
        ],
    )


def _package(p: _Package, several: bool) -> model.Package:
    selected = next((r.rate_id for r in p.shipping_rates if r.selected), None)
    return model.Package(
        id=p.package_id,
        name=plain_text(p.name),
        rates=[
            model.Rate(
                id=r.rate_id, name=plain_text(r.name), price=money(r.price), tax=money(r.taxes)
            )
            for r in p.shipping_rates
        ],
        selected_rate=selected,
        items=[i.key for i in p.items] if several else [],
    )


def to_cart(store: StoreCart) -> model.Cart:
    """The mobile cart for ``store``; its id and version are set by the cart service."""
    t = store.totals
    return model.Cart(
        id="",
        version="",
        currency=_currency(t),
        items=[_item(i) for i in store.items],
        items_count=store.items_count,
        items_weight=store.items_weight,
        coupons=[
            model.Coupon(
                code=c.code,
                type=c.discount_type,
                discount=money(c.totals.total_discount),
                discount_tax=money(c.totals.total_discount_tax),
            )
            for c in store.coupons
        ],
        fees=[
            model.Fee(
                key=f.key,
                name=plain_text(f.name),
                total=money(f.totals.total),
                tax=money(f.totals.total_tax),
            )
            for f in store.fees
        ],
        shipping=[_package(p, len(store.shipping_rates) > 1) for p in store.shipping_rates],
        totals=model.Totals(
            subtotal=money(t.total_items),
            subtotal_tax=money(t.total_items_tax),
            discount=money(t.total_discount),
            discount_tax=money(t.total_discount_tax),
            shipping=None if t.total_shipping is None else money(t.total_shipping),
            shipping_tax=None if t.total_shipping_tax is None else money(t.total_shipping_tax),
            fees=money(t.total_fees),
            fees_tax=money(t.total_fees_tax),
            tax=money(t.total_tax),
            total=money(t.total_price),
        ),
        billing_address=_address(store.billing_address),
        shipping_address=_address(store.shipping_address),
        needs_shipping=store.needs_shipping,
        needs_payment=store.needs_payment,
        errors=[model.CartError(code=e.code, message=plain_text(e.message)) for e in store.errors],
    )


def to_product(p: StoreProduct) -> model.Product:
    return model.Product(
        id=p.id,
        name=plain_text(p.name),
        slug=p.slug,
        type=p.type,
        parent_id=p.parent,
        sku=p.sku,
        price=money(p.prices.price),
        regular_price=money(p.prices.regular_price),
        on_sale=p.on_sale,
        in_stock=p.is_in_stock,
        purchasable=p.is_purchasable,
        sold_individually=p.sold_individually,
        limits=model.QuantityLimits(
            min=p.add_to_cart.minimum,
            max=p.add_to_cart.maximum,
            step=p.add_to_cart.multiple_of,
            editable=not p.sold_individually,
        ),
        image=_image(p.images),
        short_description=plain_text(p.short_description),
        attributes=[
            model.ProductAttribute(
                name=plain_text(a.name),
                taxonomy=a.taxonomy,
                values=[model.Attribute(name=plain_text(t.name), value=t.slug) for t in a.terms],
            )
            for a in p.attributes
            if a.has_variations
        ],
        variations=[
            model.ProductVariation(
                id=v.id,
                attributes=[
                    model.Attribute(name=plain_text(a.name), value=a.value) for a in v.attributes
                ],
            )
            for v in p.variations
        ],
    )


def currency_of_products(body: bytes) -> model.Currency | None:
    products = PRODUCTS_CURRENCY_DECODER.decode(body)
    return _currency(products[0].prices) if products else None
