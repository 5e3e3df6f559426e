"""Footprint: Redis bytes per cart (memory delta over 10,000 carts) and a worker's RSS.

    python -m bench.footprint [--carts 10000] [--quick] [--json FILE]

Carts are written through the state store exactly as the gateway writes them (owner
key, upstream token, versioned snapshot of a real recorded 7-line cart), then the
difference in Redis ``used_memory`` is divided by their number.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import msgspec
import redis

from cartsync.carts.ports.state import Snapshot
from cartsync.carts.snapshots import digest_of
from cartsync.state import keys
from cartsync.state.redis import RedisStateStore
from cartsync.upstream.storeapi.mapping import CART_DECODER, to_cart

from .cached_read import _redis
from .cart_size import recorded_carts


async def measure(carts: int) -> dict[str, Any]:
    raw = dict(recorded_carts())["071-cart-get-final"]
    cart = to_cart(CART_DECODER.decode(raw))
    token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + "x" * 180 + "." + "y" * 43
    process, url = _redis()
    try:
        client = redis.Redis.from_url(url)
        before = int(client.info("memory")["used_memory"])
        store = RedisStateStore.from_url(url)
        for _ in range(carts):
            owner = "u_" + secrets.token_hex(16)
            cart_id = await store.claim_cart(owner, "cu_" + secrets.token_hex(12))
            await store.set_upstream_token(cart_id, token)
            epoch, version = await store.reserve_version(cart_id)
            body = msgspec.json.encode(
                msgspec.structs.replace(cart, id=cart_id, version=f"{epoch}.{version}")
            )
            await store.store_snapshot(
                cart_id, Snapshot(epoch, version, 1.0, digest_of(cart), body)
            )
        after = int(client.info("memory")["used_memory"])
        per_key = {
            "owner → cart": client.memory_usage(keys.owner(owner)) or 0,
            "upstream credentials": client.memory_usage(keys.cart_token(cart_id)) or 0,
            "snapshot (hash, cart zlib-packed)": client.memory_usage(keys.cart_snapshot(cart_id))
            or 0,
        }
        await store.aclose()
    finally:
        process.terminate()
        process.wait()
    return {
        "carts": carts,
        "bytes_per_cart": (after - before) / carts,
        "snapshot_bytes": len(body),
        "redis_mib_for_1m_carts": (after - before) / carts * 1_000_000 / 2**20,
        "per_key": per_key,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--carts", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    figures = asyncio.run(measure(500 if args.quick else args.carts))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    print(
        f"Redis memory per cart over {figures['carts']:,.0f} carts (a 7-line cart, snapshot "
        f"{figures['snapshot_bytes']:,.0f} bytes): {figures['bytes_per_cart']:,.0f} bytes; "
        f"{figures['redis_mib_for_1m_carts']:,.0f} MiB per million carts"
    )
    for name, size in figures["per_key"].items():
        print(f"  {name}: {size:,} bytes (MEMORY USAGE of one cart's key)")


if __name__ == "__main__":
    main()
