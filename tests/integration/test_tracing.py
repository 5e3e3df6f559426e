"""Traces (OpenTelemetry): one trace from a request through Redis to the store, the
lane's batch linking every caller it carried, the hot read's span of its own, nothing
secret in a span; a real gateway configured by ``OTEL_*`` alone exporting over OTLP,
and tracing off (nothing of OpenTelemetry loaded) unless an exporter is set.

The in-memory exporter lives in the gateway's process, so those tests serve the app
with uvicorn in this process; Redis and storesim are real servers. The export tests
run ``cartsync serve`` processes and receive OTLP/HTTP themselves.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from cartsync.api.fastpath import serve_app
from cartsync.app import create_app
from cartsync.cli import placeholder_settings
from cartsync.tracing import FLUSH_S, OtelTracing

from ..support import (
    AUDIENCE,
    GUEST_SECRET,
    ISSUER,
    JWT_SECRET,
    free_port,
    gateway_env,
    start_gateway,
    start_storesim,
    stop,
)
from .conftest import user_token

BEANIE = 10


def _traceparent() -> tuple[str, int, int]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", int(trace_id, 16), int(span_id, 16)


def _url(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    return str(attributes.get("url.full") or attributes.get("http.url") or "")


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


@dataclass
class Traced:
    url: str
    exporter: InMemorySpanExporter

    async def trace(
        self, trace_id: int, complete: Callable[[list[ReadableSpan]], bool]
    ) -> list[ReadableSpan]:
        """The spans of one trace, once ``complete`` says they are all in (spans end
        after the answers they time: polled for)."""
        deadline = time.monotonic() + 10
        while True:
            spans = [
                s
                for s in self.exporter.get_finished_spans()
                if s.context is not None and s.context.trace_id == trace_id
            ]
            if complete(spans):
                return spans
            assert time.monotonic() < deadline, [s.name for s in spans]
            await asyncio.sleep(0.02)  # wait-ok: polling the exporter with a deadline


@pytest.fixture
async def traced(
    redis_url: str, storesim_server: str, storesim_live: httpx.AsyncClient
) -> AsyncIterator[Traced]:
    """The served app (the hot-read layer around it), traced into memory, on a port."""
    exporter = InMemorySpanExporter()
    settings = msgspec.structs.replace(
        placeholder_settings(),
        upstream_url=storesim_server,
        redis_url=redis_url,
        jwt_secret=JWT_SECRET,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        guest_secret=GUEST_SECRET,
        log_format="json",
    )
    tracing = OtelTracing([exporter], batch_export=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            serve_app(create_app(settings, tracing=tracing)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        assert not serving.done(), "the app stopped while starting"
        assert time.monotonic() < deadline, "the app did not start"
        await asyncio.sleep(0.02)  # wait-ok: polling a starting server with a deadline
    try:
        yield Traced(f"http://127.0.0.1:{port}", exporter)
    finally:
        server.should_exit = True
        await serving


def _client(url: str, subject: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {user_token(subject)}"}
    return httpx.AsyncClient(base_url=url, headers=headers, timeout=30)


class TestOneTrace:
    async def test_a_write_is_one_trace_from_the_request_through_redis_to_the_store(
        self, traced: Traced, storesim_live: httpx.AsyncClient
    ) -> None:
        traceparent, trace_id, caller = _traceparent()
        async with _client(traced.url) as client:
            added = await client.post(
                "/v1/cart/items", json={"product_id": BEANIE}, headers={"traceparent": traceparent}
            )
        assert added.status_code == 200, added.text

        def complete(spans: list[ReadableSpan]) -> bool:
            names = {s.name for s in spans}
            return {"POST /v1/cart/items", "lane batch"} <= names

        spans = await traced.trace(trace_id, complete)
        by_id = {s.context.span_id: s for s in spans if s.context is not None}

        def ancestors(span: ReadableSpan) -> list[int]:
            chain = []
            while (parent := _parent(span)) is not None:
                chain.append(parent)
                if parent not in by_id:
                    break
                span = by_id[parent]
            return chain

        (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
        assert server.context is not None
        assert server.parent is not None
        assert server.name == "POST /v1/cart/items"
        assert (server.parent.span_id, server.parent.is_remote) == (caller, True)
        ours = server.context.span_id
        # Every span of the trace is the request's own or below it: one trace.
        assert all(s is server or ours in ancestors(s) for s in spans)
        commands = [s for s in spans if (s.attributes or {}).get("db.system") == "redis"]
        assert len(commands) >= 3  # the owner, the queue, the results at least
        assert all("?" in str((s.attributes or {}).get("db.statement", "?")) for s in commands)
        (batch,) = [s for s in spans if s.name == "lane batch"]
        assert batch.context is not None
        assert _parent(batch) == ours
        assert [link.context.span_id for link in batch.links] == [ours]
        (write,) = [s for s in spans if s.kind is SpanKind.CLIENT and "/cart/add-item" in _url(s)]
        assert write.context is not None
        assert _parent(write) == batch.context.span_id
        seen = (await storesim_live.get("/__sim/traceparents")).json()
        assert f"00-{trace_id:032x}-{write.context.span_id:016x}-01" in seen

    async def test_a_batch_links_every_caller_it_carried(
        self, traced: Traced, storesim_live: httpx.AsyncClient
    ) -> None:
        """Writes to one cart while a call is in flight leave together: the batch's span
        is a child of the first caller it carries and links each of them."""
        await storesim_live.put("/__sim/latency", json={"fixed_ms": 300, "batch_base_ms": 300})
        callers = [_traceparent() for _ in range(6)]
        async with _client(traced.url, secrets.token_hex(8)) as client:
            (await client.get("/v1/cart")).raise_for_status()
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/v1/cart/items", json={"product_id": BEANIE}, headers={"traceparent": tp}
                    )
                    for tp, _, _ in callers
                )
            )
        assert [a.status_code for a in answers] == [200] * len(callers)
        servers: dict[int, int] = {}  # trace id -> the request's span id
        for _, trace_id, _ in callers:
            (span,) = [
                s
                for s in await traced.trace(
                    trace_id, lambda spans: any(s.kind is SpanKind.SERVER for s in spans)
                )
                if s.kind is SpanKind.SERVER
            ]
            assert span.context is not None
            servers[trace_id] = span.context.span_id
        batches = [s for s in traced.exporter.get_finished_spans() if s.name == "lane batch"]
        carried: dict[int, int] = {}
        for batch in batches:
            linked = {link.context.trace_id: link.context.span_id for link in batch.links}
            if not set(linked) & set(servers):
                continue  # another test's
            assert all(servers.get(trace) == span for trace, span in linked.items())
            assert batch.context is not None
            assert batch.parent is not None
            assert (batch.context.trace_id, batch.parent.span_id) in linked.items()
            assert (batch.attributes or {})["cartsync.batch.operations"] == len(linked)
            carried.update(linked)
        assert carried == servers  # every caller, linked from the batch that carried it
        assert any(len(b.links) > 1 for b in batches)  # and some were carried together


class TestHotRead:
    async def test_a_hot_read_is_a_span_of_its_own_in_the_callers_trace(
        self, traced: Traced
    ) -> None:
        traceparent, trace_id, caller = _traceparent()
        async with _client(traced.url) as client:
            (await client.post("/v1/cart/items", json={"product_id": BEANIE})).raise_for_status()
            read = await client.get("/v1/cart", headers={"traceparent": traceparent})
        assert read.status_code == 200
        (span,) = await traced.trace(trace_id, lambda spans: bool(spans))
        assert (span.name, span.kind, _parent(span)) == ("GET /v1/cart", SpanKind.SERVER, caller)
        assert (span.attributes or {})["cartsync.cache"] == "near"  # the hot path answered


class TestNothingSecret:
    async def test_a_checkout_code_is_in_no_span(self, traced: Traced) -> None:
        traceparent, trace_id, _ = _traceparent()
        async with _client(traced.url) as client:
            (await client.post("/v1/cart/items", json={"product_id": BEANIE})).raise_for_status()
            link = (await client.post("/v1/cart/checkout-link")).json()
            code = link["url"].rstrip("/").rsplit("/", 1)[1]
            opened = await client.get(
                link["url"], headers={"traceparent": traceparent}, follow_redirects=False
            )
        assert opened.status_code == 303
        spans = await traced.trace(
            trace_id, lambda spans: any(s.kind is SpanKind.SERVER for s in spans)
        )
        (span,) = [s for s in spans if s.kind is SpanKind.SERVER]
        assert span.name == "GET /v1/checkout/{code}"
        assert (span.attributes or {})["http.target"] == "/v1/checkout/{code}"
        everything = [str(v) for s in traced.exporter.get_finished_spans() for v in _values(s)]
        assert not [value for value in everything if code in value]


def _values(span: ReadableSpan) -> Sequence[Any]:
    return [span.name, *(span.attributes or {}).values()]


# -- a real gateway, configured by OTEL_* alone --------------------------------------------


@dataclass
class Collector:
    """An OTLP/HTTP receiver of our own (``/v1/traces``, protobuf)."""

    url: str
    spans: list[tuple[dict[str, str], Any]] = field(default_factory=list)

    def of(self, trace_id: int) -> list[Any]:
        wanted = trace_id.to_bytes(16, "big")
        return [span for _, span in self.spans if span.trace_id == wanted]

    def resources(self) -> list[dict[str, str]]:
        return [resource for resource, _ in self.spans]


@pytest.fixture
def collector() -> Iterator[Collector]:
    received = Collector("")

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    received.spans.extend((resource, span) for span in scope.spans)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Served:
    url: str
    storesim: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture
def serve(redis_url: str, tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Served]]:
    """``cartsync serve`` with these ``OTEL_*`` (and none inherited) before a storesim."""
    sim_port = free_port()
    sim = start_storesim(sim_port, "--secret", "tracing")
    started: list[subprocess.Popen[bytes]] = []

    def start(otel: dict[str, str]) -> Served:
        port = free_port()
        log = tmp_path / f"gateway-{len(started)}.log"
        env = {**gateway_env(f"http://127.0.0.1:{sim_port}", redis_url), **otel}
        saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("OTEL_")}
        try:
            process = start_gateway(port, env, log)
        finally:
            os.environ.update(saved)
        started.append(process)
        return Served(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sim_port}", process, log)

    try:
        yield start
    finally:
        for process in started:
            stop(process)
        stop(sim)


def _attribute(span: Any, key: str) -> str:
    """An attribute of a span as OTLP carries it (a list of key-values), as text."""
    return next((a.value.string_value for a in span.attributes if a.key == key), "")


def _exit_after_sigterm(process: subprocess.Popen[bytes]) -> float:
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    return time.monotonic() - signalled


class TestExport:
    def test_a_gateway_exports_its_traces_over_otlp_as_otel_variables_say(
        self, serve: Callable[[dict[str, str]], Served], collector: Collector
    ) -> None:
        gateway = serve(
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
                "OTEL_SERVICE_NAME": "cartsync-under-test",
                "OTEL_BSP_SCHEDULE_DELAY": "100",
            }
        )
        traceparent, trace_id, caller = _traceparent()
        headers = {"Authorization": f"Bearer {user_token()}", "traceparent": traceparent}
        added = httpx.post(
            f"{gateway.url}/v1/cart/items", json={"product_id": BEANIE}, headers=headers, timeout=30
        )
        assert added.status_code == 200, added.text
        deadline = time.monotonic() + 10
        while not {"POST /v1/cart/items", "lane batch"} <= {s.name for s in collector.of(trace_id)}:
            assert time.monotonic() < deadline, [s.name for s in collector.of(trace_id)]
            time.sleep(0.05)  # wait-ok: spans leave in batches (every 100 ms here)
        spans = {s.name: s for s in collector.of(trace_id)}
        server, batch = spans["POST /v1/cart/items"], spans["lane batch"]
        assert server.parent_span_id == caller.to_bytes(8, "big")
        assert batch.parent_span_id == server.span_id
        assert [link.span_id for link in batch.links] == [server.span_id]
        assert {r["service.name"] for r in collector.resources()} == {"cartsync-under-test"}
        seen = httpx.get(f"{gateway.storesim}/__sim/traceparents").json()
        store_calls = [
            s
            for s in collector.of(trace_id)
            if s.parent_span_id == batch.span_id and "/cart/add-item" in _attribute(s, "http.url")
        ]
        assert [f"00-{trace_id:032x}-{s.span_id.hex()}-01" in seen for s in store_calls] == [True]

    def test_tracing_is_off_unless_an_exporter_is_set(
        self, serve: Callable[[dict[str, str]], Served], collector: Collector
    ) -> None:
        """An endpoint alone exports nothing; the trace is still continued to the store."""
        gateway = serve({"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url})
        traceparent, trace_id, _ = _traceparent()
        headers = {"Authorization": f"Bearer {user_token()}", "traceparent": traceparent}
        added = httpx.post(
            f"{gateway.url}/v1/cart/items", json={"product_id": BEANIE}, headers=headers, timeout=30
        )
        assert added.status_code == 200, added.text
        seen = httpx.get(f"{gateway.storesim}/__sim/traceparents").json()
        assert any(t.startswith(f"00-{trace_id:032x}-") for t in seen)
        _exit_after_sigterm(gateway.process)  # anything it would export has left by now
        assert collector.spans == []

    def test_a_collector_that_is_down_does_not_hold_a_stop(
        self, serve: Callable[[dict[str, str]], Served]
    ) -> None:
        gateway = serve(
            {
                "OTEL_TRACES_EXPORTER": "otlp",
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",  # nobody
            }
        )
        headers = {"Authorization": f"Bearer {user_token()}"}
        added = httpx.post(
            f"{gateway.url}/v1/cart/items", json={"product_id": BEANIE}, headers=headers, timeout=30
        )
        assert added.status_code == 200, added.text
        assert _exit_after_sigterm(gateway.process) <= FLUSH_S + 2.0

    def test_a_protocol_cartsync_cannot_export_stops_the_start(self, redis_url: str) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CARTSYNC_", "OTEL_"))},
            **gateway_env("http://127.0.0.1:9", redis_url),
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        }
        done = subprocess.run(
            [sys.executable, "-m", "cartsync", "serve", "--port", str(free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2
        assert "OTEL_EXPORTER_OTLP_PROTOCOL=grpc" in done.stderr

    def test_tracing_off_loads_no_tracer_exporter_or_instrumentation(self, redis_url: str) -> None:
        """Off, the served app (the hot-read layer and the framework's) loads no SDK
        tracer, no exporter and none of the instrumentations: no tracing work anywhere,
        the hot path included. (Litestar and redis-py import other parts of OpenTelemetry
        by themselves when it is installed, and use them only when told to.)"""
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CARTSYNC_", "OTEL_"))},
            **gateway_env("http://127.0.0.1:9", redis_url),
        }
        probe = (
            "import sys; from cartsync.cli import app_from_env; app_from_env(); "
            "print(sorted(m for m in sys.modules if m.startswith(("
            "'opentelemetry.sdk.trace', 'opentelemetry.exporter', "
            "'opentelemetry.instrumentation.httpx', 'opentelemetry.instrumentation.redis'))))"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[]"
