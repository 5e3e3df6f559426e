"""CPU of one store call, by HTTP client: what the store client's transport change bought.

    python -m bench.store_client [--calls 300] [--rounds 3] [--quick] [--json FILE]

The same add-item to storesim (answering at once), in this process on uvloop (the
gateway's loop), interleaved round by round so drift hits each alike:

- ``httpx.AsyncClient``: what cartsync sent through before (the baseline);
- httpx's own transport (httpcore, h11, anyio) called directly, no client around it;
- cartsync's ``StoreClient`` through httpx's interface over aiohttp (its way when
  tracing is on: the instrumentation wraps an httpx transport);
- cartsync's ``StoreClient`` as it runs otherwise: straight to aiohttp, no httpx
  request or response objects (``cartsync/upstream/_aiohttp.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import httpx
import uvloop

from cartsync.upstream._aiohttp import AiohttpTransport
from cartsync.upstream._http import StoreClient, StoreClientSettings

from .tools import cpu_us_each, free_port, storesim

BODY = {"id": 15, "quantity": 1}


async def _round(base: str, headers: dict[str, str], calls: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=base) as client:
        figures["httpx_client_us"] = await cpu_us_each(
            calls, lambda: client.post("/cart/add-item", json=BODY, headers=headers), warmup=20
        )
    url = httpx.URL(f"{base}/cart/add-item")
    timeout = httpx.Timeout(15.0, connect=3.0).as_dict()
    async with httpx.AsyncHTTPTransport() as transport:

        async def direct() -> httpx.Response:
            request = httpx.Request(
                "POST", url, json=BODY, headers=headers, extensions={"timeout": timeout}
            )
            response = await transport.handle_async_request(request)
            await response.aread()
            return response

        figures["httpcore_transport_us"] = await cpu_us_each(calls, direct, warmup=20)
    for name, transport in (
        ("store_client_httpx_us", AiohttpTransport(100)),
        ("store_client_us", None),
    ):
        store = StoreClient(base, StoreClientSettings(), transport)
        try:
            figures[name] = await cpu_us_each(
                calls,
                lambda store=store: store.send(  # type: ignore[misc]
                    "POST", "/cart/add-item", json=BODY, headers=headers
                ),
                warmup=20,
            )
        finally:
            await store.aclose()
    return figures


async def measure(calls: int, rounds: int) -> dict[str, float]:
    port = free_port()
    with storesim(port):
        base = f"http://127.0.0.1:{port}/wp-json/wc/store/v1"
        async with httpx.AsyncClient() as client:
            first = await client.get(f"{base}/cart")
        headers = {"Cart-Token": first.headers["Cart-Token"], "Nonce": first.headers["Nonce"]}
        runs = [await _round(base, headers, calls) for _ in range(rounds)]
    figures = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    baseline = figures["httpx_client_us"]
    return {
        "calls": calls,
        "rounds": rounds,
        **figures,
        "httpcore_transport_ratio": figures["httpcore_transport_us"] / baseline,
        "store_client_httpx_ratio": figures["store_client_httpx_us"] / baseline,
        "store_client_ratio": figures["store_client_us"] / baseline,
        "saved_us": baseline - figures["store_client_us"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    calls, rounds = (5, 1) if args.quick else (args.calls, args.rounds)
    figures = uvloop.run(measure(calls, rounds))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    print(f"CPU of one add-item to storesim, {calls} calls, median of {rounds} rounds:\n")
    print("| client | CPU µs a call | × httpx.AsyncClient |\n|---|---|---|")
    print(f"| `httpx.AsyncClient` (before) | {figures['httpx_client_us']:,.0f} | 1.00 |")
    print(
        f"| httpx's transport, no client | {figures['httpcore_transport_us']:,.0f} |"
        f" {figures['httpcore_transport_ratio']:.2f} |"
    )
    print(
        f"| `StoreClient`, httpx's interface over aiohttp (tracing on) |"
        f" {figures['store_client_httpx_us']:,.0f} | {figures['store_client_httpx_ratio']:.2f} |"
    )
    print(
        f"| `StoreClient`, straight to aiohttp (as it runs) | {figures['store_client_us']:,.0f} |"
        f" {figures['store_client_ratio']:.2f} |"
    )
    print(f"\nsaved a store call: {figures['saved_us']:,.0f} µs of CPU")


if __name__ == "__main__":
    main()
