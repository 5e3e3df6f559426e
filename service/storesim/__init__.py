"""storesim: a faithful simulator of a WooCommerce store (8.9.1, or 9.9.5 with ``woo="9.9"``):
the Store API (``wc/store/v1``, checkout included) and CoCart 4.4 (``cocart/v2``), one cart
engine and one catalogue behind both."""

from .app import create_app
from .sim import Faults, Latency, RateLimit, SimConfig

__all__ = ["Faults", "Latency", "RateLimit", "SimConfig", "create_app"]
