"""storesim: a faithful simulator of a WooCommerce 8.9.1 store: the Store API (``wc/store/v1``)
and CoCart 4.4 (``cocart/v2``), one cart engine and one catalogue behind both."""

from .app import create_app
from .sim import Faults, Latency, RateLimit, SimConfig

__all__ = ["Faults", "Latency", "RateLimit", "SimConfig", "create_app"]
