"""``cartsync serve | demo | openapi | check``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import msgspec
import uvicorn

from .settings import Settings, SettingsError, load_settings
from .tracing import TracingError
from .tracing import check as tracing_check

DEMO_ISSUER = "https://demo-shop.example"
DEMO_AUDIENCE = "cartsync-demo"
GRACEFUL_SHUTDOWN_S = 30  # after SIGTERM: requests in flight get this long to be answered


def app_from_env() -> object:
    """The ASGI app built from ``CARTSYNC_*`` (uvicorn factory for ``--workers N``), with
    the hot-read layer in front."""
    from .api.fastpath import serve_app
    from .app import create_app
    from .tracing import from_environment

    return serve_app(create_app(load_settings(), drain_on_sigterm=True, tracing=from_environment()))


def _fail(message: str, code: int = 2) -> None:
    print(f"cartsync: {message}", file=sys.stderr)
    raise SystemExit(code)


def server_options(settings: Settings) -> dict[str, object]:
    """How uvicorn serves the app, the same for one worker and for ``--workers N`` (the
    workers are started with this configuration).

    The client address: uvicorn's ProxyHeadersMiddleware replaces the peer address with
    the one ``X-Forwarded-For`` names when the peer is in ``CARTSYNC_TRUSTED_PROXIES``:
    it walks the header from the right and takes the first address that is not a
    trusted proxy (so a client cannot prepend its own choice), and honours
    ``X-Forwarded-Proto``. It reads no ``Forwarded`` (RFC 7239) header. None trusted (the
    default; uvicorn's own default would trust 127.0.0.1): the peer is the client.
    """
    trusted = settings.trusted_proxy_list
    return {
        # uvloop, with host-name lookups that never hold a stop (``event_loop.py``)
        "loop": "cartsync.event_loop:new_event_loop",
        # httptools; on a stop, a connection between requests answers its next one
        # (with Connection: close) instead of being reset (``http_protocol.py``)
        "http": "cartsync.http_protocol:DrainingHttpProtocol",
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "server_header": False,  # no Server: uvicorn (a version to look up exploits by)
        "date_header": True,
    }


def raise_open_files_limit() -> int:
    """Raise this process's soft limit on open files to the hard limit; returns it.

    Every change stream holds a socket for as long as it is open, so the soft limit
    (often 1,024) would cap a worker's streams long before its memory does (about
    20 KiB a stream, ``bench.fanout``). The hard limit is the operator's to set (``ulimit
    -Hn``, the container runtime's ``nofile``); workers started by ``--workers`` inherit
    the raised limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


def serve(args: argparse.Namespace) -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc))
        return
    if settings.embedded_state and args.workers > 1:
        _fail("--workers > 1 needs CARTSYNC_REDIS_URL: the embedded store is one process")
    if settings.metrics_port is not None and args.workers > 1:
        _fail(
            "CARTSYNC_METRICS_PORT needs one worker: each worker process has its own metrics "
            "and only one could listen on the port (prometheus_client's multiprocess mode "
            "cannot carry the cart metrics); run one worker per container and scale those"
        )
    if settings.metrics_port == args.port:
        _fail("CARTSYNC_METRICS_PORT must differ from --port")
    try:
        tracing_check()
    except TracingError as exc:
        _fail(str(exc))
    raise_open_files_limit()
    uvicorn.run(
        "cartsync.cli:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        timeout_keep_alive=65,  # longer than a load balancer's idle timeout (nginx: 60 s)
        **server_options(settings),  # type: ignore[arg-type]
    )


