"""The WooCommerce Store API (``wc/store/v1``): adapter, wire schemas and mapping,
error table, session rules (Cart-Token and Nonce)."""

from .adapter import CAPABILITIES, StoreApiUpstream

__all__ = ["CAPABILITIES", "StoreApiUpstream"]
