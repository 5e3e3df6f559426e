"""The performance goals (issue 15), each with the figure one ``make bench`` run measured.

    python -m bench.goals [bench/results/results.json]

``bench.run_all`` prints this table at the end of a run and writes it to
``results.md``; a goal whose figure the run does not hold says "not measured".
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Goal:
    name: str
    figure: Callable[[dict[str, Any]], float]  # KeyError: not in this run
    limit: float | None  # None: a figure the issue asks to measure, with no limit
    at_least: bool = False  # the figure must be >= the limit (else <=)
    unit: str = ""


def _read_at(results: dict[str, Any], path: str, connections: int, key: str) -> float:
    rows = results["cached_read"]["rows"][path]
    return float(next(row[key] for row in rows if row["connections"] == connections))


def _read_ratio(baseline: str, key: str = "rps") -> Callable[[dict[str, Any]], float]:
    def figure(results: dict[str, Any]) -> float:
        return _read_at(results, "read_200", 64, key) / _read_at(results, baseline, 64, key)

    return figure


def _burst_cpu_ms(results: dict[str, Any]) -> float:
    row = next(r for r in results["write_bursts"] if r["path"] == "cartsync" and r["n"] == 25)
    return float(row["cpu_ms_per_op"])


GOALS = (
    Goal(
        "write: added p50 over the store",
        lambda r: r["added_latency"]["added_p50"],
        3.0,
        False,
        " ms",
    ),
    Goal(
        "write: gateway CPU a single write",
        lambda r: r["added_latency"]["gateway_cpu_ms_per_write"],
        2.0,
        False,
        " ms",
    ),
    Goal("write burst N=25: gateway CPU an operation", _burst_cpu_ms, 1.0, False, " ms"),
    Goal(
        "write: gateway CPU a write, 32 shoppers writing at once (each their own cart)",
        lambda r: r["added_latency"]["busy_cpu_ms_per_write"],
        None,
        unit=" ms",
    ),
    Goal(
        "write: CPU the store client spends waiting 80 ms on the store (in the above)",
        lambda r: r["wait_cost"]["waiting_80ms_cpu_us"] / 1000,
        None,
        unit=" ms",
    ),
    Goal("cached read (200) at 64 conn., x bare Litestar", _read_ratio("bare"), 1.0, True, "x"),
    Goal("cached read (200) at 64 conn., x raw ASGI", _read_ratio("raw_asgi"), 0.4, True, "x"),
    Goal(
        "cached read p99 at 64 conn., x bare's p99", _read_ratio("bare", "p99_ms"), 1.2, False, "x"
    ),
    Goal("fan-out: streams open of 10,000", lambda r: r["fanout"]["streams_open"], 10_000, True),
    Goal(
        "fan-out: every device got each change",
        lambda r: r["fanout"]["delivered_share"],
        1.0,
        True,
    ),
    Goal("fan-out: event p99 after the ack", lambda r: r["fanout"]["p99_ms"], 50.0, False, " ms"),
    Goal(
        "fan-out: gateway RSS with 10,000 streams",
        lambda r: r["fanout"]["rss_mib"],
        300.0,
        False,
        " MiB",
    ),
    Goal(
        "Redis: bytes a 7-line cart",
        lambda r: r["footprint"]["bytes_per_cart"],
        4096.0,
        False,
        " B",
    ),
)


def rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(goal, figure, verdict) for each goal."""
    out = []
    for goal in GOALS:
        sign = ">=" if goal.at_least else "<="
        wanted = (
            goal.name if goal.limit is None else f"{goal.name} {sign} {goal.limit:g}{goal.unit}"
        )
        try:
            value = goal.figure(results)
        except (KeyError, StopIteration, TypeError):
            out.append((wanted, "not measured", "-"))
            continue
        shown = f"{value:,.2f}{goal.unit}" if abs(value) < 100 else f"{value:,.0f}{goal.unit}"
        if goal.limit is None:
            out.append((wanted, shown, "measured"))
            continue
        met = value >= goal.limit if goal.at_least else value <= goal.limit
        out.append((wanted, shown, "met" if met else "MISSED"))
    return out


def table(results: dict[str, Any]) -> str:
    lines = ["| goal | measured | |", "|---|---|---|"]
    lines += [f"| {goal} | {figure} | {verdict} |" for goal, figure, verdict in rows(results)]
    if results.get("quick"):
        lines.append("\n(--quick: these figures mean nothing)")
    return "\n".join(lines)


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/results.json")
    print(table(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
