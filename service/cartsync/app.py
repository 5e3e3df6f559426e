"""The application factory: every route, plugin, dependency and handler, in one place."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from .api.carts import CartController
from .api.checkout import CheckoutController
from .api.errors import EXCEPTION_HANDLERS
from .api.events import EventsController
from .api.idempotency import Idempotency
from .api.limits import Limits
from .api.ops import OpsController
from .api.products import ProductController
from .api.session import SessionController
from .auth import Authenticator
from .carts.service import CartService
from .lifecycle import drain_on_signals
from .observability import RequestLogMiddleware, configure_logging, register_collector
from .settings import Settings
from .state.memory import MemoryStateStore
from .state.port import StateStore
from .state.redis import RedisStateStore
from .upstream.port import Upstream
from .upstream.storeapi import StoreApiUpstream

VERSION = "0.1.0"


def make_state(settings: Settings) -> StateStore:
    if settings.redis_url is None:
        return MemoryStateStore()
    return RedisStateStore.from_url(
        settings.redis_url,
        cart_ttl_s=int(settings.cart_ttl_days * 86400),
        guest_cart_ttl_s=int(settings.guest_cart_ttl_days * 86400),
        cluster=settings.redis_cluster,
    )


def make_upstream(settings: Settings) -> StoreApiUpstream:
    return StoreApiUpstream(
        settings.upstream_url,
        connect_timeout=settings.upstream_connect_timeout_s,
        read_timeout=settings.upstream_read_timeout_s,
        read_retries=settings.upstream_read_retries,
        max_connections=settings.upstream_max_connections,
    )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="cartsync",
        version=VERSION,
        description="One cart per shopper on every device, in front of a WooCommerce store.",
        path="/schema",
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
            }
        ),
        security=[{"bearer": []}],
        use_handler_docstrings=False,
    )


def create_app(
    settings: Settings,
    *,
    state: StateStore | None = None,
    upstream: Upstream | None = None,
    drain_on_sigterm: bool = False,
) -> Litestar:
    """A cartsync app. ``state`` and ``upstream`` may be injected (tests); otherwise they
    are built from ``settings`` at start-up and closed at shutdown. ``drain_on_sigterm``
    (the served app) ends streams and readiness as soon as the server is told to stop."""
    configure_logging(settings)
    app_state = State({"settings": settings, "service": None})

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        store = state or make_state(settings)
        source = upstream or make_upstream(settings)
        service = CartService(settings, store, source)
        app.state.state = store
        app.state.service = service
        app.state.authenticator = Authenticator(settings)
        app.state.idempotency = Idempotency(store, settings.idempotency_ttl_s)
        app.state.limits = Limits(
            store, settings.rate_limit_per_minute, settings.write_rate_limit_per_minute
        )
        await service.start()
        restore_signals = drain_on_signals(service.drain) if drain_on_sigterm else None
        register_collector(lambda: app.state.service)
        gc.collect()
        gc.freeze()  # long-lived objects out of the collector's way: p99 drops by half
        try:
            yield
        finally:
            if restore_signals is not None:
                restore_signals()
            await service.close()
            if upstream is None:
                await source.aclose()
            if state is None:
                await store.aclose()

    prometheus = PrometheusConfig(
        app_name="cartsync",
        prefix="cartsync",
        exclude=["/metrics", "/healthz", "/readyz"],
        group_path=True,
    )

    class Metrics(PrometheusController):
        path = "/metrics"
        include_in_schema = False

    config = AppConfig(
        route_handlers=[
            CartController,
            EventsController,
            CheckoutController,
            ProductController,
            SessionController,
            OpsController,
            Metrics,
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        middleware=[RequestLogMiddleware, prometheus.middleware],
        openapi_config=openapi_config(),
        state=app_state,
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )
    return Litestar.from_config(config)


__all__ = ["create_app"]
