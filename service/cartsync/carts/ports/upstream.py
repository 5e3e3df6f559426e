"""What the cart domain needs from a store: the port every store adapter implements.

The domain owns this port (the consumer defines what it calls). An adapter (Store API,
CoCart) speaks its store's wire protocol, keeps its store's session rules to itself and
translates its store's error codes into the refusals below, so nothing here names a
route, a header, a nonce or a WooCommerce code.

Credentials are opaque: a string the adapter hands out with every answer and gets back
with the next call (a Cart-Token, a cart key...). The domain stores the newest one per
cart and asks the adapter the questions only it can answer: did the store lose the cart
(``cart_lost``), is it time to renew (``renewal_due``), is a new copy worth storing
(``worth_storing``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec

from ..model import Cart, Order, Payment, Product, ProductPage
from ..operations import ApplyCoupon, Checkout, Operation, RemoveCoupon, SelectShippingRate
from .upstream_errors import UpstreamRefused


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a store can do, declared by its adapter; the domain plans around it.

    ``max_batch``: the most operations one upstream request may carry (a Store API
    batch: 25); a lane turn is one request, sized by ``Upstream.turn``.
    ``handoff``: how a browser takes the cart to the shop's own checkout.
    ``customer_first``: a rebuild sends the customer before the lines (the Store API
    needs an address for shipping rates; CoCart refuses customer details on an empty
    cart).
    ``shipping_address``: the store keeps a shipping address of its own (CoCart free
    keeps billing only and derives shipping from it).
    """

    kind: str
    max_batch: int
    coupons: bool
    shipping_rates: bool
    handoff: str  # "session-param" (?session=, WooCommerce 10+) | "load-cart" (CoCart)
    customer_first: bool = True
    shipping_address: bool = True
    native_checkout: bool = False

    def supports(self, operation: Operation) -> bool:
        if isinstance(operation, ApplyCoupon | RemoveCoupon):
            return self.coupons
        if isinstance(operation, SelectShippingRate):
            return self.shipping_rates
        if isinstance(operation, Checkout):
            return self.native_checkout
        return True

    def describe(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "max_batch": self.max_batch,
            "coupons": self.coupons,
            "shipping_rates": self.shipping_rates,
            "handoff": self.handoff,
            "shipping_address": self.shipping_address,
            "native_checkout": self.native_checkout,
        }


@dataclass(frozen=True, slots=True)
class UpstreamCart:
    """A cart as the store returned it (``version`` not yet assigned), with the newest
    credentials for it."""

    cart: Cart
    credentials: str


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What the store did with the operations of one request: per operation None
    (applied) or its refusal, in order; the cart after it (None when no answer carried
    one); the newest credentials."""

    refusals: list[UpstreamRefused | None]
    cart: Cart | None
    credentials: str | None


class OrderRef(msgspec.Struct, frozen=True):
    """What reads an order back from the store: its id and key (secrets of the owner's,
    kept server side) and the billing email the store may ask for."""

    id: int
    key: str
    email: str = ""


@dataclass(frozen=True, slots=True)
class Placement:
    """The store's answer to placing an order: its status and what the payment gateway
    said (the order's lines and totals are read back with ``read_order``)."""

    ref: OrderRef
    number: str
    status: str
    payment: Payment


@dataclass(frozen=True, slots=True)
class ProductQuery:
    page: int = 1
    per_page: int = 20
    search: str | None = None
    category: str | None = None
    product_type: str | None = None
    parent: int | None = None


class Upstream(Protocol):
    """One store API. Errors are the tree of ``upstream_errors``."""

    @property
    def capabilities(self) -> Capabilities:
        """What this store can do."""

    async def fetch_cart(self, credentials: str | None) -> UpstreamCart:
        """Read the cart (a new, empty one when None). Retried when safe."""

    def turn(self, operations: Sequence[Operation], current: Cart | None) -> int:
        """How many of the leading ``operations`` one request carries (at least one):
        a lane turn is one upstream request, so its answer settles exactly them."""

    async def apply_batch(
        self,
        credentials: str | None,
        operations: Sequence[Operation],
        current: Cart | None = None,
    ) -> BatchOutcome:
        """Apply one turn's operations (``turn`` of them) in order, as one request, to
        the cart last seen as ``current``. Raises ``UpstreamOutcomeUnknown`` when the
        request left and its answer was lost, ``UpstreamUnavailable`` when it was not
        sent."""

    async def checkout_draft(self, credentials: str) -> OrderRef:
        """The draft order the store keeps for this cart (the very order a later
        ``place_order`` places); ``UpstreamRefused`` (``cart_empty``...) when none."""

    async def place_order(
        self, credentials: str, draft: OrderRef, checkout: Checkout, current: Cart
    ) -> Placement:
        """Place the cart's draft order. Raises ``UpstreamOutcomeUnknown`` when the
        request left and its answer was lost (the order may be placed: read it back)."""

    async def read_order(self, ref: OrderRef) -> Order:
        """The order as the store has it now (status ``checkout-draft``: not placed)."""

    async def list_products(self, query: ProductQuery) -> ProductPage:
        """One page of the catalogue, compact."""

    async def get_product(self, product_id: int) -> Product:
        """One product or variation; ``UpstreamRefused`` (not found) when unknown."""

    def cart_lost(self, sent: str | None, received: str | None) -> bool:
        """The store answered for another cart than ``sent`` named: the one we had is
        gone (expired), and ``received`` names a new, empty one."""

    def renewal_due(self, credentials: str | None, now: float) -> bool:
        """The credentials expire soon: read the cart (which renews them) before a write."""

    def worth_storing(self, stored: str | None, received: str) -> bool:
        """``received`` should replace ``stored`` (it names another cart, or its expiry
        moved on enough to matter); otherwise the stored copy still works."""

    def handoff_url(self, credentials: str) -> str:
        """The shop URL that opens this cart in a browser (the single-use link's target)."""

    async def aclose(self) -> None:
        """Close pooled connections."""
