"""The application factory: every route, plugin, dependency and handler, in one place."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Callable

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.middleware.base import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from .api.body import StrictRequest
from .api.carts import CartController
from .api.checkout import CheckoutController
from .api.demo import DemoController
from .api.errors import EXCEPTION_HANDLERS
from .api.events import EventsController
from .api.idempotency import Idempotency
from .api.limits import Limits
from .api.ops import OpsController
from .api.orders import OrdersController
from .api.products import ProductController
from .api.session import SessionController
from .auth import Authenticator
from .carts.feed import ChangeFeed
from .carts.handoff import Handoff
from .carts.health import UpstreamHealth
from .carts.lane import Lane
from .carts.lane.credentials import CartCredentials
from .carts.near_cache import NearCache
from .carts.orders import Orders
from .carts.policy import DAY_S, CartPolicy
from .carts.ports.state import StateStore
from .carts.ports.tracing import NO_TRACING, Tracing
from .carts.ports.upstream import Upstream
from .carts.products import Catalogue
from .carts.reads import CartReads
from .carts.registry import Registry
from .carts.service import CartService
from .carts.snapshots import Snapshots
from .carts.state_watch import StateWatch
from .lifecycle import drain_on_signals, unless_stopping
from .metrics_server import start_metrics_server
from .observability import RequestLogMiddleware, configure_logging, register_collector
from .settings import Settings
from .state.memory import MemoryStateStore
from .state.redis import RedisStateStore
from .tracing import OtelTracing
from .upstream._http import StoreClientSettings
from .upstream.cocart import CoCartUpstream
from .upstream.storeapi import StoreApiUpstream

VERSION = "0.1.0"


def make_state(settings: Settings, tracing: OtelTracing | None = None) -> StateStore:
    if settings.redis_url is None:
        return MemoryStateStore()
    return RedisStateStore.from_url(
        settings.redis_url,
        cart_ttl_s=int(settings.cart_ttl_days * 86400),
        guest_cart_ttl_s=int(settings.guest_cart_ttl_days * 86400),
        cluster=settings.redis_cluster,
        instrument=tracing.instrument_redis if tracing is not None else None,
    )


def make_upstream(settings: Settings, tracing: OtelTracing | None = None) -> Upstream:
    """The adapter for the store kind the settings name."""
    client = StoreClientSettings(
        connect_timeout=settings.upstream_connect_timeout_s,
        read_timeout=settings.upstream_read_timeout_s,
        read_retries=settings.upstream_read_retries,
        max_connections=settings.upstream_max_connections,
        instrument=tracing.instrument_httpx if tracing is not None else None,
    )
    if settings.upstream_kind == "cocart":
        return CoCartUpstream(settings.upstream_url, client=client)
    return StoreApiUpstream(
        settings.upstream_url, checkout_path=settings.checkout_path, client=client
    )


def cart_policy(settings: Settings) -> CartPolicy:
    """The domain's settings, in its own terms."""
    return CartPolicy(
        lease_ttl_s=settings.lock_ttl_s,
        lease_wait_s=settings.lock_wait_s,
        write_timeout_s=settings.write_timeout_s,
        reconcile_grace_s=settings.reconcile_grace_s,
        linger_s=settings.linger_ms / 1000,
        snapshot_freshness_s=settings.snapshot_freshness_s,
        products_ttl_s=settings.products_ttl_s,
        cart_ttl_s=int(settings.cart_ttl_days * DAY_S),
        guest_cart_ttl_s=int(settings.guest_cart_ttl_days * DAY_S),
        handoff_ttl_s=settings.handoff_ttl_s,
        state_loss_window_s=settings.idempotency_ttl_s,
    )


