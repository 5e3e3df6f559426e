"""The CoCart v2 cart body, as ``CoCart_REST_Cart_V2_Controller`` builds it.

Money is CoCart's mix: cart totals are cent strings (but an empty cart's ``subtotal``,
``fee_total``, ``shipping_total`` and ``total`` are the integer 0, because
``cocart_format_money`` hands back empty values unchanged); item ``subtotal`` is a cent
string while ``subtotal_tax``, ``total`` and ``tax`` are PHP floats in major units.
``cart_hash`` is WooCommerce's: md5 of the session's cart JSON and the total.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from typing import Any

from .. import catalog
from ..cart import CartState, Line, RemovedLine
from ..catalog import Product
from ..inventory import CATALOGUE_STOCK, Inventory
from ..totals import LineTotals, Totals, calculate, shipping_tax
from .cart import max_purchase, parent_of, variation_data

VERSION = "4.4.0-beta.6"
CURRENCY: dict[str, Any] = {
    "currency_code": "USD",
    "currency_symbol": "$",
    "currency_symbol_pos": "currency_prefix",
    "currency_minor_unit": 2,
    "currency_decimal_separator": ".",
    "currency_thousand_separator": ",",
    "currency_prefix": "$",
    "currency_suffix": "",
}
BILLING_ORDER = (
    "first_name",
    "last_name",
    "company",
    "country",
    "address_1",
    "address_2",
    "city",
    "state",
    "postcode",
    "phone",
    "email",
)
SHIPPING_ORDER = BILLING_ORDER[:-2]
NO_HASH = "No items in cart so no hash"


def php_float(cents: int) -> int | float:
    """A PHP float in major units as ``json_encode`` writes it: ``36``, ``3.6``."""
    return cents // 100 if cents % 100 == 0 else cents / 100


def php_tax(cents: int) -> int | float:
    """A line's tax as the session keeps it in ``line_tax_data``: unrounded (a Hoodie at
    38.25 has 3.825), in major units."""
    exact = Fraction(cents) * catalog.TAX_RATE / 100
    return int(exact) if exact.denominator == 1 else float(exact)


def kilograms(grams: int) -> str:
    """``(string)`` of a PHP float weight in kg: ``"1"``, ``"0.5"``."""
    return str(grams // 1000) if grams % 1000 == 0 else str(grams / 1000)


def price_html(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def _php_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


def _variation_dict(line_variation: tuple[tuple[str, str], ...]) -> dict[str, str] | list[Any]:
    return dict(line_variation) if line_variation else []


class CartView:
    """One cart, rendered for one request (totals computed once)."""

    def __init__(
        self,
        state: CartState,
        key: str,
        site: str,
        slugs: dict[int, str],
        thumb: bool = True,
        inventory: Inventory = CATALOGUE_STOCK,
    ) -> None:
        self.state = state
        self.inventory = inventory
        self.key = key
        self.site = site
        self.slugs = slugs
        self.thumb = thumb
        self.totals: Totals = calculate(state)
        self.taxable = bool(state.shipping.get("country"))

    # -- session data and hash ---------------------------------------------------------
    def contents(self, with_data: bool = False) -> dict[str, dict[str, Any]]:
        """The cart as WooCommerce keeps it in the session (``default=true`` shows it)."""
        out: dict[str, dict[str, Any]] = {}
        for t in self.totals.lines:
            product = t.line.product
            variation = _variation_dict(t.line.variation)
            attributes: Any = dict(variation_data(product)) if product.type == "variation" else ""
            data_hash = hashlib.md5(
                _php_json({"type": product.type, "attributes": attributes}).encode(),
                usedforsecurity=False,
            ).hexdigest()
            taxes: dict[str, Any] = (
                {
                    "subtotal": {"1": php_tax(t.subtotal)},
                    "total": {"1": php_tax(t.total)},
                }
                if self.taxable
                else {"subtotal": [], "total": []}
            )
            item: dict[str, Any] = {
                "key": t.line.key,
                "product_id": parent_of(product).id,
                "variation_id": product.id if product.type == "variation" else 0,
                "variation": variation,
                "quantity": t.line.quantity,
            }
            if with_data:
                item["data"] = {}
            item |= {
                "data_hash": data_hash,
                "line_tax_data": taxes,
                "line_subtotal": php_float(t.subtotal),
                "line_subtotal_tax": php_float(t.subtotal_tax),
                "line_total": php_float(t.total),
                "line_tax": php_float(t.total_tax),
            }
            out[t.line.key] = item
        return out

    def cart_hash(self) -> str:
        """``md5(wp_json_encode(cart) . cart_totals['total'])``, "" for an empty cart."""
        if not self.totals.lines:
            return ""
        total = self.totals.total_price
        raw = _php_json(self.contents()) + f"{total // 100}.{total % 100:02d}"
        return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()

    def web_hash(self) -> str:
        """The hash with no totals in the session yet (``total`` 0): what the load-cart
        URL sets in ``woocommerce_cart_hash`` for a fresh web session."""
        if not self.totals.lines:
            return ""
        raw = _php_json(self.contents()) + "0"
        return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()

    # -- pieces ------------------------------------------------------------------------------
    def customer(self, which: str) -> dict[str, str]:
        if which == "billing":
            return {f"billing_{k}": self.state.billing.get(k, "") for k in BILLING_ORDER}
        return {f"shipping_{k}": self.state.shipping.get(k, "") for k in SHIPPING_ORDER}

    def _item(
        self, product: Product, line: Line | RemovedLine, sums: tuple[int, ...]
    ) -> dict[str, Any]:
        subtotal, subtotal_tax, total, tax = sums
        parent = parent_of(product)
        labels: dict[str, str] | list[Any] = []
        if product.type == "variation":
            attrs = {a.cart_key: a for a in catalog.VARIATION_ATTRIBUTES.get(product.parent_id, ())}
            labels = {
                attrs[k].label: attrs[k].term_name(v) for k, v in line.variation if k in attrs
            }
        name = (
            catalog.variation_display_name(product) if product.type == "variation" else product.name
        )
        return {
            "item_key": line.key,
            "id": product.id,
            "name": name,
            "title": parent.name,
            "price": str(product.price_cents),
            "quantity": {
                "value": line.quantity,
                "min_purchase": 1,
                "max_purchase": max_purchase(product, self.inventory),
            },
            "totals": {
                "subtotal": str(subtotal),
                "subtotal_tax": php_float(subtotal_tax),
                "total": php_float(total),
                "tax": php_float(tax),
            },
            "slug": self.slugs.get(parent.id, ""),
            "meta": {
                "product_type": product.type,
                "sku": product.sku,
                "dimensions": {"length": "", "width": "", "height": "", "unit": "cm"},
                "weight": kilograms(product.weight_g * line.quantity),
                "variation": labels,
            },
            "backorders": "",
            "cart_item_data": [],
            "featured_image": (
                f"{self.site}/wp-content/uploads/woocommerce-placeholder.png" if self.thumb else ""
            ),
        }

    def item(self, t: LineTotals) -> dict[str, Any]:
        body = self._item(
            t.line.product, t.line, (t.subtotal, t.subtotal_tax, t.total, t.total_tax)
        )
        body["extensions"] = []
        return body

    def items(self) -> list[dict[str, Any]]:
        return [self.item(t) for t in self.totals.lines]

    def removed_items(self) -> list[dict[str, Any]]:
        out = []
        for r in self.state.removed.values():
            body = self._item(
                catalog.PRODUCTS[r.product_id], r, (r.subtotal, r.subtotal_tax, r.total, r.tax)
            )
            body["quantity"] = r.quantity
            out.append(body)
        return out

    def coupons(self) -> list[dict[str, Any]]:
        return [
            {
                "coupon": c.code,
                "label": f"Coupon: {c.code}",
                "discount_type": c.discount_type,
                "saving": str(c.discount),
                "saving_html": f"-{price_html(c.discount)}",
            }
            for c in self.totals.coupons
        ]

    def shipping(self) -> dict[str, Any] | list[Any]:
        """``get_shipping_details``: ``total_packages`` counts the package's lines."""
        package = self.totals.package
        if package is None:
            return []
        count = len(self.totals.lines)
        names = ", ".join(
            f"{_package_name(t.line.product)} × {t.line.quantity}" for t in self.totals.lines
        )
        rates = {}
        for rate in package.rates:
            tax = shipping_tax(rate) if self.taxable else 0
            rates[rate.rate_id] = {
                "key": rate.rate_id,
                "method_id": rate.method_id,
                "instance_id": rate.instance_id,
                "label": rate.name,
                "cost": str(rate.cost_cents),
                "html": rate.name + (f": {price_html(rate.cost_cents)}" if rate.cost_cents else ""),
                "taxes": str(tax) if tax else "",
                "chosen_method": rate.rate_id == package.selected,
                "meta_data": {"items": names},
            }
        packages: dict[str, Any] | list[Any] = []
        if rates:
            packages = {
                "default": {
                    "package_name": "Shipping",
                    "rates": rates,
                    "package_details": "",
                    "index": 0,
                    "chosen_method": package.selected or "",
                    "formatted_destination": formatted_address(package.destination),
                }
            }
        return {
            "total_packages": count,
            "show_package_details": count > 1,
            "has_calculated_shipping": True,
            "packages": packages,
        }

    def taxes(self) -> dict[str, Any] | list[Any]:
        if not self.totals.lines or self.totals.total_tax <= 0:
            return []
        return {"TAX-1": {"name": catalog.TAX_LABEL, "price": str(self.totals.total_tax)}}

    def money_totals(self) -> dict[str, Any]:
        t = self.totals
        empty = not t.lines
        return {
            "subtotal": 0 if empty else str(t.items),
            "subtotal_tax": str(t.items_tax),
            "fee_total": 0 if empty else "0",
            "fee_tax": "0",
            "discount_total": str(t.discount),
            "discount_tax": str(t.discount_tax),
            "shipping_total": 0 if empty else str(t.shipping or 0),
            "shipping_tax": str(t.shipping_tax or 0),
            "total": 0 if empty else str(t.total_price),
            "total_tax": str(t.total_tax),
        }


