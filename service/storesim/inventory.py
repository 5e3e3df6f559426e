"""Live stock: what orders reduced and the control plane set, over the catalogue's facts.

The catalogue declares which products manage stock and how many the recorded store had
(the Cap: 3); orders reduce it, ``PUT /__sim/products/{id}/stock`` sets it or takes a
product out of stock. A request works on one frozen :class:`Inventory` view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from . import catalog
from .catalog import Product


def initial_levels() -> dict[int, int]:
    """The stock of every product that manages it, as the recorded store had it."""
    return {p.id: p.stock for p in catalog.PRODUCTS.values() if p.stock is not None}


@dataclass(frozen=True, slots=True)
class Inventory:
    """Stock levels (products that manage stock) and products taken out of stock."""

    levels: Mapping[int, int] = field(default_factory=lambda: MappingProxyType(initial_levels()))
    out: frozenset[int] = frozenset()

    def stock(self, product: Product) -> int | None:
        """The units left, or None for a product that does not manage stock."""
        if product.stock is None:
            return None
        return self.levels.get(product.id, product.stock)

    def in_stock(self, product: Product) -> bool:
        if not product.in_stock or product.id in self.out:
            return False
        left = self.stock(product)
        return left is None or left > 0


CATALOGUE_STOCK = Inventory()