def make_service(
    policy: CartPolicy,
    state: StateStore,
    upstream: Upstream,
    clock: Callable[[], float],
    tracing: Tracing = NO_TRACING,
) -> CartService:
    """The cart service and every part of it, wired here and nowhere else."""
    near = NearCache()
    feed = ChangeFeed()
    snapshots = Snapshots(state, near, clock)
    credentials = CartCredentials(state, upstream)
    watch = StateWatch(
        state,
        window_s=policy.state_loss_window_s,
        check_every_s=policy.state_check_s,
        clock=clock,
    )
    registry = Registry(state, near, policy, watch)
    health = UpstreamHealth(clock)
    lane = Lane(
        state,
        upstream,
        snapshots,
        credentials,
        lease_ttl_s=policy.lease_ttl_s,
        reconcile_grace_s=policy.reconcile_grace_s,
        linger_s=policy.linger_s,
        on_upstream=health.seen,
        tracing=tracing,
    )
    reads = CartReads(registry, near, snapshots, lane, feed, policy, watch, clock)
    return CartService(
        policy,
        state,
        upstream.capabilities,
        near=near,
        registry=registry,
        reads=reads,
        lane=lane,
        feed=feed,
        handoff=Handoff(state, registry, reads, credentials, upstream, policy.handoff_ttl_s),
        catalogue=Catalogue(state, upstream, policy.products_ttl_s),
        health=health,
        watch=watch,
        orders=Orders(state, registry, upstream),
        tracing=tracing,
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
        use_handler_docstrings=False,
    )


def create_app(
    settings: Settings,
    *,
    state: StateStore | None = None,
    upstream: Upstream | None = None,
    drain_on_sigterm: bool = False,
    tracing: OtelTracing | None = None,
) -> Litestar:
    """A cartsync app. ``state`` and ``upstream`` may be injected (tests); otherwise they
    are built from ``settings`` at start-up and closed at shutdown. ``drain_on_sigterm``
    (the served app) ends streams and readiness as soon as the server is told to stop.
    ``tracing``: OpenTelemetry's, when on (``tracing.from_environment()`` for the served
    app); None, nothing is traced."""
    configure_logging(settings)
    app_state = State({"settings": settings, "service": None, "tracing": tracing})

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        store = state or make_state(settings, tracing)
        source = upstream or make_upstream(settings, tracing)
        service = make_service(
            cart_policy(settings), store, source, time.time, tracing or NO_TRACING
        )
        app.state.state = store
        app.state.service = service
        authenticator = app.state.authenticator = Authenticator(settings)
        app.state.idempotency = Idempotency(store, settings.idempotency_ttl_s)
        app.state.limits = Limits(
            store, settings.rate_limit_per_minute, settings.write_rate_limit_per_minute
        )
        port = settings.metrics_port
        metrics = await start_metrics_server(port) if port else None  # /metrics off the main port
        stopping = asyncio.Event()

        def drain() -> None:
            stopping.set()
            service.drain()

        # Told to stop while starting (a state store that does not answer makes start-up
        # wait on its timeouts): start-up is given up, and the server stops at once.
        restore_signals = drain_on_signals(drain) if drain_on_sigterm else None
        try:
            await unless_stopping(stopping, service.start(), authenticator.start())
            register_collector(lambda: app.state.service)
            gc.collect()
            gc.freeze()  # long-lived objects out of the collector's way: p99 drops by half
            yield
        finally:
            if restore_signals is not None:
                restore_signals()
            if metrics is not None:
                metrics.close()
            await authenticator.aclose()
            await service.close()
            if upstream is None:
                await source.aclose()
            if state is None:
                await store.aclose()
            if tracing is not None:
                await tracing.aclose()

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
            OrdersController,
            ProductController,
            SessionController,
            OpsController,
            *([] if settings.metrics_port else [Metrics]),  # or on its own port
            *([DemoController] if settings.demo_page else []),  # CARTSYNC_DEMO_PAGE only
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        middleware=[
            # Tracing on: the request's server span, made first, so its log line and
            # every call it makes (Redis, the store) belong to it.
            *([tracing.server_middleware()] if tracing is not None else []),
            DefineMiddleware(RequestLogMiddleware, caller=tracing.caller if tracing else None),
            prometheus.middleware,
        ],
        openapi_config=openapi_config(),
        state=app_state,
        request_class=StrictRequest,  # JSON bodies: a nesting limit, then a strict decode
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )
    return Litestar.from_config(config)


__all__ = ["create_app"]