def _package_name(product: Product) -> str:
    return catalog.variation_display_name(product) if product.type == "variation" else product.name


def formatted_address(destination: dict[str, str]) -> str:
    """``WC_Countries::get_formatted_address(..., ', ')`` for a shipping destination
    (the base country is left out; US order ``city, STATE postcode``)."""
    city, state, postcode = (destination.get(k, "") for k in ("city", "state", "postcode"))
    country = destination.get("country", "")
    lines = [destination.get("address_1", ""), destination.get("address_2", "")]
    if country == "US":
        lines.append(f"{city}, {state} {postcode}")
    else:
        lines += [city, state, postcode]
    if country != catalog.STORE_COUNTRY:
        lines.append(country)
    trimmed = [line.strip(", ") for line in lines]
    return ", ".join(line for line in trimmed if line)


def cart_body(view: CartView, printed: Any, fields: str = "") -> dict[str, Any]:
    """The whole cart (``get_cart_template``) or, with ``fields``, the parent fields asked
    for in that order (``get_cart_template_limited``: ``customer:billing_address``,
    ``totals:subtotal-total``)."""
    if not fields:
        hashed = view.cart_hash()
        return {
            "cart_hash": hashed or NO_HASH,
            "cart_key": view.key,
            "currency": dict(CURRENCY),
            "customer": {
                "billing_address": view.customer("billing"),
                "shipping_address": view.customer("shipping"),
            },
            "items": view.items(),
            "item_count": sum(t.line.quantity for t in view.totals.lines),
            "items_weight": kilograms(
                sum(t.line.product.weight_g * t.line.quantity for t in view.totals.lines)
            ),
            "coupons": view.coupons(),
            "needs_payment": view.totals.total_price > 0,
            "needs_shipping": bool(view.totals.lines),
            "shipping": view.shipping(),
            "fees": [],
            "taxes": view.taxes(),
            "totals": view.money_totals(),
            "removed_items": view.removed_items(),
            "cross_sells": [],
            "notices": printed,
        }
    whole = cart_body(view, printed)
    out: dict[str, Any] = {}
    for field in fields.split(","):
        parent, _, child = field.partition(":")
        if parent not in whole:
            continue
        if parent == "cart_hash":
            out[parent] = view.cart_hash()
        elif parent == "customer" and child in ("billing_address", "shipping_address"):
            out.setdefault("customer", {})[child] = whole["customer"][child]
        elif parent == "totals" and child:
            totals = whole["totals"]
            picked = out.setdefault("totals", {})
            for name in child.split("-"):
                if name in totals:
                    picked[name] = totals[name]
        else:
            out[parent] = whole[parent]
    return out
