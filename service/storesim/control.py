"""The control plane under ``/__sim/``: the WooCommerce profile, latency, race, faults,
rate limits, stock, clock, tokens (orders: ``orders_control.py``).

Tests and benchmarks drive the simulator through it; it is not part of WooCommerce.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, JSONBody

from . import catalog
from .profiles import woo_profile
from .sim import Faults, Latency, RateLimit, Sim
from .wordpress import WordPress


class _Strict(msgspec.Struct, forbid_unknown_fields=True):
    pass


class LatencyIn(_Strict):
    fixed_ms: float | None = None
    jitter_ms: float | None = None
    batch_base_ms: float | None = None
    batch_per_request_ms: float | None = None
    profile: str | None = None  # "off" | "realistic"


class RaceIn(_Strict):
    enabled: bool
    window_ms: float | None = None


class FaultsIn(_Strict):
    error_rate: float = 0.0
    hang_rate: float = 0.0
    drop_rate: float = 0.0
    next_errors: int = 0
    next_hangs: int = 0
    next_drops: int = 0
    hang_seconds: float = 30.0
    when: str = "before"
    match: str = ""
    seed: int | None = None


class RateLimitIn(_Strict):
    enabled: bool
    limit: int = 25
    seconds: int = 10
    proxy_support: bool = False


class StockIn(_Strict):
    in_stock: bool | None = None  # false: out of stock whatever the level
    stock: int | None = None  # the units left (products that manage stock: the Cap)


class ProfileIn(_Strict):
    woo: str  # "8.9" | "9.9" (or "8.9.1" | "9.9.5")


class ClockIn(_Strict):
    advance_seconds: float = 0.0
    set_to: float | None = None  # an absolute unix time
    freeze: bool | None = None  # stop the clock (true) or let it run again (false)


class SignIn(_Strict):
    payload: dict[str, Any]


class TokenIn(_Strict):
    token: str


def _clock(sim: Sim) -> dict[str, Any]:
    return {"now": sim.now(), "clock_offset": sim.clock_offset, "frozen": sim.frozen_at is not None}


def sim_of(request: Request[Any, Any, Any]) -> Sim:
    """The simulator a control route acts on (the app's state)."""
    sim: Sim = request.app.state.sim
    return sim


class ControlPlane(Controller):
    path = "/__sim"
    include_in_schema = False

    @get("/state")
    async def state(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        return sim_of(request).describe()

    @put("/profile")
    async def profile(
        self, request: Request[Any, Any, Any], data: JSONBody[ProfileIn]
    ) -> dict[str, Any]:
        """Play another WooCommerce version from the next request on; sessions, orders
        and stock stay."""
        sim = sim_of(request)
        try:
            sim.profile = woo_profile(data.woo)
        except ValueError as exc:
            raise ValidationException(str(exc)) from exc
        return sim.describe()

    @get("/profile")
    async def read_profile(self, request: Request[Any, Any, Any]) -> dict[str, str]:
        sim = sim_of(request)
        return {"woo": sim.profile.name, "version": sim.profile.version}

    @get("/traceparents")
    async def traceparents(self, request: Request[Any, Any, Any]) -> list[str]:
        """The ``traceparent`` headers of the latest store requests, oldest first."""
        return list(sim_of(request).traceparents)

    @post("/reset", status_code=200)
    async def reset(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        sim = sim_of(request)
        sim.reset()
        return sim.describe()

    @put("/latency")
    async def latency(
        self, request: Request[Any, Any, Any], data: JSONBody[LatencyIn]
    ) -> dict[str, Any]:
        sim = sim_of(request)
        if data.profile == "realistic":
            sim.latency = Latency.realistic()
        elif data.profile == "off":
            sim.latency = Latency()
        changes = {
            k: v
            for k, v in msgspec.structs.asdict(data).items()
            if v is not None and k != "profile"
        }
        sim.latency = replace(sim.latency, **changes)
        return sim.describe()

    @put("/race")
    async def race(self, request: Request[Any, Any, Any], data: JSONBody[RaceIn]) -> dict[str, Any]:
        sim = sim_of(request)
        sim.race = data.enabled
        if data.window_ms is not None:
            sim.race_window_ms = data.window_ms
        return sim.describe()

    @put("/faults")
    async def faults(
        self, request: Request[Any, Any, Any], data: JSONBody[FaultsIn]
    ) -> dict[str, Any]:
        sim = sim_of(request)
        if data.when not in ("before", "after"):
            raise ValidationException("when must be 'before' or 'after'")
        sim.faults = Faults(**msgspec.structs.asdict(data))
        return sim.describe()

    @put("/rate-limit")
    async def rate_limit(
        self, request: Request[Any, Any, Any], data: JSONBody[RateLimitIn]
    ) -> dict[str, Any]:
        sim = sim_of(request)
        sim.rate_limit = RateLimit(**msgspec.structs.asdict(data))
        sim._windows.clear()
        return sim.describe()

    @get("/forwarded")
    async def forwarded(self, request: Request[Any, Any, Any]) -> dict[str, int]:
        """The client addresses the rate limiter counts requests by in its current windows,
        with their counts: with ``proxy_support`` the first ``X-Forwarded-For`` address, as
        WooCommerce's does, else the peer's. Only while the limiter is on."""
        return {client: window.count for client, window in sim_of(request)._windows.items()}

    @put("/products/{product_id:int}/stock")
    async def stock(
        self, request: Request[Any, Any, Any], product_id: FromPath[int], data: JSONBody[StockIn]
    ) -> dict[str, Any]:
        """Take a product out of stock (or back), or set the units a product that manages
        stock has left: adds and checkouts are refused (or cut) as on the real store."""
        sim = sim_of(request)
        product = catalog.PRODUCTS.get(product_id)
        if product is None:
            raise NotFoundException(f"no product {product_id}")
        if data.stock is not None:
            if product.stock is None:
                raise ValidationException(f"product {product_id} does not manage stock")
            sim.stock[product_id] = data.stock
        if data.in_stock is True:
            sim.out_of_stock.discard(product_id)
        elif data.in_stock is False:
            sim.out_of_stock.add(product_id)
        return {
            "out_of_stock": sorted(sim.out_of_stock),
            "stock": {str(k): v for k, v in sorted(sim.stock.items())},
        }

    @post("/clock", status_code=200)
    async def clock(
        self, request: Request[Any, Any, Any], data: JSONBody[ClockIn]
    ) -> dict[str, Any]:
        """Move the store's clock on (``advance_seconds``) or to ``set_to``; ``freeze``
        stops it (answers then never straddle a second) or lets it run again."""
        sim = sim_of(request)
        sim.set_clock(advance=data.advance_seconds, to=data.set_to, freeze=data.freeze)
        return _clock(sim)

    @get("/clock")
    async def read_clock(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        return _clock(sim_of(request))

    @post("/tokens", status_code=200)
    async def sign(self, request: Request[Any, Any, Any], data: JSONBody[SignIn]) -> dict[str, str]:
        return {"token": sim_of(request).signer.sign(data.payload)}

    @post("/tokens/expire", status_code=200)
    async def expire(
        self, request: Request[Any, Any, Any], data: JSONBody[TokenIn]
    ) -> dict[str, str]:
        sim = sim_of(request)
        payload = sim.signer.decode(data.token)
        if payload is None:
            raise NotFoundException("not a token of this store")
        now = int(sim.now())
        return {"token": sim.signer.sign({**payload, "exp": now - 60, "iat": now})}

    @get("/nonce")
    async def nonce(
        self, request: Request[Any, Any, Any], ticks_ago: FromQuery[int] = 0
    ) -> dict[str, str]:
        sim = sim_of(request)
        tick = sim.nonces.tick(sim.now()) - ticks_ago
        return {"nonce": sim.nonces.for_tick(tick)}

    @get("/sessions/{user_id:str}")
    async def session(
        self, request: Request[Any, Any, Any], user_id: FromPath[str]
    ) -> dict[str, Any]:
        sim = sim_of(request)
        if user_id not in sim.sessions:
            raise NotFoundException(f"no session {user_id}")
        wordpress: WordPress = request.app.state.wordpress
        site = f"{request.url.scheme}://{request.url.netloc}"
        return wordpress.renderer.cart(sim.sessions[user_id], site, inventory=sim.inventory())
