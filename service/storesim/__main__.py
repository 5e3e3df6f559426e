"""``python -m storesim --port N [--woo 8.9|9.9]``: serve the simulated store, Store API and
CoCart faces, as WooCommerce 8.9.1 (the default) or 9.9.5 (no latency unless asked)."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from .app import create_app
from .profiles import PROFILES, woo_profile
from .sim import Latency, RateLimit, SimConfig


def _latency(text: str) -> Latency:
    """``off``, ``realistic``, or ``FIXED[:JITTER[:BATCH_BASE[:PER_REQUEST]]]`` in ms."""
    if text == "off":
        return Latency()
    if text == "realistic":
        return Latency.realistic()
    try:
        numbers = [float(x) for x in text.split(":")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad latency {text!r}") from exc
    numbers += [0.0] * (4 - len(numbers))
    return Latency(*numbers[:4])


def _woo(text: str) -> str:
    try:
        return woo_profile(text).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="storesim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8181)
    parser.add_argument(
        "--woo",
        type=_woo,
        default="8.9",
        help=f"the WooCommerce version to play: {' or '.join(PROFILES)} (default 8.9)",
    )
    parser.add_argument(
        "--latency",
        type=_latency,
        default=Latency(),
        help="off (default), realistic (80±20 ms; batch 60+15/request), "
        "or FIXED:JITTER:BATCH_BASE:PER_REQUEST in ms",
    )
    parser.add_argument(
        "--no-race",
        action="store_true",
        help="serialise requests per session (the real store does not)",
    )
    parser.add_argument(
        "--race-window-ms",
        type=float,
        default=5.0,
        help="minimum time between reading and writing a session on writes",
    )
    parser.add_argument(
        "--rate-limit",
        metavar="LIMIT/SECONDS",
        default=None,
        help="enable WooCommerce's rate limiting, e.g. 25/10",
    )
    parser.add_argument("--secret", default="", help="token/nonce secret (random by default)")
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> SimConfig:
    rate_limit = RateLimit()
    if args.rate_limit:
        limit, _, seconds = args.rate_limit.partition("/")
        rate_limit = RateLimit(True, int(limit), int(seconds or 10))
    return SimConfig(
        latency=args.latency,
        race=not args.no_race,
        race_window_ms=args.race_window_ms,
        rate_limit=rate_limit,
        secret=args.secret,
        woo=args.woo,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    app = create_app(config_from(args))
    base = f"http://{args.host}:{args.port}/wp-json"
    version = woo_profile(args.woo).version
    print(
        f"storesim (WooCommerce {version}): {base}/wc/store/v1/ and {base}/cocart/v2/",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
