"""Traces through OpenTelemetry, configured only by the standard ``OTEL_*`` variables.

Off unless ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console``; absent or
``none``: off) and ``OTEL_SDK_DISABLED`` is not ``true``. Off, no SDK tracer, exporter
or instrumentation is loaded and nothing is wrapped: a request continues the caller's
``traceparent`` to the store by hand (``request_context.py``) at no cost. On:

- a tracer provider of this app's own (never the process-wide one: another app in the
  process stays untraced), its resource from ``OTEL_SERVICE_NAME`` and
  ``OTEL_RESOURCE_ATTRIBUTES`` (``service.name`` ``cartsync`` unless they name one), its
  sampler from ``OTEL_TRACES_SAMPLER`` / ``_ARG``, batches per ``OTEL_BSP_*``;
- ``otlp`` exports OTLP over HTTP/protobuf as ``OTEL_EXPORTER_OTLP_*`` and
  ``OTEL_EXPORTER_OTLP_TRACES_*`` say (endpoint, headers, timeout, compression,
  certificate); ``grpc`` is refused at start (its client is not installed);
  ``console`` prints spans;
- spans: the ASGI instrumentation on the framework path (``server_middleware``; named by
  route template, the path's secrets and the query left out), a span of our own for
  each hot read (``hot_read``: the instrumentation would cost it as much as the read),
  the httpx instrumentation on the store's client and the redis one on the state
  store's (commands without their arguments), and the lane's turn as a span linking
  every caller whose operations it carries (the domain's ``Tracing`` port).

The trace is propagated as ``OTEL_PROPAGATORS`` says (W3C Trace Context and Baggage by
default). At a stop, spans still queued get ``FLUSH_S`` to leave: a collector that is
down never holds the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.trace import Link, Span, SpanContext
    from opentelemetry.trace.span import TraceState
    from opentelemetry.util.types import Attributes

FLUSH_S = 2.0  # at a stop: how long queued spans may take to leave
_NOT_TRACED = ("/healthz", "/readyz", "/metrics")


class TracingError(ValueError):
    """An ``OTEL_*`` setting cartsync cannot follow (stops the start)."""


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The exporters the environment names; none: tracing is off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [n.strip().lower() for n in environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    return [n for n in names if n not in ("", "none")]


def from_environment(environ: Mapping[str, str] = os.environ) -> OtelTracing | None:
    """The app's tracing as ``OTEL_*`` configure it; None when it is off."""
    names = exporter_names(environ)
    if not names:
        return None
    return OtelTracing([_exporter(name, environ)() for name in names])


def check(environ: Mapping[str, str] = os.environ) -> None:
    """Raise ``TracingError`` for ``OTEL_*`` settings cartsync cannot follow."""
    for name in exporter_names(environ):
        _exporter(name, environ)


def _exporter(name: str, environ: Mapping[str, str]) -> Callable[[], SpanExporter]:
    """How to make the exporter ``name`` (nothing imported until it is made)."""
    if name == "otlp":
        protocol = (
            environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        ).strip()
        if protocol != "http/protobuf":
            raise TracingError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: cartsync exports OTLP over "
                "http/protobuf only (no gRPC client is installed)"
            )
        return _otlp
    if name == "console":
        return _console
    raise TracingError(f"OTEL_TRACES_EXPORTER={name}: cartsync knows otlp, console and none")


def _otlp() -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout...: OTEL_EXPORTER_OTLP_*


def _console() -> SpanExporter:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    return ConsoleSpanExporter()


