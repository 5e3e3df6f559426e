"""The Store API JSON shapes (CartSchema, CartItemSchema, CartCouponSchema, ProductSchema).

Stock figures (``quantity_limits``, ``low_stock_remaining``, the cart's ``errors``, a
product's ``is_in_stock``) follow the live :class:`~storesim.inventory.Inventory`.
"""

from __future__ import annotations

from typing import Any

from . import catalog
from .cart import CartState, Line, quantity_limits
from .cart_errors import cart_errors
from .catalog import LOW_STOCK_AMOUNT, PAYMENT_METHODS, Product, ProductDocuments
from .inventory import CATALOGUE_STOCK, Inventory
from .money import raw, with_currency
from .totals import CouponTotals, LineTotals, Totals, calculate, shipping_tax


class Renderer:
    """Renders carts and products for one site URL (``http://host:port``)."""

    def __init__(self, documents: ProductDocuments) -> None:
        self._documents = documents

    @staticmethod
    def _site(value: Any, site: str) -> Any:
        if isinstance(value, str):
            return value.replace(catalog.SITE_PLACEHOLDER, site)
        if isinstance(value, list):
            return [Renderer._site(v, site) for v in value]
        if isinstance(value, dict):
            return {k: Renderer._site(v, site) for k, v in value.items()}
        return value

    def product(
        self, product_id: int, site: str, inventory: Inventory = CATALOGUE_STOCK
    ) -> dict[str, Any]:
        doc = _stocked(self._documents.by_id[product_id], inventory)
        return self._site(doc, site)  # type: ignore[no-any-return]

    def products(self, site: str, inventory: Inventory = CATALOGUE_STOCK) -> list[dict[str, Any]]:
        return [self._site(_stocked(d, inventory), site) for d in self._documents.ordered]

    # -- cart -------------------------------------------------------------------------

    def item(
        self, totals: LineTotals, site: str, inventory: Inventory = CATALOGUE_STOCK
    ) -> dict[str, Any]:
        line: Line = totals.line
        product: Product = line.product
        doc = self._documents.by_id[product.id]
        labels = _variation_labels(product)
        low_stock = _low_stock(inventory.stock(product))
        return {
            "key": line.key,
            "id": product.id,
            "type": product.type,
            "quantity": line.quantity,
            "quantity_limits": quantity_limits(product, True, inventory),
            "name": product.name,
            "short_description": doc["short_description"],
            "description": doc["description"],
            "sku": product.sku,
            "low_stock_remaining": low_stock,
            "backorders_allowed": False,
            "show_backorder_badge": False,
            "sold_individually": product.sold_individually,
            "permalink": doc["permalink"].replace(catalog.SITE_PLACEHOLDER, site),
            "images": self._site(doc["images"], site),
            "variation": labels,
            "item_data": [],
            "prices": with_currency(
                {
                    "price": str(product.price_cents),
                    "regular_price": str(product.regular_cents),
                    "sale_price": str(product.price_cents),
                    "price_range": None,
                }
            )
            | {
                "raw_prices": {
                    "precision": 6,
                    "price": raw(product.price_cents),
                    "regular_price": raw(product.regular_cents),
                    "sale_price": raw(product.price_cents),
                }
            },
            "totals": with_currency(
                {
                    "line_subtotal": str(totals.subtotal),
                    "line_subtotal_tax": str(totals.subtotal_tax),
                    "line_total": str(totals.total),
                    "line_total_tax": str(totals.total_tax),
                }
            ),
            "catalog_visibility": "visible",
            "extensions": {},
        }

    @staticmethod
    def coupon(totals: CouponTotals) -> dict[str, Any]:
        return {
            "code": totals.code,
            "discount_type": totals.discount_type,
            "totals": with_currency(
                {
                    "total_discount": str(totals.discount),
                    "total_discount_tax": str(totals.discount_tax),
                }
            ),
        }

    def cart(
        self,
        state: CartState,
        site: str,
        totals: Totals | None = None,
        inventory: Inventory = CATALOGUE_STOCK,
    ) -> dict[str, Any]:
        totals = totals or calculate(state)
        has_lines = bool(totals.lines)
        return {
            "items": [self.item(t, site, inventory) for t in totals.lines],
            "coupons": [self.coupon(c) for c in totals.coupons],
            "fees": [],
            "totals": with_currency(
                {
                    "total_items": str(totals.items),
                    "total_items_tax": str(totals.items_tax),
                    "total_fees": "0",
                    "total_fees_tax": "0",
                    "total_discount": str(totals.discount),
                    "total_discount_tax": str(totals.discount_tax),
                    "total_shipping": None if totals.shipping is None else str(totals.shipping),
                    "total_shipping_tax": None
                    if totals.shipping_tax is None
                    else str(totals.shipping_tax),
                    "total_price": str(totals.total_price),
                    "total_tax": str(totals.total_tax),
                    "tax_lines": [
                        {
                            "name": catalog.TAX_LABEL,
                            "price": str(totals.total_tax),
                            "rate": catalog.TAX_RATE_LABEL,
                        }
                    ]
                    if has_lines
                    else [],
                }
            ),
            "shipping_address": dict(state.shipping),
            "billing_address": dict(state.billing),
            "needs_payment": totals.total_price > 0,
            "needs_shipping": has_lines,
            "payment_requirements": ["products"],
            "has_calculated_shipping": has_lines and bool(state.shipping.get("country")),
            "shipping_rates": self._packages(totals) if totals.package else [],
            "items_count": sum(t.line.quantity for t in totals.lines),
            "items_weight": sum(t.line.product.weight_g * t.line.quantity for t in totals.lines),
            "cross_sells": [],
            "errors": cart_errors(state, inventory),
            "payment_methods": list(PAYMENT_METHODS),
            "extensions": {},
        }

    @staticmethod
    def _packages(totals: Totals) -> list[dict[str, Any]]:
        package = totals.package
        assert package is not None
        names = [
            (t.line.key, _package_item_name(t.line.product), t.line.quantity) for t in totals.lines
        ]
        items_meta = ", ".join(f"{name} &times; {qty}" for _, name, qty in names)
        rates = [
            with_currency(
                {
                    "rate_id": rate.rate_id,
                    "name": rate.name,
                    "description": "",
                    "delivery_time": "",
                    "price": str(rate.cost_cents),
                    "taxes": str(shipping_tax(rate)),
                    "instance_id": rate.instance_id,
                    "method_id": rate.method_id,
                    "meta_data": [{"key": "Items", "value": items_meta}],
                    "selected": rate.rate_id == package.selected,
                }
            )
            for rate in package.rates
        ]
        return [
            {
                "package_id": 0,
                "name": "Shipment 1",
                "destination": dict(package.destination),
                "items": [{"key": k, "name": n, "quantity": q} for k, n, q in names],
                "shipping_rates": rates,
            }
        ]


