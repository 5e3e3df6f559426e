"""Structured logs (one canonical line per request) and Prometheus metrics.

Logs are JSON in production and readable in a terminal; they carry the request id,
the owner's opaque id and the cart id, never a token or a request body.
"""

from __future__ import annotations

import datetime
import functools
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

import msgspec
import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import REGISTRY, Collector

from . import request_context
from .settings import Settings

_HIDDEN = ("token", "authorization", "cart_token", "nonce", "body", "password", "cookie")


@functools.lru_cache(maxsize=1024)
def _is_hidden(key: str) -> bool:
    return any(hidden in key.lower() for hidden in _HIDDEN)


def _drop_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Last line of defence: no field that could hold a secret reaches a log. Field names
    come from the code, a few dozen in all: the verdict per name is cached (testing each
    name against each hidden word was 12 µs a line, half a hot read's logging)."""
    for key in [key for key in event if _is_hidden(key)]:
        event[key] = "[hidden]"
    return event


def configure_logging(settings: Settings) -> None:
    json_logs = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    level = getattr(logging, settings.log_level.upper())
    renderer: Any
    factory: Any
    if json_logs:
        # msgspec renders a line in a third of the time json.dumps takes; a request log
        # line is on every hot read.
        renderer = structlog.processors.JSONRenderer(serializer=_encode_line)
        factory = structlog.BytesLoggerFactory(file=sys.stderr.buffer)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        factory = structlog.PrintLoggerFactory(file=sys.stderr)
    global _request_sink
    _request_sink = sys.stderr.buffer if json_logs and level <= logging.INFO else None
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )


def _encode_line(event: Any, **_: Any) -> bytes:
    return msgspec.json.encode(event)


_request_sink: Any = None  # JSON lines at info: where ``request_line`` writes directly
_encoder = msgspec.json.Encoder()
_UTC = datetime.UTC


def request_line(fields: dict[str, Any]) -> None:
    """The hot read's request line, the same JSON line structlog writes (the request's
    bound context, the fields, ``event``, ``level``, ``timestamp``) without its processor
    chain: 13 µs a line there, a seventh of a hot read's CPU. The fields are the hot
    read's own, none of them secret. Console logs, or a level above info, go through
    structlog as every other line does."""
    sink = _request_sink
    if sink is None:
        structlog.get_logger("cartsync.request").info("request", **fields)
        return
    line = fields
    line["event"] = "request"
    for name, value in structlog.contextvars.get_contextvars().items():
        line.setdefault(name, value)  # as merge_contextvars: the line's own fields win
    line["level"] = "info"
    line["timestamp"] = datetime.datetime.now(tz=_UTC).isoformat().replace("+00:00", "Z")
    sink.write(_encoder.encode(line) + b"\n")
    sink.flush()


def open_request(
    headers: Mapping[bytes, bytes], client: Any, span: str = ""
) -> tuple[str, request_context.RequestFacts]:
    """A request's id (the caller's ``X-Request-Id`` when it is a sane one) and its
    facts (trace, address, user agent), bound to the log context afresh: what the
    framework path's middleware and the hot writes both open a request with. ``span``:
    the request's own server span when tracing records one."""
    structlog.contextvars.clear_contextvars()
    incoming = headers.get(b"x-request-id", b"").decode("latin-1")
    request_id = (
        incoming
        if 0 < len(incoming) <= 64 and incoming.isprintable()
        else request_context.new_request_id()
    )
    agent = headers.get(b"user-agent")
    facts = request_context.begin(
        span or headers.get(b"traceparent", b"").decode("latin-1"),
        client[0] if client else None,
        agent.decode("latin-1") if agent is not None else None,
        traced=bool(span),
    )
    structlog.contextvars.bind_contextvars(request_id=request_id, trace_id=facts.trace_id)
    return request_id, facts


