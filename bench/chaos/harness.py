"""One mode from start to end: the local stack (Redis, storesim, two replicas) started
with the multi-replica tests' timeouts, the shoppers and the fault schedule run against
it, the final carts and the store's own copies read, the stack stopped, the figures kept."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from deploy.local.stack import QUICK_FAILOVER, Stack

from cartsync.state import keys

from ..tools import BENCH_SECRET
from .faults import FAULTS, chaos
from .report import record
from .shoppers import Observed, Shopper, make_shoppers, shop
from .verdict import Contents, Figures, figures

# The timeouts of the multi-replica tests (``deploy.local.stack.QUICK_FAILOVER``);
# ``--set NAME=VALUE`` changes one (``--set lock_ttl_s=30``).
SETTINGS = QUICK_FAILOVER


async def final_carts(
    shoppers: list[Shopper], http: httpx.AsyncClient, urls: list[str]
) -> list[dict[str, Any]]:
    """Each shopper's cart through the gateway (faults off), alternating replicas."""
    carts = []
    for shopper in shoppers:
        answer = await http.get(f"{urls[shopper.index % 2]}/v1/cart", headers=shopper.headers)
        answer.raise_for_status()
        carts.append(answer.json())
    return carts


async def store_copies(
    stack: Stack, carts: list[dict[str, Any]], http: httpx.AsyncClient
) -> list[Contents | None]:
    """The store's own copy of each cart, read with the Cart-Token the state holds."""
    state = aioredis.Redis.from_url(stack.redis_url, decode_responses=True)
    copies: list[Contents | None] = []
    try:
        for cart in carts:
            token = await state.get(keys.cart_token(cart["id"]))
            if token is None:
                copies.append(None)
                continue
            answer = await http.get(
                f"{stack.storesim_url}/wp-json/wc/store/v1/cart", headers={"Cart-Token": str(token)}
            )
            body = answer.json()
            items = {i["id"]: i["quantity"] for i in body["items"]}
            copies.append((items, {c["code"] for c in body["coupons"]}))
    finally:
        await state.aclose()
    return copies


async def run_mode(
    mode: str, count: int, writes: int, seed: int, workdir: Path, settings: dict[str, str]
) -> Figures:
    stack = Stack(
        replicas=2,
        latency="realistic",
        settings=settings,
        workdir=workdir,
        jwt_secret=BENCH_SECRET,
        jwt_issuer="https://bench.example",
        jwt_audience="bench",
        guest_secret=BENCH_SECRET,
        redis_persistence=mode == "persistent",
    )
    print(f"{mode}: {count} shoppers x {writes} writes; logs in {workdir}", flush=True)
    await asyncio.to_thread(stack.start)
    started = time.perf_counter()
    try:
        limits = httpx.Limits(max_connections=4 * count, max_keepalive_connections=4 * count)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            sim = f"{stack.storesim_url}/__sim"
            (await http.put(f"{sim}/race", json={"enabled": True})).raise_for_status()
            faults = {**FAULTS, "when": "after", "seed": seed}
            (await http.put(f"{sim}/faults", json=faults)).raise_for_status()
            shoppers, obs, done = make_shoppers(count, seed, mode), Observed(), asyncio.Event()
            urls = list(stack.replica_urls)
            faulting = asyncio.create_task(chaos(stack, obs, count * writes, done))
            await asyncio.gather(*(shop(s, writes, http, obs, urls) for s in shoppers))
            done.set()
            await faulting
            obs.note("every write settled; faults off")
            (await http.put(f"{sim}/faults", json={})).raise_for_status()
            wall_s = time.perf_counter() - started
            carts = await final_carts(shoppers, http, urls)
            copies = await store_copies(stack, carts, http)
            sim_state = (await http.get(f"{sim}/state")).json()
    finally:
        await asyncio.to_thread(stack.stop)
    finals = list(zip(carts, copies, strict=True))
    result = figures(mode, shoppers, obs, finals, sim_state, workdir, wall_s)
    await asyncio.to_thread(
        (workdir / "chaos.json").write_text, record(result, obs, shoppers, carts)
    )
    return result
