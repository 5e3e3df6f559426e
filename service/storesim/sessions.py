"""The WooCommerce session one Store API request works on (a batch shares one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .cart import CartState


class CriticalError(Exception):
    """A PHP fatal error: WordPress answers 500 with its "critical error" page."""


@dataclass(slots=True)
class Session:
    """The WooCommerce session of one PHP request (shared by a batch's sub-requests)."""

    user_id: str
    cookie: bool  # a cookie session (no valid Cart-Token), as a browser would get
    state: CartState
    cocart: bool = False  # a web session held by a CoCart cart (after ?cocart-load-cart=)
    original: CartState = field(init=False)

    def __post_init__(self) -> None:
        self.original = self.state.copy()

    @property
    def changed(self) -> bool:
        return self.state != self.original
