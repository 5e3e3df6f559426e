"""The WooCommerce versions storesim plays: 8.9.1 (the default) and 9.9.5.

Each profile is what was measured on a real store of that version (``recordings/storeapi/``
and ``storeapi-checkout-8.9.1/`` against ``storeapi-9.9.5/`` and
``storeapi-checkout-9.9.5/``); ``storeapi-9.9.5/NOTES.md`` lists the differences.
"""

from __future__ import annotations

from dataclasses import dataclass

_LEGACY_NONCE = "X-WC-Store-API-Nonce"
_ALLOW_HEADERS = "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type"


@dataclass(frozen=True, slots=True)
class WooProfile:
    """One WooCommerce version's observable behaviour."""

    name: str  # "8.9" | "9.9": what --woo and PUT /__sim/profile take
    version: str  # the recorded release
    # Headers.
    legacy_nonce_header: bool  # X-WC-Store-API-Nonce beside Nonce (deprecated, gone in 9.x)
    cart_hash_header: bool  # Cart-Hash after Cart-Token
    expose_headers: str
    allow_headers: str
    critical_cache_control: str  # the PHP fatal page (WordPress 6.8 adds no-store, private)
    ratelimit_remaining_first: bool  # RateLimit-Remaining before -Retry-After when blocked
    target_hints: bool  # _links.self[].targetHints on cart/items and cart/coupons lists
    # Nonce: a valid Cart-Token exempts writes (and checkout) from the nonce check.
    token_skips_nonce: bool
    # Cart messages and rules.
    named_quantity_messages: bool  # 'The quantity of "Album" cannot be changed'
    minimum_before_readonly: bool  # quantity 0 on a sold-individually line: invalid_quantity
    escaped_coupon_applied: bool  # 'Coupon code &quot;test&quot; has already been applied.'
    # Products.
    products_file: str
    products_last_modified: str
    # Checkout.
    checkout_update: bool  # PUT/PATCH /checkout update the draft
    empty_checkout_409: bool  # POST /checkout on an empty cart: 409 (8.9.1: 400)
    stock_cut_at_checkout: bool  # a line above the stock is cut to it and the order placed
    shipping_from_billing: bool  # no shipping_address: the billing address is copied
    draft_default_payment: str  # a draft's payment method before the client chose one
    additional_fields_object: bool  # "additional_fields": {} (8.9.1: [])
    experimental_cart: bool  # "__experimentalCart" in checkout answers
    invalid_cart_extensions_list: bool  # the cart inside a 409 stock error: "extensions": []
    order_tax_label: str  # tax_lines[].name of GET /order/{id}

    @property
    def allow_methods_checkout(self) -> tuple[str, ...]:
        return ("GET", "POST", "PUT", "PATCH") if self.checkout_update else ("GET", "POST")


WOO_8_9 = WooProfile(
    name="8.9",
    version="8.9.1",
    legacy_nonce_header=True,
    cart_hash_header=False,
    expose_headers="X-WP-Total, X-WP-TotalPages, Link",
    allow_headers=f"{_ALLOW_HEADERS}, Cart-Token, Nonce, {_LEGACY_NONCE}",
    critical_cache_control="no-cache, must-revalidate, max-age=0",
    ratelimit_remaining_first=False,
    target_hints=False,
    token_skips_nonce=False,
    named_quantity_messages=False,
    minimum_before_readonly=False,
    escaped_coupon_applied=False,
    products_file="products.json",
    products_last_modified="1795293099",
    checkout_update=False,
    empty_checkout_409=False,
    stock_cut_at_checkout=False,
    shipping_from_billing=True,
    draft_default_payment="",
    additional_fields_object=False,
    experimental_cart=False,
    invalid_cart_extensions_list=True,
    order_tax_label="TAX-1",
)

WOO_9_9 = WooProfile(
    name="9.9",
    version="9.9.5",
    legacy_nonce_header=False,
    cart_hash_header=True,
    expose_headers="X-WP-Total, X-WP-TotalPages, Link, Cart-Token",
    allow_headers=f"{_ALLOW_HEADERS}, Cart-Token, Nonce",
    critical_cache_control="no-cache, must-revalidate, max-age=0, no-store, private",
    ratelimit_remaining_first=True,
    target_hints=True,
    token_skips_nonce=True,
    named_quantity_messages=True,
    minimum_before_readonly=True,
    escaped_coupon_applied=True,
    products_file="products-9.9.json",
    products_last_modified="1796156288",
    checkout_update=True,
    empty_checkout_409=True,
    stock_cut_at_checkout=True,
    shipping_from_billing=False,
    draft_default_payment="bacs",
    additional_fields_object=True,
    experimental_cart=True,
    invalid_cart_extensions_list=False,
    order_tax_label="Tax",
)

PROFILES: dict[str, WooProfile] = {p.name: p for p in (WOO_8_9, WOO_9_9)}


def woo_profile(name: str) -> WooProfile:
    """The profile for ``8.9``/``8.9.1`` or ``9.9``/``9.9.5``; ValueError for anything else."""
    for profile in PROFILES.values():
        if name in (profile.name, profile.version):
            return profile
    known = ", ".join(PROFILES)
    raise ValueError(f"unknown WooCommerce profile {name!r} (known: {known})")
