"""``/metrics`` on a port of its own (``CARTSYNC_METRICS_PORT``), off the public one.

A small asyncio server in the worker's event loop, not prometheus_client's
``start_http_server``: that one serves from a thread, and the cart service's collector
reads counters the loop mutates (a dict iterated while a batch adds to it would fail).
On the loop, a scrape sees a consistent state, as the main port's route does. It
answers ``GET /metrics`` (OpenMetrics when asked for) and 404 to anything else, one
request per connection (``Connection: close``), as Prometheus scrapes.

One worker process, one registry: with ``--workers N`` each process would need a port
of its own (and prometheus_client's multiprocess mode cannot carry the collected cart
metrics nor process metrics), so ``cartsync serve`` refuses that combination.
"""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

READ_TIMEOUT_S = 5.0


async def start_metrics_server(port: int, host: str = "0.0.0.0") -> asyncio.Server:  # noqa: S104 - scraped from outside the pod
    return await asyncio.start_server(_serve, host, port)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    path = rest.partition(" ")[0].partition("?")[0]
    accept = ""
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "accept":
            accept = value.strip()
    if method in ("GET", "HEAD") and path == "/metrics":
        encoder, content_type = choose_encoder(accept)
        status, body = "200 OK", encoder(REGISTRY)
    else:
        status, content_type, body = "404 Not Found", "text/plain; charset=utf-8", b"not found\n"
    head_out = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nX-Content-Type-Options: nosniff\r\n"
        "Connection: close\r\n\r\n"
    )
    try:
        writer.write(head_out.encode("latin-1") + (b"" if method == "HEAD" else body))
        await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
