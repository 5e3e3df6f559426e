"""CoCart 4.4 (``cocart/v2``): adapter, request planning, wire schemas and mapping,
error table, session rules (the cart key)."""

from .adapter import CAPABILITIES, CoCartUpstream

__all__ = ["CAPABILITIES", "CoCartUpstream"]
