"""schemathesis against a running gateway (``python -m cartsync serve`` in front of a
``python -m storesim`` server and this session's redis-server): no server error, no
status and no body the OpenAPI document does not list, no undocumented media type.

``make test`` runs about ``CARTSYNC_FUZZ_CASES`` (1,000) cases with a fixed seed;
``make fuzz`` 6,000 with a seed of the day and prints what it saw.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support import free_port, gateway_env, start_gateway, start_storesim, stop
from .conftest import Gateway, user_token
from .fuzzing import CASES_PER_SECOND_AT_LEAST, CHECKS, fuzz

CASES = int(os.environ.get("CARTSYNC_FUZZ_CASES", "1000"))
SEED = int(os.environ.get("CARTSYNC_FUZZ_SEED", "20261101"))


@pytest.fixture(scope="module")
def fuzzed_gateway(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway and a storesim of their own (fuzzing fills carts and counts requests),
    rate limits raised: one owner sends every case, faster than a shopper would."""
    sim_port = free_port()
    sim = start_storesim(sim_port, "--secret", "fuzz-tests")
    log = tmp_path_factory.mktemp("fuzz-gateway") / "cartsync.log"
    port = free_port()
    env = gateway_env(
        f"http://127.0.0.1:{sim_port}",
        redis_url,
        rate_limit_per_minute="1000000",
        write_rate_limit_per_minute="1000000",
    )
    process = start_gateway(port, env, log)
    try:
        yield Gateway(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sim_port}", log)
    finally:
        stop(process)
        stop(sim)


@pytest.mark.timeout(120 + CASES // CASES_PER_SECOND_AT_LEAST)
def test_every_answer_is_one_the_document_lists(fuzzed_gateway: Gateway, tmp_path: Path) -> None:
    report = fuzz(fuzzed_gateway.url, user_token(ttl=3600), tmp_path, cases=CASES, seed=SEED)
    print("\n" + report.summary())
    assert not report.errors, report.summary()
    assert report.cases >= CASES, report.summary()
    assert {name: report.failures[name] for name in CHECKS} == dict.fromkeys(CHECKS, 0), (
        report.summary()
    )
    assert all(report.checked[name] for name in CHECKS), report.summary()
    assert "unhandled error" not in fuzzed_gateway.log.read_text()