def _traceparent(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


class OtelTracing:
    """One app's tracing: its provider and exporters, the hooks the composition root
    wires in, and the domain's ``Tracing`` port (``caller``, ``batch``).

    ``batch_export=False`` exports each span as it ends (a test's in-memory exporter).
    """

    def __init__(self, exporters: Sequence[SpanExporter], *, batch_export: bool = True) -> None:
        from opentelemetry import propagate, trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        resource = Resource.create()
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": "cartsync"}))
        configured = TracerProvider(shutdown_on_exit=False).sampler  # OTEL_TRACES_SAMPLER's
        # Our own stop flushes it, with a bound (``aclose``); an exit handler would not.
        self.provider = TracerProvider(
            resource=resource, sampler=_no_background_calls(configured), shutdown_on_exit=False
        )
        for exporter in exporters:
            processor = BatchSpanProcessor if batch_export else SimpleSpanProcessor
            self.provider.add_span_processor(processor(exporter))
        self._tracer = self.provider.get_tracer("cartsync")
        self._trace = trace
        self._propagate = propagate
        # The hot read's span speaks the semantic conventions the instrumentations do.
        opted = os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "")
        opt_in = {part.strip() for part in opted.split(",")}
        old, new = "http" not in opt_in, bool({"http", "http/dup"} & opt_in)
        self._hot_read: dict[str, str | int] = {"http.route": "/v1/cart", "cartsync.cache": "near"}
        if old:
            self._hot_read |= {"http.method": "GET", "http.target": "/v1/cart"}
        if new:
            self._hot_read |= {"http.request.method": "GET", "url.path": "/v1/cart"}
        self._status_keys = ("http.status_code",) * old + ("http.response.status_code",) * new

    # -- the domain's port ---------------------------------------------------------------
    def caller(self) -> str:
        context = self._trace.get_current_span().get_span_context()
        return _traceparent(context) if context.is_valid else ""

    @contextlib.contextmanager
    def batch(self, callers: Sequence[str], size: int) -> Iterator[object]:
        contexts: list[SpanContext] = []
        for carried in callers:
            if carried:
                extracted = self._propagate.extract({"traceparent": carried})
                context = self._trace.get_current_span(extracted).get_span_context()
                if context.is_valid and context not in contexts:
                    contexts.append(context)
        parent = (
            self._trace.set_span_in_context(self._trace.NonRecordingSpan(contexts[0]))
            if contexts
            else None  # queued untraced (another replica's, say): under whatever runs it
        )
        with self._tracer.start_as_current_span(
            "lane batch",
            context=parent,
            links=[self._trace.Link(c) for c in contexts],
            attributes={"cartsync.batch.operations": size, "cartsync.batch.callers": len(contexts)},
        ) as span:
            yield span

    # -- what the composition root wires -------------------------------------------------
    def server_middleware(self) -> Callable[[Any], Any]:
        """The ASGI instrumentation for the framework path: a middleware factory (the
        first of the app's middleware, so it runs after routing, outside the rest)."""
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        return functools.partial(
            OpenTelemetryMiddleware,
            tracer_provider=self.provider,
            excluded_urls=",".join(_NOT_TRACED),
            default_span_details=_span_details,
            server_request_hook=_scrub,
            exclude_spans=["receive", "send"],  # a span per ASGI message: noise, and dear
        )

    def instrument_httpx(self, client: Any) -> None:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def instrument_redis(self, client: Any) -> None:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def hot_read(self, traceparent: bytes, status: int, started: float) -> str:
        """A server span for a read the hot path has answered (after the answer left;
        ``started`` on ``perf_counter``); the trace id, for its log line."""
        carrier = {"traceparent": traceparent.decode("latin-1")} if traceparent else {}
        took_ns = int((time.perf_counter() - started) * 1e9)
        span: Span = self._tracer.start_span(
            "GET /v1/cart",
            context=self._propagate.extract(carrier),
            kind=self._trace.SpanKind.SERVER,
            start_time=time.time_ns() - took_ns,
            attributes={**self._hot_read, **dict.fromkeys(self._status_keys, status)},
        )
        span.end()
        return f"{span.get_span_context().trace_id:032x}"

    async def aclose(self, timeout_s: float = FLUSH_S) -> None:
        """Export what is queued and stop, for at most ``timeout_s`` (in a thread of its
        own that nothing waits for after that: an exporter retrying a collector that is
        down must not hold the process)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        def finish() -> None:
            try:
                self.provider.shutdown()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                    loop.call_soon_threadsafe(settle)

        threading.Thread(target=finish, name="cartsync-trace-flush", daemon=True).start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done, timeout_s)


def _no_background_calls(configured: Sampler) -> Sampler:
    """The configured sampler, except that a call made outside any request or lane turn
    (a root client span: the state watch reads the dataset's marker every half second)
    is never recorded: it would be a trace of its own, twice a second, saying nothing."""
    from opentelemetry.sdk.trace.sampling import Decision, SamplingResult
    from opentelemetry.sdk.trace.sampling import Sampler as Base
    from opentelemetry.trace import SpanKind, get_current_span

    class NoBackgroundCalls(Base):
        def should_sample(
            self,
            parent_context: Context | None,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Attributes = None,
            links: Sequence[Link] | None = None,
            trace_state: TraceState | None = None,
        ) -> SamplingResult:
            if kind is SpanKind.CLIENT and not (
                get_current_span(parent_context).get_span_context().is_valid
            ):
                return SamplingResult(Decision.DROP)
            return configured.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"NoBackgroundCalls{{{configured.get_description()}}}"

    return NoBackgroundCalls()


def _span_details(scope: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A server span's name and route: ``POST /v1/cart/items/{key}`` (Litestar has
    routed the request: its template is in the scope)."""
    route = scope.get("path_template") or scope.get("path", "")
    return f"{scope.get('method', '')} {route}", {"http.route": route}


def _scrub(span: Span, scope: Mapping[str, Any]) -> None:
    """What a span says of the request's URL: the route template for the path (a
    checkout code is a secret) and no query (a stream token is one)."""
    attributes = getattr(span, "attributes", None) or {}
    route = scope.get("path_template") or "/"
    path = scope.get("path", "")
    for key in ("http.target", "url.path"):
        if key in attributes:
            span.set_attribute(key, route)
    for key in ("http.url", "url.full"):
        if key in attributes:
            url = str(attributes[key]).split("?", 1)[0]
            base = url[: -len(path)] if path and url.endswith(path) else ""
            span.set_attribute(key, base + route)
    if "url.query" in attributes:
        span.set_attribute("url.query", "")
