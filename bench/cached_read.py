"""A cached ``GET /v1/cart`` against a bare Litestar route serving static JSON of the
same size: same server (uvicorn, one worker), same machine, same run.

    python -m bench.cached_read [--seconds 5] [--quick] [--traced [RATIO]]

Starts its own redis-server and storesim (latency off), then prints a markdown table
and the Redis memory of one cart. ``--traced``: the gateway traces (OpenTelemetry,
``OTEL_TRACES_EXPORTER=otlp``, new traces sampled at ``RATIO``, 1 by default) and
exports to a sink of the bench's own that accepts and drops every batch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import redis

from .tools import (
    bench_token,
    cpu_seconds,
    free_port,
    gateway,
    gateway_env,
    rss_mib,
    server,
    storesim,
    wrk,
)


def _redis() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


@contextmanager
def _otlp_sink(ratio: float) -> Iterator[dict[str, str]]:
    """An OTLP/HTTP endpoint that takes every export and drops it; the gateway's OTEL_*."""

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    sink = ThreadingHTTPServer(("127.0.0.1", free_port()), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        yield {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": str(ratio),
        }
    finally:
        sink.shutdown()


def _measure(
    url: str, pid: int, connections: list[int], seconds: float, headers: dict[str, str]
) -> list[tuple[int, float, float, float, float]]:
    rows = []
    for conns in connections:
        wrk(url, conns, 1, headers)  # warm-up
        before = cpu_seconds(pid)
        result = wrk(url, conns, seconds, headers)
        cpu_us = (cpu_seconds(pid) - before) / max(result.requests, 1) * 1e6
        rows.append((conns, result.requests_per_s, result.p50_ms, result.p99_ms, cpu_us))
    return rows


Row = tuple[int, float, float, float, float]


def _median(rounds: list[list[Row]]) -> list[Row]:
    """Per connection count, the round with the median throughput."""
    rows = []
    for index in range(len(rounds[0])):
        ordered = sorted((r[index] for r in rounds), key=lambda row: row[1])
        rows.append(ordered[len(ordered) // 2])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--traced",
        type=float,
        nargs="?",
        const=1.0,
        metavar="RATIO",
        help="the gateway traces (OTLP to a sink), sampling RATIO of new traces (1)",
    )
    args = parser.parse_args()
    seconds = 1 if args.quick else args.seconds
    if args.quick:
        args.rounds = 1
    redis_process, redis_url = _redis()
    sim_port, port, bare_port, raw_port = free_port(), free_port(), free_port(), free_port()
    env = gateway_env(f"http://127.0.0.1:{sim_port}", redis_url, snapshot_freshness_s="3600")
    token = bench_token("bench-user")
    auth = {"Authorization": f"Bearer {token}"}
    sink: contextlib.AbstractContextManager[dict[str, str]] = (
        _otlp_sink(args.traced) if args.traced is not None else contextlib.nullcontext({})
    )
    try:
        with (
            sink as otel,
            storesim(sim_port),
            gateway(port, {**env, **otel}) as replica,
        ):
            base = f"http://127.0.0.1:{port}"
            for product in (10, 11, 15):
                httpx.post(
                    f"{base}/v1/cart/items",
                    json={"product_id": product, "quantity": 2},
                    headers=auth,
                ).raise_for_status()
            cart = httpx.get(f"{base}/v1/cart", headers=auth)
            size, etag = len(cart.content), cart.headers["ETag"]
            client = redis.Redis.from_url(redis_url)
            cart_keys = [k for k in client.scan_iter("cs:v1:*") if b"cart:" in k or b"owner" in k]
            cart_bytes = sum(client.memory_usage(k) or 0 for k in cart_keys)
            bare_argv = [
                sys.executable,
                "-m",
                "uvicorn",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
                "--no-access-log",
                "bench.bare_app:app",
            ]
            raw_argv = [*bare_argv[:-1], "bench.bare_app:raw"]
            raw_argv[raw_argv.index(str(bare_port))] = str(raw_port)
            with (
                server(
                    bare_argv,
                    f"http://127.0.0.1:{bare_port}/static",
                    env={"BARE_BYTES": str(size)},
                ) as bare,
                server(
                    raw_argv, f"http://127.0.0.1:{raw_port}/", env={"BARE_BYTES": str(size)}
                ) as raw,
            ):
                # Rounds alternate the targets so machine drift hits them alike; each
                # figure is the round with the median throughput.
                runs: dict[str, list[list[Row]]] = {"bare": [], "raw": [], "read": [], "304": []}
                for _ in range(args.rounds):
                    runs["raw"].append(
                        _measure(
                            f"http://127.0.0.1:{raw_port}/", raw.pid, args.connections, seconds, {}
                        )
                    )
                    runs["bare"].append(
                        _measure(
                            f"http://127.0.0.1:{bare_port}/static",
                            bare.pid,
                            args.connections,
                            seconds,
                            {},
                        )
                    )
                    runs["read"].append(
                        _measure(f"{base}/v1/cart", replica.pid, args.connections, seconds, auth)
                    )
                    runs["304"].append(
                        _measure(
                            f"{base}/v1/cart",
                            replica.pid,
                            args.connections,
                            seconds,
                            {**auth, "If-None-Match": etag},
                        )
                    )
            rss_after = rss_mib(replica.pid)
    finally:
        redis_process.terminate()
        redis_process.wait()
    baseline, raws, reads, not_modified = (_median(runs[k]) for k in ("bare", "raw", "read", "304"))
    if args.json:
        keys_ = ("connections", "rps", "p50_ms", "p99_ms", "cpu_us")
        Path(args.json).write_text(
            json.dumps(
                {
                    "cart_bytes": size,
                    "redis_bytes_per_cart": cart_bytes,
                    "gateway_rss_mib": rss_after,
                    "rows": {
                        name: [dict(zip(keys_, row, strict=True)) for row in rows]
                        for name, rows in (
                            ("bare", baseline),
                            ("raw_asgi", raws),
                            ("read_200", reads),
                            ("read_304", not_modified),
                        )
                    },
                },
                indent=1,
            )
        )

    print(
        f"cached GET /v1/cart (3 lines, {size} bytes, bearer JWT, Redis state"
        f"{f', traced: OTLP, {args.traced:g} sampled' if args.traced is not None else ''}) "
        f"vs a bare "
        f"Litestar route and a raw ASGI app returning {size} static bytes; one uvicorn worker "
        "each; "
        f"{seconds:g} s runs, median of {args.rounds} alternating rounds\n"
    )
    print(
        "| connections | path | req/s | ratio to bare | ratio to raw ASGI | p50 ms | p99 ms "
        "| p99 / bare's | CPU µs/req |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for c_rows in zip(baseline, raws, reads, not_modified, strict=True):
        (c, base_rps, _, base_p99, _), (_, raw_rps, _, _, _) = c_rows[0], c_rows[1]
        for label, (_, rps, p50, p99, cpu) in zip(
            (
                "bare Litestar, static JSON",
                "raw ASGI, same bytes",
                "GET /v1/cart (200)",
                "GET /v1/cart (304)",
            ),
            c_rows,
            strict=True,
        ):
            print(
                f"| {c} | {label} | {rps:,.0f} | {rps / base_rps:.2f} | {rps / raw_rps:.2f} "
                f"| {p50:.2f} | {p99:.2f} | {p99 / base_p99:.2f} | {cpu:.0f} |"
            )
    print(
        f"\nRedis memory of one cart ({len(cart_keys)} keys: owner, token, snapshot): "
        f"{cart_bytes:,} bytes"
    )


if __name__ == "__main__":
    main()
