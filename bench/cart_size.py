"""Bytes of the mobile cart against the Store API cart, for every recorded cart.

python -m bench.cart_size
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

import msgspec

from cartsync.upstream.storeapi.mapping import CART_DECODER, to_cart

RECORDINGS = Path(__file__).resolve().parents[1] / "tests" / "fidelity" / "recordings" / "storeapi"
# CARTSYNC_RECORDINGS overrides, as for the fidelity tests.
if os.environ.get("CARTSYNC_RECORDINGS"):
    RECORDINGS = Path(os.environ["CARTSYNC_RECORDINGS"]) / "storeapi"


def recorded_carts(directory: Path = RECORDINGS) -> list[tuple[str, bytes]]:
    """(step, raw Store API cart JSON) for every recorded answer that is a full cart."""
    carts = []
    for path in sorted(directory.glob("[0-9][0-9][0-9]-*.json")):
        step = json.loads(path.read_text())
        body = (step.get("response") or {}).get("json")
        if isinstance(body, dict) and "items" in body and "totals" in body:
            carts.append((path.stem, json.dumps(body, separators=(",", ":")).encode()))
    return carts


def sizes(raw: bytes) -> tuple[int, int, int, int]:
    compact = msgspec.json.encode(
        msgspec.structs.replace(
            to_cart(CART_DECODER.decode(raw)),
            id="c_0123456789abcdef01234567",
            version="abcd1234.12",
        )
    )
    return len(raw), len(compact), len(gzip.compress(raw)), len(gzip.compress(compact))


def main() -> None:
    rows = [(name, *sizes(raw)) for name, raw in recorded_carts()]
    if "--json" in sys.argv:
        target = Path(sys.argv[sys.argv.index("--json") + 1])
        target.write_text(
            json.dumps(
                [
                    {
                        "cart": name,
                        "store_api": raw_n,
                        "compact": compact_n,
                        "store_api_gzip": raw_gz,
                        "compact_gzip": compact_gz,
                    }
                    for name, raw_n, compact_n, raw_gz, compact_gz in rows
                ],
                indent=1,
            )
        )
    print("| recorded cart | lines | Store API bytes | compact bytes | ratio | gzip ratio |")
    print("|---|---|---|---|---|---|")
    for name, raw_n, compact_n, raw_gz, compact_gz in rows:
        lines = json.loads(next(r for n, r in recorded_carts() if n == name))["items"]
        print(
            f"| {name} | {len(lines)} | {raw_n:,} | {compact_n:,} | {compact_n / raw_n:.2f} "
            f"| {compact_gz / raw_gz:.2f} |"
        )
    total_raw = sum(r[1] for r in rows)
    total_compact = sum(r[2] for r in rows)
    worst = max(r[2] / r[1] for r in rows)
    print(
        f"\n{len(rows)} carts: compact/Store API = {total_compact / total_raw:.3f} overall, "
        f"worst {worst:.3f}"
    )


if __name__ == "__main__":
    main()
