"""``make bench``: every scenario, each beside its baseline, into one results folder.

    python -m bench.run_all [--quick] [--out bench/results]

Prints each scenario's ``goal:`` lines (the figure beside the goal, met or missed) as
it finishes. Writes ``results.json`` (every figure), ``results.md`` (the tables, as the
scenarios print them) and one PNG chart per scenario group. ``--quick`` runs every scenario for
about a second so CI keeps the scripts working; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import goals, scale_model
from .profile import py_spy_binary

SCENARIOS: list[tuple[str, str, list[str], list[str]]] = [
    # (name, module, full arguments, quick arguments)
    ("cart_size", "bench.cart_size", [], []),
    ("cached_read", "bench.cached_read", ["--seconds", "5", "--rounds", "3"], ["--quick"]),
    ("added_latency", "bench.added_latency", ["--writes", "100"], ["--quick"]),
    ("wait_cost", "bench.wait_cost", [], ["--quick"]),
    ("store_client", "bench.store_client", [], ["--quick"]),
    ("write_bursts", "bench.write_bursts", [], ["--quick"]),
    ("checkout_faults", "bench.checkout_faults", ["--carts", "40"], ["--quick"]),
    ("shopping", "bench.shopping", ["--shoppers", "200"], ["--quick"]),
    ("change_feed", "bench.change_feed", [], ["--quick"]),
    ("fanout", "bench.fanout", [], ["--quick"]),
    ("footprint", "bench.footprint", [], ["--quick"]),
    ("storesim_speed", "bench.storesim_speed", [], ["--quick"]),
    # The same code on both sides: the noise floor of a side-by-side comparison.
    ("versus_self", "bench.versus", ["HEAD"], ["HEAD", "--writes", "3", "--rounds", "1"]),
]


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def run(out: Path, quick: bool) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine(), "quick": quick}
    sections = [f"# cartsync benchmarks\n\n{results['machine']}\n"]
    for name, module, full, quick_args in SCENARIOS:
        json_path = out / f"{name}.json"
        argv = [sys.executable, "-m", module, *(quick_args if quick else full)]
        if module != "bench.storesim_speed":
            argv += ["--json", str(json_path)]
        if module == "bench.added_latency" and not quick and py_spy_binary():
            argv += ["--profile", str(out / "added_latency.pyspy.txt")]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        print(
            f"{name}: {'ok' if done.returncode == 0 else 'FAILED'} in {elapsed:.0f} s", flush=True
        )
        if done.returncode != 0:
            raise SystemExit(f"{name} failed:\n{done.stdout}\n{done.stderr}")
        for line in done.stdout.splitlines():  # each goal with its figure, met or missed
            if line.startswith(("goal:", "ceiling:")):
                print(f"  {line}", flush=True)
        sections.append(f"## {name}\n\n{done.stdout.strip()}\n")
        if json_path.exists():
            results[name] = json.loads(json_path.read_text())
    summary = [f"## Goals (issue 15)\n\n{goals.table(results)}\n"]
    try:
        summary.append(f"## Scale model\n\n{scale_model.table(scale_model.costs_from(results))}\n")
    except KeyError as missing:
        summary.append(f"## Scale model\n\nnot computed: {missing} not in this run\n")
    print("\n" + "\n".join(summary), flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "results.md").write_text("\n".join([sections[0], *summary, *sections[1:]]))
    charts(out, results)
    return results


def charts(out: Path, results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "cached_read" in results:
        rows = results["cached_read"]["rows"]
        fig, ax = plt.subplots(figsize=(7, 4))
        conns = [r["connections"] for r in rows["bare"]]
        width = 0.25
        for offset, (label, key) in enumerate(
            (
                ("bare Litestar, static JSON", "bare"),
                ("GET /v1/cart, 200", "read_200"),
                ("GET /v1/cart, 304", "read_304"),
            )
        ):
            ax.bar(
                [i + offset * width for i in range(len(conns))],
                [r["rps"] for r in rows[key]],
                width,
                label=label,
            )
        ax.set_xticks([i + width for i in range(len(conns))], [f"{c} conn." for c in conns])
        ax.set_ylabel("requests/s (one worker)")
        ax.set_title("Cached cart read against the bare framework")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "cached_read.png", dpi=100)
        plt.close(fig)
    if "write_bursts" in results:
        rows = results["write_bursts"]
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        for path in ("cartsync", "store, concurrent", "store, sequential"):
            mine = [r for r in rows if r["path"] == path]
            ns = [r["n"] for r in mine]
            left.plot(ns, [r["writes"] for r in mine], marker="o", label=path)
            right.plot(ns, [r["wall_ms"] for r in mine], marker="o", label=path)
        left.set(
            xscale="log",
            yscale="log",
            xlabel="concurrent writes on one cart",
            ylabel="upstream write requests",
            title="Upstream writes",
        )
        right.set(
            xscale="log",
            xlabel="concurrent writes on one cart",
            ylabel="wall ms",
            title="Time to apply the burst",
        )
        left.legend()
        fig.tight_layout()
        fig.savefig(out / "write_bursts.png", dpi=100)
        plt.close(fig)
    if "shopping" in results:
        endpoints = results["shopping"]["endpoints"]
        fig, ax = plt.subplots(figsize=(8, 4))
        names = list(endpoints)
        ax.barh(names, [endpoints[n]["p99"] for n in names], label="p99")
        ax.barh(names, [endpoints[n]["p50"] for n in names], label="p50")
        ax.set_xlabel("ms")
        ax.set_title(
            f"Shopping sessions on two replicas ({results['shopping']['shoppers']} shoppers)"
        )
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "shopping.png", dpi=100)
        plt.close(fig)
    if "cart_size" in results:
        rows = results["cart_size"]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.scatter([r["store_api"] for r in rows], [r["compact"] for r in rows], label="raw")
        ax.scatter(
            [r["store_api_gzip"] for r in rows], [r["compact_gzip"] for r in rows], label="gzip"
        )
        top = max(r["store_api"] for r in rows)
        ax.plot([0, top], [0, top / 3], linestyle="--", label="goal: 1/3")
        ax.set(
            xlabel="Store API cart bytes",
            ylabel="mobile cart bytes",
            title="Mobile cart size, recorded carts",
        )
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "cart_size.png", dpi=100)
        plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    run(Path(args.out), args.quick)
    print(f"results in {args.out}/ (results.json, results.md, *.png)")


if __name__ == "__main__":
    main()
