"""A scale model from one ``make bench`` run: replicas, Redis and store PHP workers for
1k / 10k / 100k concurrent shoppers.

    python -m bench.scale_model [bench/results/results.json]

Every cost in it is a figure measured in the run it reads (``results.json``): CPU per
cached read, per write and per delivered event, bytes per cart in Redis, memory per
open stream, a worker's idle RSS. What is not measured here is stated as an assumption
and printed with the table: the shoppers' mix and the store's cost per call (measured
on a real WooCommerce 8.9.1 store, not in this run: ``docs/upstream/storeapi.md``).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Mix:
    """What one concurrent shopper does a minute (an assumption, stated with the table)."""

    reads_per_min: float = 10.0  # cart reads (app foreground, pull to refresh)
    writes_per_min: float = 2.0  # add, change, remove, coupon, shipping
    devices: float = 2.0  # open change streams (phone + a web tab); each gets every change
    utilisation: float = 0.6  # a replica's core is planned to this share
    min_replicas: int = 2  # one may be lost or rolling
    store_call_ms: float = 85.0  # one PHP worker's time per store write (real store, median)
    php_workers_per_host: int = 4  # the measured store: php-fpm with 4 workers on 2 vCPUs


@dataclass(frozen=True)
class Costs:
    """The measured costs the model is built from."""

    cpu_read_us: float
    cpu_write_us: float
    cpu_event_us: float
    redis_bytes_per_cart: float
    stream_kib: float
    worker_idle_mib: float


def _get(results: dict[str, Any], *path: str | int) -> Any:
    value: Any = results
    for step in path:
        value = value[step]
    return value


def costs_from(results: dict[str, Any]) -> Costs:
    """The model's inputs, from a run's ``results.json`` (a KeyError names what is missing)."""
    reads = _get(results, "cached_read", "rows", "read_200")
    busiest = max(reads, key=lambda row: row["connections"])
    return Costs(
        cpu_read_us=busiest["cpu_us"],
        # Busy, as replicas are sized: a lone write also pays the VM's wake-ups from idle
        # between its steps (bench.added_latency measures both), as a read at one
        # connection does against 64.
        cpu_write_us=_get(results, "added_latency", "busy_cpu_ms_per_write") * 1000,
        # The 100-streams-a-cart figure: at 10 a cart the fan-out's CPU is within the
        # drift of the writes' own (bench.fanout says so; one run read it as -9 µs).
        cpu_event_us=_get(results, "fanout", "wide_cpu_per_event_us"),
        redis_bytes_per_cart=_get(results, "footprint", "bytes_per_cart"),
        stream_kib=_get(results, "fanout", "memory_per_stream_kib"),
        worker_idle_mib=_get(results, "fanout", "rss_steps", 0, "rss_mib"),
    )


@dataclass(frozen=True)
class Row:
    shoppers: int
    cores: float
    replicas: int
    replica_mib: float
    redis_mib: float
    store_calls_per_s: float
    php_workers: float
    store_hosts: int


def plan(shoppers: int, costs: Costs, mix: Mix) -> Row:
    per_s = shoppers / 60.0
    reads, writes = per_s * mix.reads_per_min, per_s * mix.writes_per_min
    events = writes * mix.devices
    cpu_s = (
        reads * costs.cpu_read_us + writes * costs.cpu_write_us + events * costs.cpu_event_us
    ) / 1e6
    cores = cpu_s / mix.utilisation
    replicas = max(mix.min_replicas, math.ceil(cores))  # one single-worker replica a core
    streams = shoppers * mix.devices / replicas
    replica_mib = costs.worker_idle_mib + streams * costs.stream_kib / 1024
    # Every write reaches the store once at most (bursts on one cart coalesce: fewer);
    # reads are answered from snapshots, and the catalogue from its cache.
    store_calls = writes
    php_workers = store_calls * mix.store_call_ms / 1000
    return Row(
        shoppers=shoppers,
        cores=cores,
        replicas=replicas,
        replica_mib=replica_mib,
        redis_mib=shoppers * costs.redis_bytes_per_cart / 2**20,
        store_calls_per_s=store_calls,
        php_workers=php_workers,
        store_hosts=math.ceil(php_workers / mix.php_workers_per_host),
    )


def table(costs: Costs, mix: Mix = Mix(), sizes: tuple[int, ...] = (1_000, 10_000, 100_000)) -> str:
    lines = [
        f"Measured in this run: {costs.cpu_read_us:.0f} µs CPU a cached read, "
        f"{costs.cpu_write_us:.0f} µs a write (32 writing at once), "
        f"{costs.cpu_event_us:.0f} µs a delivered event; "
        f"{costs.redis_bytes_per_cart:,.0f} Redis bytes a cart; "
        f"{costs.stream_kib:.1f} KiB a stream; {costs.worker_idle_mib:.0f} MiB a worker idle.",
        f"Assumed: each concurrent shopper makes {mix.reads_per_min:g} cart reads and "
        f"{mix.writes_per_min:g} writes a minute with {mix.devices:g} devices streaming; "
        f"replicas of one worker on one core planned to {mix.utilisation:.0%}, at least "
        f"{mix.min_replicas}; the store spends {mix.store_call_ms:g} ms of a PHP worker a "
        f"write (measured on a real store), {mix.php_workers_per_host} workers a 2-vCPU host.",
        "",
        "| concurrent shoppers | cartsync cores | replicas | memory a replica | "
        "Redis (their carts) | store calls/s | PHP workers busy | 2-vCPU store hosts |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for shoppers in sizes:
        row = plan(shoppers, costs, mix)
        lines.append(
            f"| {row.shoppers:,} | {row.cores:.2f} | {row.replicas} | {row.replica_mib:.0f} MiB "
            f"| {row.redis_mib:,.1f} MiB | {row.store_calls_per_s:,.0f} "
            f"| {row.php_workers:,.1f} | {row.store_hosts:,} |"
        )
    host_calls = mix.php_workers_per_host * 1000 / mix.store_call_ms
    full = host_calls * 60 / mix.writes_per_min  # shoppers that fill one store host
    at_full = plan(round(full), costs, mix)
    largest = plan(sizes[-1], costs, mix)
    lines += [
        "",
        f"The store is the limit first: one store host like the measured one "
        f"({mix.php_workers_per_host} workers x {mix.store_call_ms:g} ms: "
        f"{host_calls:.0f} writes/s) is full at about {full:,.0f} concurrent shoppers, "
        f"where cartsync uses {at_full.cores:.2f} of a core; at {largest.shoppers:,} the store "
        f"needs {largest.store_hosts:,} such hosts ({largest.store_hosts * 2:,} vCPUs) and "
        f"cartsync {largest.cores:.0f} cores.",
    ]
    return "\n".join(lines)


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/results.json")
    print(table(costs_from(json.loads(path.read_text()))))


if __name__ == "__main__":
    main()
