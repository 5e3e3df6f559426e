"""What the cart service needs from a store: the port every adapter implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..carts.model import Cart, Product, ProductPage
from ..carts.operations import Operation
from .errors import UpstreamRejected


@dataclass(frozen=True, slots=True)
class UpstreamCart:
    """A cart as the store returned it (``version`` not yet assigned), with the newest
    upstream token and guest nonce from the response headers."""

    cart: Cart
    token: str
    nonce: str | None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What the store did with a batch: per operation None (applied) or its refusal, the
    cart after the batch (None when no entry carried one), the newest token and nonce."""

    errors: list[UpstreamRejected | None]
    cart: Cart | None
    token: str | None
    nonce: str | None


@dataclass(frozen=True, slots=True)
class ProductQuery:
    page: int = 1
    per_page: int = 20
    search: str | None = None
    category: str | None = None
    product_type: str | None = None
    parent: int | None = None


class Upstream(Protocol):
    """One store API (WooCommerce Store API; CoCart later)."""

    async def fetch_cart(self, token: str | None) -> UpstreamCart:
        """Read the cart of ``token`` (a new guest cart when None). Retried when safe."""

    async def apply(self, token: str, nonce: str, operation: Operation) -> UpstreamCart:
        """Apply one mutation; raises ``UpstreamRejected`` with the store's code."""

    async def apply_batch(
        self, token: str, nonce: str, operations: Sequence[Operation]
    ) -> BatchOutcome:
        """Apply mutations in order as one batch; per-operation refusals in the outcome.
        Raises ``UpstreamOutcomeUnknown`` when the batch left and no answer came back."""

    async def list_products(self, query: ProductQuery) -> ProductPage:
        """One page of the catalogue, compact."""

    async def get_product(self, product_id: int) -> Product:
        """One product or variation, compact; ``UpstreamRejected`` (404) when unknown."""

    def token_session(self, token: str | None) -> str | None:
        """The store's session the token names (a change means the cart was lost)."""

    def token_expiry(self, token: str | None) -> float | None:
        """When the token expires (unix seconds), if it says."""

    async def aclose(self) -> None:
        """Close pooled connections."""
