"""``make chaos``: shoppers write through two replicas while Redis, the replicas and the
store fail under them; every acknowledged write is then looked for in the final carts.

    python -m bench.chaos [--shoppers 50] [--writes 20] [--mode both|persistent|volatile]
                          [--quick] [--seed 11] [--workdir DIR] [--json FILE]
                          [--set NAME=VALUE ...]   (a gateway setting: lock_ttl_s=30)

Each mode runs the local stack (``deploy/local/stack.py``): one redis-server; storesim as
a real server with its realistic latency (80±20 ms a call, a batch 60 + 15 ms a
sub-request), the session race on, and on every store route 5 % 500s, 2 % hangs of 3 s
and 1 % dropped connections, all striking after the cart changed; two replicas
(``python -m cartsync serve``, one worker each). Every shopper is a user of its own
(its own JWT) making its writes one after the other: adds of one unit, quantity sets on
a line its cart shows, coupons applied and removed, each with its own Idempotency-Key
and sent again (same key) until it is answered 2xx (acknowledged: into the shopper's
ledger) or refused with a 4xx. Writes alternate between the replicas; a connection
error or a 5xx sends the retry to the other one. The client protocol after a loss is
in ``settle``.

As the acknowledged writes pass 20 %, 45 % and 70 % of all: Redis is killed (SIGKILL),
left down ``OUTAGE_S`` and started again; replica 1 is killed (SIGKILL) and restarted;
replica 2 is told to stop (SIGTERM) and restarted once it has exited. ``persistent``:
Redis with ``--appendonly yes --appendfsync everysec``, restarted on the same data
directory; ``volatile``: no persistence, so it comes back empty. At the end, faults
off, each shopper reads its cart through the gateway, and the store's own copy is read
with the cart's Cart-Token. The figures are defined in ``DEFINITIONS`` (printed with
them). Exit status 1 when a goal is missed. The work directory keeps, per mode, the
logs of every process and ``chaos.json`` (figures, events, every ledger): attempts are
sent with ``X-Request-ID: s<shopper>-w<write>-a<attempt>``, which the replicas log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from deploy.local.stack import Stack

from cartsync.state import keys

from .tools import BENCH_SECRET, bench_token

# Beanie, Belt, Sunglasses and the Hoodie's three variations (by their own ids): no
# stock limit, and six lines so that fewer adds are overwritten by a quantity set.
PRODUCTS = (10, 11, 15, 17, 18, 19)
COUPONS = ("test", "20off")
OUTAGE_S = 3.0
WRITE_DEADLINE_S = 180.0  # a write not settled by then is reported unsettled
# The timeouts of the multi-replica tests (tests/replicas/conftest.py): an upstream
# call gives up after 2 s, a lease lives 4 s (production: 30), a lost answer is resent
# after 3 s; ``--set NAME=VALUE`` changes one (``--set lock_ttl_s=30``).
SETTINGS = {
    "upstream_read_timeout_s": "2",
    "upstream_read_retries": "1",
    "lock_ttl_s": "4",
    "reconcile_grace_s": "3",
    "write_timeout_s": "20",
    "write_rate_limit_per_minute": "100000",
    "rate_limit_per_minute": "100000",
}
FAULTS = {"error_rate": 0.05, "hang_rate": 0.02, "drop_rate": 0.01, "hang_seconds": 3.0}
DEFINITIONS = """\
acknowledged: writes answered 2xx. A shopper sends one write at a time, so its ledger
  holds them in acknowledgement order.
must be kept: with persistence, every acknowledged write; without it, those acknowledged
  after Redis answered again (earlier ones went with the wiped state).
expected cart: the must-be-kept writes applied in ledger order to an empty cart (adds of
  1 unit are relative, quantity sets absolute, 0 removes the line; a coupon is on when
  its last write applied it, unless the cart had no line since: the store drops coupons
  from a cart with no lines).
kept: must-be-kept writes whose effect is in the owner's final cart (GET /v1/cart
  through a replica, faults off). Per line, its live writes (the last quantity set and
  the adds after it) are kept when it has the expected quantity; per coupon, its last
  write, when the coupon is on or off as expected.
superseded: must-be-kept writes that a later set of the same line, or a later write of
  the same coupon, overwrote: no final cart can show them.
