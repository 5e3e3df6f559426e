"""The README's scale model is arithmetic on measured costs: check that arithmetic."""

from __future__ import annotations

import pytest
from bench.scale_model import Costs, Mix, costs_from, plan, table

COSTS = Costs(
    cpu_read_us=100.0,
    cpu_write_us=2000.0,
    cpu_event_us=50.0,
    redis_bytes_per_cart=2048.0,
    stream_kib=8.0,
    worker_idle_mib=70.0,
)


def test_cores_replicas_memory_and_the_store_follow_from_the_costs() -> None:
    mix = Mix(reads_per_min=60, writes_per_min=6, devices=2, utilisation=0.5)
    row = plan(6_000, COSTS, mix)
    # 100 shoppers a second: 6,000 reads (0.6 s CPU), 600 writes (1.2 s), 1,200 events (0.06 s)
    assert row.cores == pytest.approx((0.6 + 1.2 + 0.06) / 0.5)
    assert row.replicas == 4  # ceil(3.72)
    assert row.replica_mib == pytest.approx(70 + 6_000 * 2 / 4 * 8 / 1024)
    assert row.redis_mib == pytest.approx(6_000 * 2048 / 2**20)
    assert row.store_calls_per_s == pytest.approx(600)
    assert row.php_workers == pytest.approx(600 * 0.085)
    assert row.store_hosts == 13  # ceil(51 / 4)


def test_a_small_shop_still_runs_two_replicas() -> None:
    assert plan(10, COSTS, Mix()).replicas == 2


def test_the_costs_come_from_a_run_and_the_table_names_them() -> None:
    results = {
        "cached_read": {
            "rows": {
                "read_200": [
                    {"connections": 1, "cpu_us": 150.0},
                    {"connections": 64, "cpu_us": 100.0},
                ]
            }
        },
        # The busy figure prices writes; the lone write's is not the model's.
        "added_latency": {"gateway_cpu_ms_per_write": 5.0, "busy_cpu_ms_per_write": 2.0},
        "fanout": {
            "cpu_per_event_us": -9.0,  # the noisy 10-a-cart figure: not the model's
            "wide_cpu_per_event_us": 50.0,
            "memory_per_stream_kib": 8.0,
            "rss_steps": [{"streams": 0, "rss_mib": 70.0}],
        },
        "footprint": {"bytes_per_cart": 2048.0},
    }
    assert costs_from(results) == COSTS
    text = table(COSTS)
    assert "100 µs CPU a cached read, 2000 µs a write (32 writing at once)" in text
    assert "| 100,000 |" in text
    with pytest.raises(KeyError):
        costs_from({"cached_read": results["cached_read"]})


def test_each_goal_is_judged_against_its_limit_and_missing_ones_say_so() -> None:
    from bench.goals import rows

    results = {
        "added_latency": {"added_p50": 3.5, "gateway_cpu_ms_per_write": 1.5},
        "cached_read": {
            "rows": {
                "bare": [{"connections": 64, "rps": 100.0, "p99_ms": 10.0}],
                "raw_asgi": [{"connections": 64, "rps": 300.0, "p99_ms": 5.0}],
                "read_200": [{"connections": 64, "rps": 110.0, "p99_ms": 13.0}],
            }
        },
    }
    verdicts = {goal.split(" <=")[0].split(" >=")[0]: (f, v) for goal, f, v in rows(results)}
    assert verdicts["write: added p50 over the store"] == ("3.50 ms", "MISSED")
    assert verdicts["write: gateway CPU a single write"] == ("1.50 ms", "met")
    assert verdicts["cached read (200) at 64 conn., x bare Litestar"] == ("1.10x", "met")
    assert verdicts["cached read (200) at 64 conn., x raw ASGI"] == ("0.37x", "MISSED")
    assert verdicts["cached read p99 at 64 conn., x bare's p99"] == ("1.30x", "MISSED")
    assert verdicts["Redis: bytes a 7-line cart"] == ("not measured", "-")