def _wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _fail(f"storesim exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    _fail(f"storesim did not start at {url}")


STORE_NAMES = {"storeapi": "the WooCommerce Store API", "cocart": "CoCart 4.4"}
PROBE_PATHS = {"storeapi": "/wp-json/wc/store/v1/products", "cocart": "/wp-json/cocart/v2/products"}


_ADDRESS = (
    '"first_name": "Jane", "last_name": "Doe", "address_1": "1 Main St", "city": "New York", '
    '"state": "NY", "postcode": "10001", "country": "US"'
)
_ADDRESSES = (
    f'{{"billing_address": {{{_ADDRESS}, "email": "jane@example.com"}}, '
    f'"shipping_address": {{{_ADDRESS}}}}}'
)


def demo_session(base: str, token: str, coupons: bool = True) -> str:
    """A copy-paste curl session against the demo: the seed flow of the Store API and of
    the CoCart tutorial (products, add the Beanie with Logo, the cart, customer details,
    a shipping rate and a coupon where the store has them, the checkout link)."""
    auth = '-H "Authorization: Bearer $TOKEN"'
    json = '-H "Content-Type: application/json"'
    steps = [
        ("the catalogue, compact", f'"$CARTSYNC/v1/products?per_page=5" {auth}'),
        (
            'add "Beanie with Logo" (product 10)',
            f'-X POST "$CARTSYNC/v1/cart/items" {auth} \\\n       {json} '
            """-d '{"product_id": 10, "quantity": 2}'""",
        ),
        (
            "read the cart (note the ETag; send it back as If-None-Match for a 304)",
            f'-i "$CARTSYNC/v1/cart" {auth}',
        ),
        (
            "customer details",
            f'-X PUT "$CARTSYNC/v1/cart/customer" {auth} \\\n       {json} \\\n'
            f"       -d '{_ADDRESSES}'",
        ),
    ]
    if coupons:
        steps += [
            (
                "pick a shipping rate",
                f'-X PUT "$CARTSYNC/v1/cart/shipping" {auth} \\\n       {json} '
                """-d '{"package_id": 0, "rate_id": "free_shipping:2"}'""",
            ),
            (
                'apply coupon "test" (15 % off)',
                f'-X POST "$CARTSYNC/v1/cart/coupons" {auth} \\\n       {json} '
                """-d '{"code": "test"}'""",
            ),
        ]
    steps.append(
        (
            "a single-use link that opens this cart in the shop (5 minutes)",
            f'-X POST "$CARTSYNC/v1/cart/checkout-link" {auth}',
        )
    )
    lines = [f"  export CARTSYNC={base}", f"  export TOKEN={token}", ""]
    for number, (what, arguments) in enumerate(steps, start=1):
        lines += [f"  # {number}. {what}", f'  curl -s -w "\\n" {arguments}']
    lines += ["  # a guest of your own:", '  curl -s -w "\\n" -X POST "$CARTSYNC/v1/session/guest"']
    return "\n" + "\n".join(lines) + "\n"


def demo(args: argparse.Namespace) -> None:
    """The gateway on ``--port`` with storesim (realistic latency) and the embedded store."""
    from .api.fastpath import serve_app
    from .app import create_app
    from .auth import issue_user_token
    from .tracing import from_environment

    sim_port = args.storesim_port
    storesim = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "storesim", "--port", str(sim_port), "--latency", "realistic"],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"http://127.0.0.1:{sim_port}/__sim/state", storesim)
        settings = Settings(
            upstream_url=f"http://127.0.0.1:{sim_port}",
            upstream_kind=args.store,
            jwt_secret=secrets.token_urlsafe(36),
            jwt_issuer=DEMO_ISSUER,
            jwt_audience=DEMO_AUDIENCE,
            guest_secret=secrets.token_urlsafe(36),
            log_format="console",
            environment="demo",
            demo_page=True,
        )
        token = issue_user_token(settings, "demo-user", ttl_s=24 * 3600)
        base = f"http://{args.host}:{args.port}"
        print(
            f"cartsync demo: gateway {base}, simulated store http://127.0.0.1:{sim_port} "
            f"speaking {STORE_NAMES[args.store]} (80±20 ms per call), embedded state store. "
            "A user token for 24 h:",
            demo_session(base, token, coupons=args.store == "storeapi"),
            f"The demo page (two devices of this user, a guest, the upstream calls saved): "
            f"{base}/demo/\n",
            sep="\n",
            flush=True,
        )
        uvicorn.run(
            serve_app(create_app(settings, drain_on_sigterm=True, tracing=from_environment())),
            host=args.host,
            port=args.port,
            log_level="warning",
            access_log=False,
            **server_options(settings),  # type: ignore[arg-type]
        )
    finally:
        storesim.terminate()
        storesim.wait(timeout=10)