lost: must-be-kept writes whose effect is missing: the units a line is short of the
  expected quantity (the set as well when more are missing than its adds), a coupon
  on or off against the expected cart.
doubled: effects present more times than acknowledged: units beyond a line's expected
  quantity (an add applied twice, or applied though it was refused), a coupon on that
  no acknowledged write touched.
5xx seen: 5xx answers to the shoppers (writes and the protocol's reads); connection
  errors are counted apart. 503 in outage: 503s received between Redis' SIGKILL and
  its first PONG after the restart.
first good write: seconds from Redis answering again to the first 2xx to a write sent
  after that.
carts lost: shoppers with a write acknowledged before Redis was killed, without
  persistence (with it, none). flagged: shoppers told cart_state_lost after Redis came
  back (a 409 of that code, or the code in a cart's errors, the final read's included).
gateway != store: final carts whose lines or coupons differ from the store's own copy.
unsettled: writes with no definitive answer within WRITE_DEADLINE_S.
takeovers: replica log lines 'lease taken over with a write in flight'."""


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


@dataclass
class Tally:
    acknowledged: int = 0
    must_keep: int = 0
    kept: int = 0
    superseded: int = 0
    lost: int = 0
    doubled: int = 0

    def add(self, other: Tally) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


@dataclass
class Figures:
    mode: str
    writes: int
    tally: Tally
    refused: dict[str, int]
    statuses: dict[int, int]
    connection_errors: int
    outage_503: int
    first_good_write_s: float | None
    carts_lost: list[int]
    carts_flagged: list[int]
    store_mismatch: list[int]
    unsettled: int
    takeovers: int
    faults_injected: dict[str, int]
    wall_s: float
    misses: list[dict[str, Any]]

    def goals(self) -> list[tuple[str, bool]]:
        if self.mode == "persistent":
            lost = ("0 lost", not self.tally.lost)
            flags = ("no cart flagged lost (none was)", not self.carts_flagged)
        else:
            lost = ("0 acknowledged-after-recovery lost", not self.tally.lost)
            unflagged = set(self.carts_lost) - set(self.carts_flagged)
            flags = ("every cart whose state was lost flagged", not unflagged)
        return [
            lost,
            ("0 doubled", not self.tally.doubled),
            flags,
            ("every write settled", not self.unsettled),
            ("gateway carts = the store's", not self.store_mismatch),
        ]


# -- the shoppers -----------------------------------------------------------------------


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


# -- the faults -------------------------------------------------------------------------


async def progress(obs: Observed, acks: float, done: asyncio.Event) -> None:
    """Until ``acks`` writes were acknowledged; the run is void if the shoppers finish
    first (the fault would not strike mid-run)."""
    while obs.acks < acks:
        if done.is_set():
            raise RuntimeError(f"the shoppers finished before {acks:.0f} acknowledged writes")
        await asyncio.sleep(0.05)


async def chaos(stack: Stack, obs: Observed, total: int, done: asyncio.Event) -> None:
    """Redis killed and restarted; replica 1 killed, replica 2 stopped; both restarted."""
    await progress(obs, total * 0.20, done)
    obs.note("redis-server SIGKILL")
    obs.redis_down = time.time()
    await asyncio.to_thread(stack.send_signal, "redis", signal.SIGKILL)
    await asyncio.sleep(OUTAGE_S)
    await asyncio.to_thread(stack.restart, "redis")
    obs.redis_up = time.time()
    obs.note("redis-server answers again")
    await progress(obs, total * 0.45, done)
    obs.note("replica-1 SIGKILL")
    await asyncio.to_thread(stack.send_signal, "replica-1", signal.SIGKILL)
    await asyncio.to_thread(stack.restart, "replica-1")
    obs.note("replica-1 serves again")
    await progress(obs, total * 0.70, done)
    obs.note("replica-2 SIGTERM")
    await asyncio.to_thread(stack.send_signal, "replica-2", signal.SIGTERM)
    obs.note("replica-2 exited")
    await asyncio.to_thread(stack.restart, "replica-2")
    obs.note("replica-2 serves again")


# -- the figures ------------------------------------------------------------------------

Contents = tuple[dict[int, int], set[str]]  # product id → quantity, coupon codes


def contents(cart: dict[str, Any]) -> Contents:
    items: Counter[int] = Counter()
    for line in cart.get("items", []):
        items[line["product_id"]] += line["quantity"]
    return dict(items), {c["code"] for c in cart.get("coupons", [])}


def expected(ops: list[Op]) -> Contents:
    """The writes applied in order to an empty cart, with the one store rule that
    touches them: a cart with no lines keeps no coupon (WooCommerce drops them)."""
    items: dict[int, int] = {}
    coupons: set[str] = set()
    for op in ops:
        if op.kind == "add":
            items[op.product_id] = items.get(op.product_id, 0) + op.quantity
        elif op.kind == "set" and op.quantity == 0:
            items.pop(op.product_id, None)
        elif op.kind == "set":
            items[op.product_id] = op.quantity
        elif op.kind == "apply":
            coupons.add(op.code)
        else:
            coupons.discard(op.code)
        if not items:
            coupons.clear()
    return items, coupons


def tally(ops: list[Op], final: Contents) -> Tally:
    """Kept, superseded, lost and doubled among ``ops``, as ``DEFINITIONS`` says."""
    items, coupons = dict(final[0]), set(final[1])
    result = Tally(must_keep=len(ops))
    for product_id in {op.product_id for op in ops if op.kind in ("add", "set")}:
        line = [op for op in ops if op.kind in ("add", "set") and op.product_id == product_id]
        sets = [i for i, op in enumerate(line) if op.kind == "set"]
        live = line[sets[-1] :] if sets else line
        adds = sum(1 for op in live if op.kind == "add")
        want = (live[0].quantity if sets else 0) + adds
        have = items.pop(product_id, 0)
        short = max(0, want - have)
        lost = min(short, adds) + (1 if sets and short > adds else 0)
        result.superseded += len(line) - len(live)
        result.lost += lost
        result.kept += len(live) - lost
        result.doubled += max(0, have - want)
    result.doubled += sum(items.values())  # lines no acknowledged write asked for
    wanted = expected(ops)[1]
    for code in {op.code for op in ops if op.kind in ("apply", "remove")}:
        result.superseded += sum(1 for op in ops if op.code == code) - 1
        if (code in coupons) == (code in wanted):
            result.kept += 1
        else:
            result.lost += 1
        coupons.discard(code)
    result.doubled += len(coupons)  # coupons no acknowledged write touched
    return result


def must_keep(shopper: Shopper, obs: Observed, persistent: bool) -> list[Op]:
    up = obs.redis_up or 0.0
    return [ack.op for ack in shopper.ledger if persistent or ack.at >= up]


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


def takeovers(workdir: Path) -> int:
    return sum(
        path.read_text().count("lease taken over with a write in flight")
        for path in workdir.glob("replica-*.log")
    )


def _show(found: Contents | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {"items": dict(sorted(found[0].items())), "coupons": sorted(found[1])}


def figures(
    mode: str,
    shoppers: list[Shopper],
    obs: Observed,
    finals: list[tuple[dict[str, Any], Contents | None]],
    sim_state: dict[str, Any],
    workdir: Path,
    wall_s: float,
) -> Figures:
    persistent, total, misses = mode == "persistent", Tally(), []
    for shopper, (cart, copy) in zip(shoppers, finals, strict=True):
        learn(shopper, 200, cart, obs)
        keep, final = must_keep(shopper, obs, persistent), contents(cart)
        mine = tally(keep, final)
        mine.acknowledged = len(shopper.ledger)
        total.add(mine)
        if mine.lost or mine.doubled or copy != final:
            misses.append(
                {
                    "shopper": shopper.index,
                    "cart": cart["id"],
                    "expected": _show(expected(keep)),
                    "gateway": _show(final),
                    "store": _show(copy),
                    **asdict(mine),
                }
            )
    down, up, good = obs.redis_down or 0.0, obs.redis_up or 0.0, obs.first_good_write
    return Figures(
        mode=mode,
        writes=sum(len(s.ledger) + len(s.refusals) + len(s.unsettled) for s in shoppers),
        tally=total,
        refused=dict(Counter(code for s in shoppers for _, code, _ in s.refusals)),
        statuses=dict(obs.statuses),
        connection_errors=len(obs.connection_errors),
        outage_503=obs.outage_503,
        first_good_write_s=good - up if good else None,
        carts_lost=[
            s.index for s in shoppers if not persistent and any(a.at < down for a in s.ledger)
        ],
        carts_flagged=[s.index for s in shoppers if s.told_lost_at is not None],
        store_mismatch=[
            s.index
            for s, (cart, copy) in zip(shoppers, finals, strict=True)
            if copy != contents(cart)
        ],
        unsettled=sum(len(s.unsettled) for s in shoppers),
        takeovers=takeovers(workdir),
        faults_injected=sim_state["counters"]["faults_injected"],
        wall_s=wall_s,
        misses=misses,
    )


def record(result: Figures, obs: Observed, shoppers: list[Shopper], carts: list[Any]) -> str:
    """``chaos.json``: the figures, the events, every ledger and refusal, each final cart."""
    return json.dumps(
        {
            "figures": asdict(result),
            "events": obs.events,
            "redis": [obs.redis_down, obs.redis_up],
            "connection_errors": obs.connection_errors,
            "shoppers": [
                {
                    "cart": cart["id"],
                    "final": _show(contents(cart)),
                    "ledger": [[a.request_id, a.at, a.replayed, asdict(a.op)] for a in s.ledger],
                    "refusals": [[rid, code, asdict(op)] for rid, code, op in s.refusals],
                    "told_lost_at": s.told_lost_at,
                }
                for s, cart in zip(shoppers, carts, strict=True)
            ],
        },
        indent=1,
    )


# -- a mode, both modes -----------------------------------------------------------------


def make_shoppers(count: int, seed: int, mode: str) -> list[Shopper]:
    return [
        Shopper(
            index=i,
            headers={"Authorization": f"Bearer {bench_token(f'chaos-{mode}-{seed}-{i}')}"},
            rng=random.Random(seed * 1000 + i),  # noqa: S311 - a reproducible workload
        )
        for i in range(count)
    ]


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


def table(results: list[Figures]) -> str:
    def five_xx(f: Figures) -> str:
        by = {s: n for s, n in sorted(f.statuses.items()) if s >= 500}
        return (
            f"{sum(by.values())} ({', '.join(f'{s}: {n}' for s, n in by.items())})" if by else "0"
        )

    def first_good(f: Figures) -> str:
        return "none" if f.first_good_write_s is None else f"{f.first_good_write_s:.1f}"

    rows: list[tuple[str, Callable[[Figures], object]]] = [
        ("writes", lambda f: f.writes),
        ("acknowledged", lambda f: f.tally.acknowledged),
        ("must be kept", lambda f: f.tally.must_keep),
        ("kept", lambda f: f.tally.kept),
        ("superseded", lambda f: f.tally.superseded),
        ("**lost**", lambda f: f.tally.lost),
        ("**doubled**", lambda f: f.tally.doubled),
        (
            "refused (4xx)",
            lambda f: ", ".join(f"{c} {n}" for c, n in sorted(f.refused.items())) or 0,
        ),
        ("5xx seen", five_xx),
        ("connection errors", lambda f: f.connection_errors),
        ("503 during the Redis outage", lambda f: f.outage_503),
        ("s from Redis back to the first good write", first_good),
        ("carts whose state was lost", lambda f: len(f.carts_lost)),
        ("carts flagged cart_state_lost", lambda f: len(f.carts_flagged)),
        ("gateway cart != store's", lambda f: len(f.store_mismatch)),
        ("unsettled writes", lambda f: f.unsettled),
        ("lease takeovers", lambda f: f.takeovers),
        ("store faults", lambda f: ", ".join(f"{k} {n}" for k, n in f.faults_injected.items())),
        ("wall s (first write to last settled)", lambda f: f"{f.wall_s:.0f}"),
    ]
    head = [
        "| figure | " + " | ".join(f.mode for f in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    body = [
        f"| {name} | " + " | ".join(str(cell(f)) for f in results) + " |" for name, cell in rows
    ]
    return "\n".join(head + body)


def report(results: list[Figures]) -> bool:
    """Print the table, each goal and the misses; True when every goal is met."""
    print(f"\n{table(results)}\n")
    met = True
    for result in results:
        for goal, ok in result.goals():
            met &= ok
            print(f"{result.mode}: {goal}: {'met' if ok else 'MISSED'}")
        for miss in result.misses[:10]:
            print(f"{result.mode}: miss {json.dumps(miss)}")
    print(f"\n{DEFINITIONS}")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
