"""Orders created per checkout under the fault mix: straight to the store against through
cartsync, on each WooCommerce profile storesim has.

    python -m bench.checkout_faults [--carts 40] [--quick]

Each shopper fills a cart (one Belt) and presses "pay" on two devices at once; each
device retries its own request until it has an answer (a connection error, a 5xx or a
timeout is retried, as an app does). Straight to the store, a retry is the same POST
/checkout; through cartsync, the same request with the same Idempotency-Key. storesim
runs with 5 % 500s, 2 % hangs (3 s, past the 2 s client timeout) and 1 % dropped
connections, striking after the change, and the session race on, 20 ms a call.
Printed: checkouts pressed, orders the store created, carts with more than one order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from .cached_read import _redis
from .tools import bench_token, free_port, gateway, gateway_env, storesim

FAULTS = {
    "error_rate": 0.05,
    "hang_rate": 0.02,
    "drop_rate": 0.01,
    "hang_seconds": 3,
    "when": "after",
    "match": "checkout",
    "seed": 7,
}
BILLING = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address_1": "1 Main St",
    "city": "Los Angeles",
    "state": "CA",
    "postcode": "90001",
    "country": "US",
    "phone": "555-0100",
}
_RETRYABLE = (503, 504, 500, 502)


async def _until_answered(send: Callable[[], Awaitable[httpx.Response]]) -> int:
    """Send until an answer that is not "try again"; the status."""
    for _ in range(40):
        try:
            answer = await send()
        except httpx.TransportError:
            await asyncio.sleep(0.2)
            continue
        retry = answer.status_code in _RETRYABLE or (
            answer.status_code == 409
            and answer.headers.get("content-type", "").startswith("application/json")
            and answer.json().get("code") == "idempotency_in_progress"
        )
        if not retry:
            return answer.status_code
        await asyncio.sleep(float(answer.headers.get("Retry-After", "0.5")))
    return 0


async def _straight(sim_base: str, n: int) -> None:
    """Fill a cart at the store and press pay twice at once, retrying as a client."""
    api = f"{sim_base}/wp-json/wc/store/v1"
    async with httpx.AsyncClient(timeout=2) as client:
        first = await client.get(f"{api}/cart")
        headers = {"Cart-Token": first.headers["Cart-Token"], "Nonce": first.headers["Nonce"]}
        await client.post(f"{api}/cart/add-item", json={"id": 11, "quantity": 1}, headers=headers)
        body = {
            "billing_address": {**BILLING, "email": f"straight-{n}@example.com"},
            "shipping_address": BILLING,
            "payment_method": "bacs",
        }

        def pay() -> Awaitable[httpx.Response]:
            return client.post(f"{api}/checkout", json=body, headers=headers)

        await asyncio.gather(_until_answered(pay), _until_answered(pay))


async def _through(base: str, n: int) -> None:
    token = bench_token(f"checkout-{n}-{time.time_ns()}")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        await _until_answered(lambda: client.post("/v1/cart/items", json={"product_id": 11}))
        address = {"billing_address": {**BILLING, "email": f"cartsync-{n}@example.com"}}
        await _until_answered(lambda: client.put("/v1/cart/customer", json=address))

        def pay(key: str) -> Callable[[], Awaitable[httpx.Response]]:
            return lambda: client.post(
                "/v1/cart/checkout",
                json={"payment_method": "bacs"},
                headers={"Idempotency-Key": key},
            )

        await asyncio.gather(
            _until_answered(pay(f"phone-{n}")), _until_answered(pay(f"laptop-{n}"))
        )


async def _orders(sim: httpx.AsyncClient, prefix: str) -> dict[str, int]:
    orders = (await sim.get("/__sim/orders")).json()["orders"]
    per_cart: dict[str, int] = {}
    for order in orders:
        email = str(order.get("billing_email", ""))
        if email.startswith(prefix) and order.get("status") != "checkout-draft":
            per_cart[email] = per_cart.get(email, 0) + 1
    return per_cart


async def run(carts: int, woo: str) -> dict[str, dict[str, int]]:
    redis_process, redis_url = _redis()
    sim_port, port = free_port(), free_port()
    env = gateway_env(
        f"http://127.0.0.1:{sim_port}",
        redis_url,
        upstream_read_timeout_s="2",
        upstream_read_retries="0",
        lock_ttl_s="4",
        reconcile_grace_s="3",
    )
    figures: dict[str, dict[str, int]] = {}
    try:
        with storesim(sim_port, "--latency", "20", "--woo", woo), gateway(port, env):
            sim_base = f"http://127.0.0.1:{sim_port}"
            async with httpx.AsyncClient(base_url=sim_base, timeout=30) as sim:
                await sim.put("/__sim/faults", json=FAULTS)
                await asyncio.gather(*(_straight(sim_base, n) for n in range(carts)))
                await asyncio.gather(
                    *(_through(f"http://127.0.0.1:{port}", n) for n in range(carts))
                )
                await sim.put("/__sim/faults", json={})
                await sim.post("/__sim/settle", params={"timeout_seconds": 30})
                for path, prefix in (("store", "straight-"), ("cartsync", "cartsync-")):
                    per_cart = await _orders(sim, prefix)
                    figures[path] = {
                        "carts": carts,
                        "checkouts_pressed": 2 * carts,
                        "orders": sum(per_cart.values()),
                        "carts_with_two_or_more": sum(1 for n in per_cart.values() if n > 1),
                        "carts_without_order": carts - len(per_cart),
                    }
    finally:
        redis_process.terminate()
        redis_process.wait()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--carts", type=int, default=40)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    carts = 4 if args.quick else args.carts
    results = {woo: asyncio.run(run(carts, woo)) for woo in ("8.9", "9.9")}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(
        f"{carts} carts, 'pay' pressed on two devices at once, each retrying until answered; "
        "storesim 20 ms, 5 % 500s, 2 % hangs, 1 % drops on checkout routes (after the "
        "change), the session race on\n"
    )
    print(
        "| WooCommerce | path | checkouts pressed | orders | carts with 2+ orders | carts without |"
    )
    print("|---|---|---|---|---|---|")
    for woo, figures in results.items():
        for path, f in figures.items():
            print(
                f"| {woo} | {path} | {f['checkouts_pressed']} | {f['orders']} "
                f"| {f['carts_with_two_or_more']} | {f['carts_without_order']} |"
            )


if __name__ == "__main__":
    main()
