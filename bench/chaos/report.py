"""What a run prints and keeps: the table of both modes, each goal met or missed with the
first misses, the definitions of the figures, and ``chaos.json`` with every ledger."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from .shoppers import Observed, Shopper
from .verdict import Figures, contents, show

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
                    "final": show(contents(cart)),
                    "ledger": [[a.request_id, a.at, a.replayed, asdict(a.op)] for a in s.ledger],
                    "refusals": [[rid, code, asdict(op)] for rid, code, op in s.refusals],
                    "told_lost_at": s.told_lost_at,
                }
                for s, cart in zip(shoppers, carts, strict=True)
            ],
        },
        indent=1,
    )


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