def _low_stock(stock: int | None) -> int | None:
    return stock if stock is not None and 0 < stock <= LOW_STOCK_AMOUNT else None


def _stocked(doc: dict[str, Any], inventory: Inventory) -> dict[str, Any]:
    """A product document with the live stock, when it is no longer the recorded one."""
    product = catalog.PRODUCTS[int(doc["id"])]
    stock = inventory.stock(product)
    in_stock = inventory.in_stock(product)
    if stock == product.stock and in_stock == product.in_stock:
        return doc
    doc = {**doc, "is_in_stock": in_stock, "low_stock_remaining": _low_stock(stock)}
    if stock is not None:
        doc["add_to_cart"] = {**doc["add_to_cart"], "maximum": max(stock, 0)}
    if "stock_availability" in doc:
        text = f"{stock} in stock" if in_stock and stock is not None else ""
        doc["stock_availability"] = (
            {"text": text, "class": "in-stock"}
            if in_stock
            else {"text": "Out of stock", "class": "out-of-stock"}
        )
    return doc


def _variation_labels(product: Product) -> list[dict[str, str]]:
    if product.type != "variation":
        return []
    attrs = {a.cart_key: a for a in catalog.VARIATION_ATTRIBUTES.get(product.parent_id, ())}
    labels = []
    for key, slug in product.attributes:
        attribute = attrs[key]
        labels.append({"attribute": attribute.label, "value": attribute.term_name(slug)})
    return labels


def _package_item_name(product: Product) -> str:
    if product.type == "variation":
        return catalog.variation_display_name(product)
    return product.name
