"""The shoppers: what each one writes, and the client protocol that sends a write until it
is acknowledged (into the shopper's ledger) or refused. The ledger and ``Observed`` are
what the verdict is later drawn from, so everything a shopper is told is kept here."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..tools import bench_token

# Beanie, Belt, Sunglasses and the Hoodie's three variations (by their own ids): no
# stock limit, and six lines so that fewer adds are overwritten by a quantity set.
PRODUCTS = (10, 11, 15, 17, 18, 19)
COUPONS = ("test", "20off")

WRITE_DEADLINE_S = 180.0  # a write not settled by then is reported unsettled


@dataclass(frozen=True, slots=True)
class Op:
    """One write as a shopper means it: ``add`` (one unit), ``set`` (a line's quantity;
    0 removes the line), ``apply`` or ``remove`` (a coupon)."""

    kind: str
    product_id: int = 0
    quantity: int = 1
    key: str = ""
    code: str = ""

    def request(self) -> tuple[str, str, dict[str, Any] | None]:
        if self.kind == "add":
            return "POST", "/v1/cart/items", {"product_id": self.product_id, "quantity": 1}
        if self.kind == "set":
            return "PATCH", f"/v1/cart/items/{self.key}", {"quantity": self.quantity}
        if self.kind == "apply":
            return "POST", "/v1/cart/coupons", {"code": self.code}
        return "DELETE", f"/v1/cart/coupons/{self.code}", None


@dataclass(frozen=True, slots=True)
class Ack:
    op: Op
    at: float  # wall clock of the 2xx
    request_id: str  # the answered attempt's X-Request-ID (the replicas log it)
    replayed: bool


@dataclass
class Shopper:
    index: int
    headers: dict[str, str]
    rng: random.Random
    cart: dict[str, Any] = field(default_factory=lambda: {"items": [], "coupons": []})
    ledger: list[Ack] = field(default_factory=list)
    refusals: list[tuple[str, str, Op]] = field(default_factory=list)  # request id, code
    told_lost_at: float | None = None
    unsettled: list[Op] = field(default_factory=list)


@dataclass
class Observed:
    """What the shoppers saw, run-wide, and when the faults struck."""

    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: list[tuple[float, str, str]] = field(default_factory=list)  # id
    acks: int = 0
    redis_down: float | None = None
    redis_up: float | None = None
    outage_503: int = 0
    first_good_write: float | None = None
    events: list[tuple[float, str]] = field(default_factory=list)

    def answered(self, status: int) -> None:
        self.statuses[status] += 1
        down, up, now = self.redis_down, self.redis_up, time.time()
        if status == 503 and down is not None and down <= now and (up is None or now < up):
            self.outage_503 += 1

    def note(self, event: str) -> None:
        self.events.append((time.time(), event))
        print(f"  {time.strftime('%H:%M:%S')} {event}", flush=True)


def next_op(shopper: Shopper) -> Op:
    """60 % adds, 20 % quantity sets (0 to 4) on a line the shopper's cart shows, 20 %
    coupons (removed when the cart shows it, else applied)."""
    rng, lines = shopper.rng, shopper.cart.get("items", [])
    roll = rng.random()
    if not lines or roll < 0.6:
        return Op("add", product_id=rng.choice(PRODUCTS))
    if roll < 0.8:
        line = rng.choice(lines)
        return Op("set", line["product_id"], rng.randint(0, 4), key=line["key"])
    code = rng.choice(COUPONS)
    applied = any(c["code"] == code for c in shopper.cart.get("coupons", []))
    return Op("remove" if applied else "apply", code=code)


def learn(shopper: Shopper, status: int, payload: dict[str, Any], obs: Observed) -> None:
    """Keep the cart an answer shows; note being told cart_state_lost after the restart."""
    cart = payload if 200 <= status < 300 else payload.get("cart")
    if isinstance(cart, dict) and "items" in cart:
        shopper.cart = cart
    lost = payload.get("code") == "cart_state_lost" or any(
        e.get("code") == "cart_state_lost" for e in (cart or {}).get("errors", [])
    )
    if lost and shopper.told_lost_at is None and obs.redis_up is not None:
        shopper.told_lost_at = time.time()


def _payload(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(answer: httpx.Response) -> float:
    try:
        return min(float(answer.headers.get("Retry-After", "0.25")), 2.0)
    except ValueError:
        return 0.25


async def request(
    http: httpx.AsyncClient,
    obs: Observed,
    method: str,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> httpx.Response | None:
    """One attempt; None on a connection error (noted with the attempt's request id)."""
    try:
        answer = await http.request(method, url, json=body, headers=headers)
    except httpx.TransportError as exc:
        obs.connection_errors.append((time.time(), type(exc).__name__, headers["X-Request-ID"]))
        return None
    obs.answered(answer.status_code)
    return answer


async def read_version(
    shopper: Shopper, http: httpx.AsyncClient, obs: Observed, urls: list[str], request_id: str
) -> str:
    """Read the shopper's cart (from whichever replica answers 200); its ETag."""
    for attempt in range(int(WRITE_DEADLINE_S / 0.25)):
        headers = {**shopper.headers, "X-Request-ID": f"{request_id}-read{attempt}"}
        answer = await request(http, obs, "GET", f"{urls[attempt % 2]}/v1/cart", headers)
        if answer is not None and answer.status_code == 200:
            learn(shopper, 200, _payload(answer), obs)
            return answer.headers["ETag"]
        await asyncio.sleep(0.25)
    raise RuntimeError(f"shopper {shopper.index} could not read its cart")


async def settle(
    shopper: Shopper, n: int, op: Op, http: httpx.AsyncClient, obs: Observed, urls: list[str]
) -> None:
    """Send write ``n`` until it is acknowledged (into the ledger) or refused.

    The client protocol: a connection error or a 5xx: the same request again on the
    other replica (after ``Retry-After``, at most 2 s); ``409 idempotency_in_progress``:
    again after ``Retry-After``; ``409 cart_state_lost``: read the cart, send again
    (same key) with ``If-Match`` naming its version; ``412``: read the cart, send again
    with the new version under a new key (the 412 is the old key's final answer: the
    same key with another If-Match would be ``422 idempotency_key_reused``). A cart
    showing ``cart_state_lost`` in ``errors`` is counted (``learn``); an app would offer
    to re-add what it still shows."""
    method, path, body = op.request()
    key, if_match, target = str(uuid.uuid4()), "", (shopper.index + n) % 2
    deadline = time.monotonic() + WRITE_DEADLINE_S
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        request_id = f"s{shopper.index}-w{n}-a{attempt}"
        headers = {**shopper.headers, "Idempotency-Key": key, "X-Request-ID": request_id}
        if if_match:
            headers["If-Match"] = if_match
        sent = time.time()
        answer = await request(http, obs, method, urls[target] + path, headers, body)
        if answer is None:
            target ^= 1
            await asyncio.sleep(0.2)
            continue
        status, payload = answer.status_code, _payload(answer)
        learn(shopper, status, payload, obs)
        code = payload.get("code", "")
        if 200 <= status < 300:
            replayed = answer.headers.get("Idempotent-Replayed") == "true"
            shopper.ledger.append(Ack(op, time.time(), request_id, replayed))
            obs.acks += 1
            if obs.redis_up is not None and sent >= obs.redis_up and not obs.first_good_write:
                obs.first_good_write = time.time()
            return
        if code == "cart_state_lost" or status == 412:
            key = str(uuid.uuid4()) if status == 412 else key
            if_match = await read_version(shopper, http, obs, urls, request_id)
        elif status >= 500 or status == 429 or code == "idempotency_in_progress":
            target ^= 1 if status >= 500 else 0
            await asyncio.sleep(_retry_after(answer))
        else:
            shopper.refusals.append((request_id, code or str(status), op))
            return
    shopper.unsettled.append(op)


async def shop(
    shopper: Shopper, writes: int, http: httpx.AsyncClient, obs: Observed, urls: list[str]
) -> None:
    for n in range(writes):
        await settle(shopper, n, next_op(shopper), http, obs, urls)
        await asyncio.sleep(shopper.rng.uniform(0.0, 0.1))  # the shopper's think time


def make_shoppers(count: int, seed: int, mode: str) -> list[Shopper]:
    return [
        Shopper(
            index=i,
            headers={"Authorization": f"Bearer {bench_token(f'chaos-{mode}-{seed}-{i}')}"},
            rng=random.Random(seed * 1000 + i),  # noqa: S311 - a reproducible workload
        )
        for i in range(count)
    ]