def placeholder_settings() -> Settings:
    """Settings for building the app without serving it (the OpenAPI document)."""
    return Settings(
        upstream_url="https://shop.example",
        jwt_secret="x" * 32,
        jwt_issuer="https://shop.example",
        jwt_audience="cartsync",
        guest_secret="y" * 32,
    )


def openapi_document() -> str:
    from .app import create_app

    app = create_app(placeholder_settings())
    plain = json.loads(msgspec.json.encode(app.openapi_schema.to_schema()))
    return json.dumps(plain, indent=2, sort_keys=True) + "\n"


def openapi(args: argparse.Namespace) -> None:
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(openapi_document())
    print(f"wrote {args.output}")


async def _check(settings: Settings) -> list[str]:
    problems = []
    if settings.redis_url is not None:
        from .state.redis import RedisStateStore

        store = RedisStateStore.from_url(settings.redis_url)
        try:
            await store.ping()
        except Exception as exc:  # any failure is the answer to report
            problems.append(f"Redis at CARTSYNC_REDIS_URL is unreachable: {exc}")
        finally:
            await store.aclose()
    if settings.jwt_jwks_url is not None:
        from .auth.jwks import JwksKeys

        try:
            await asyncio.to_thread(JwksKeys(settings.jwt_jwks_url).fetch)
        except Exception as exc:  # any failure is the answer to report
            problems.append(
                f"the identity provider's keys at CARTSYNC_JWT_JWKS_URL cannot be used: "
                f"{type(exc).__name__}: {exc}"
            )
    path = PROBE_PATHS[settings.upstream_kind]
    url = settings.upstream_url.rstrip("/") + path + "?per_page=1"
    try:
        async with httpx.AsyncClient(timeout=settings.upstream_read_timeout_s) as client:
            response = await client.get(url)
        if response.status_code != 200:
            problems.append(f"the store answered {response.status_code} at {url}")
    except httpx.HTTPError as exc:
        problems.append(f"the store is unreachable at {url}: {type(exc).__name__}")
    return problems


def check(args: argparse.Namespace) -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc))
        return
    problems = asyncio.run(_check(settings))
    if problems:
        for problem in problems:
            print(f"cartsync check: {problem}", file=sys.stderr)
        raise SystemExit(1)
    state = "Redis" if settings.redis_url else "embedded (one process)"
    kind = STORE_NAMES[settings.upstream_kind]
    print(f"cartsync check: ok (store {settings.upstream_url}, {kind}, state {state})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cartsync")
    commands = parser.add_subparsers(dest="command", required=True)
    p_serve = commands.add_parser("serve", help="serve the gateway (settings from CARTSYNC_*)")
    p_serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container listens on all
    p_serve.add_argument("--port", type=int, default=8080)
    p_serve.add_argument(
        "--workers", type=int, default=int(os.environ.get("CARTSYNC_WORKERS", "1"))
    )
    p_serve.set_defaults(run=serve)
    p_demo = commands.add_parser("demo", help="gateway + simulated store + embedded state")
    p_demo.add_argument("--host", default="127.0.0.1")
    p_demo.add_argument("--port", type=int, default=8080)
    p_demo.add_argument("--storesim-port", type=int, default=8181)
    p_demo.add_argument(
        "--store",
        choices=sorted(STORE_NAMES),
        default=os.environ.get("CARTSYNC_UPSTREAM_KIND", "storeapi"),
        help="which face of the simulated store the gateway talks to",
    )
    p_demo.set_defaults(run=demo)
    p_openapi = commands.add_parser("openapi", help="write the OpenAPI document")
    p_openapi.add_argument("--output", default="openapi/cartsync.v1.json")
    p_openapi.set_defaults(run=openapi)
    p_check = commands.add_parser("check", help="check configuration and reachability")
    p_check.set_defaults(run=check)
    args = parser.parse_args(argv)
    args.run(args)