class RequestLogMiddleware:
    """One log line per HTTP request: request and trace ids, route, status, latency,
    owner, cart, where the cart came from and how many calls went to the store."""

    def __init__(self, app: ASGIApp, caller: Callable[[], str] | None = None) -> None:
        self.app = app
        self.log = structlog.get_logger("cartsync.request")
        self.caller = caller  # tracing on: the request's server span (``tracing.py``)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        span = self.caller() if self.caller is not None else ""
        request_id, facts = open_request(dict(scope["headers"]), scope.get("client"), span)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope.get("path", "")
            if path.startswith("/v1/checkout/"):
                path = "/v1/checkout/{code}"  # the code is a secret: never logged
            if path not in ("/healthz", "/readyz", "/metrics"):
                self.log.info(
                    "request",
                    method=scope.get("method"),
                    path=path,
                    status=status,
                    latency_ms=round((time.perf_counter() - started) * 1000, 2),
                    cache=facts.cache or ("upstream" if facts.upstream_calls else None),
                    upstream_calls=facts.upstream_calls,
                    batch_size=facts.batch_size or None,
                )


class ServiceCollector(Collector):
    """Exports the cart service's counters (per replica) to Prometheus."""

    def __init__(self, stats_source: Any) -> None:
        self._source = stats_source

    def collect(
        self,
    ) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        service = self._source()
        if service is None:
            return
        stats = service.stats
        lane = service.lane.stats
        reads = CounterMetricFamily(
            "cartsync_cart_reads", "Cart reads by where they were answered from", labels=["source"]
        )
        reads.add_metric(["near_cache"], stats.near_hits)
        reads.add_metric(["state_store"], stats.state_hits)
        yield reads
        upstream = CounterMetricFamily(
            "cartsync_upstream_calls", "Calls to the store", labels=["kind"]
        )
        upstream.add_metric(["read"], lane.upstream_reads)
        upstream.add_metric(["write"], lane.upstream_writes)
        yield upstream
        yield CounterMetricFamily(
            "cartsync_stale_served", "Carts served marked stale", value=stats.stale_served
        )
        yield CounterMetricFamily(
            "cartsync_idempotent_replays",
            "Answers replayed for a repeated Idempotency-Key",
            value=stats.idempotent_replays,
        )
        yield CounterMetricFamily(
            "cartsync_lease_takeovers",
            "Carts taken over from a holder that left a batch in flight",
            value=lane.lease_takeovers,
        )
        yield CounterMetricFamily(
            "cartsync_reconciliations",
            "Batches whose answer was lost, reconciled from the cart",
            value=lane.reconciliations,
        )
        yield CounterMetricFamily(
            "cartsync_state_losses",
            "Losses of the state store's data this replica noticed",
            value=service.watch.losses,
        )
        yield CounterMetricFamily(
            "cartsync_carts_marked_lost",
            "Carts marked cart_state_lost (their state was lost with the state store's)",
            value=service.watch.carts_flagged,
        )
        yield CounterMetricFamily(
            "cartsync_rebuilds", "Lost upstream carts rebuilt from snapshots", value=lane.rebuilds
        )
        yield GaugeMetricFamily(
            "cartsync_sse_connections", "Open change-feed streams", value=service.feed.open_streams
        )
        yield GaugeMetricFamily(
            "cartsync_lane_waiting_operations",
            "Queued operations this replica waits on (lane depth, seen from here)",
            value=service.lane.waiting,
        )
        yield GaugeMetricFamily(
            "cartsync_lanes_leading",
            "Carts whose queue this replica drains now",
            value=service.lane.leading,
        )
        yield CounterMetricFamily(
            "cartsync_batch_operations", "Operations sent in batches", value=lane.batch_operations
        )
        sizes = HistogramMetricFamily("cartsync_batch_size", "Operations per upstream write")
        buckets = [
            (str(bound), sum(n for size, n in lane.batch_sizes.items() if size <= bound))
            for bound in (1, 2, 5, 10, 25)
        ]
        buckets.append(("+Inf", lane.batches))
        sizes.add_metric([], buckets, sum_value=lane.batch_operations)
        yield sizes


_registered: dict[str, Any] = {}


def register_collector(service_source: Any) -> None:
    """Register once per process; later apps (tests) replace the source."""
    if "collector" in _registered:
        _registered["collector"]._source = service_source
        return
    collector = ServiceCollector(service_source)
    REGISTRY.register(collector)
    _registered["collector"] = collector
