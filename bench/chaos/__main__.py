"""``python -m bench.chaos`` (``make chaos``, ``make chaos-quick``): the command line, each
mode run in turn on a fresh stack, then the report; exit status 1 when a goal is missed."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench import chaos

from .harness import SETTINGS, run_mode
from .report import report


def main() -> None:
    parser = argparse.ArgumentParser(description=(chaos.__doc__ or "").split("\n\n")[0])
    parser.add_argument("--shoppers", type=int, default=50)
    parser.add_argument("--writes", type=int, default=20)
    parser.add_argument("--mode", choices=["both", "persistent", "volatile"], default="both")
    parser.add_argument("--quick", action="store_true", help="20 shoppers x 15 writes (CI)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", help="per mode: logs, chaos.json (default: a new temp dir)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a gateway setting"
    )
    args = parser.parse_args()
    settings = {**SETTINGS, **dict(item.split("=", 1) for item in args.set)}
    count, writes = (20, 15) if args.quick else (args.shoppers, args.writes)
    root = Path(args.workdir or tempfile.mkdtemp(prefix="cartsync-chaos-"))
    modes = ["persistent", "volatile"] if args.mode == "both" else [args.mode]
    print("gateway settings:", ", ".join(f"{k}={v}" for k, v in settings.items()), flush=True)
    started = time.perf_counter()
    results = []
    for mode in modes:
        (root / mode).mkdir(parents=True)
        results.append(asyncio.run(run_mode(mode, count, writes, args.seed, root / mode, settings)))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1))
    met = report(results)
    print(f"\nwall time {time.perf_counter() - started:.0f} s; logs and chaos.json in {root}")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
