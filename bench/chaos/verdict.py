"""The verdict: each shopper's acknowledged writes against its final cart (kept,
superseded, lost, doubled, as ``report.DEFINITIONS`` says), summed into one mode's
``Figures`` and the goals they are held to. Pure functions of what the run recorded."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .shoppers import Observed, Op, Shopper, learn


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


def takeovers(workdir: Path) -> int:
    return sum(
        path.read_text().count("lease taken over with a write in flight")
        for path in workdir.glob("replica-*.log")
    )


def show(found: Contents | None) -> dict[str, Any] | None:
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
                    "expected": show(expected(keep)),
                    "gateway": show(final),
                    "store": show(copy),
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
