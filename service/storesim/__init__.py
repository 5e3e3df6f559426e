"""storesim: a faithful simulator of the WooCommerce 8.9.1 Store API (``wc/store/v1``)."""

from .app import create_app
from .sim import Faults, Latency, RateLimit, SimConfig

__all__ = ["Faults", "Latency", "RateLimit", "SimConfig", "create_app"]
