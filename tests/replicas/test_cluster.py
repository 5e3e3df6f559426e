"""Two replicas on a real Redis Cluster (3 masters): writes to one cart from both stay
serialised and coalesced, and a change made through one is seen through the other."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..integration.conftest import user_token
from ..support import free_port, gateway_env, start_gateway, start_storesim, stop
from .conftest import LATENCY, SETTINGS
from .test_lane import _add, _quantity, _writes


@pytest.fixture(scope="module")
def on_cluster(
    redis_cluster_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, list[str]]]:
    sim_port = free_port()
    sim = start_storesim(sim_port, "--latency", LATENCY)
    logs: Path = tmp_path_factory.mktemp("cluster")
    env = gateway_env(
        f"http://127.0.0.1:{sim_port}", redis_cluster_url, redis_cluster="true", **SETTINGS
    )
    processes, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            processes.append(start_gateway(port, env, logs / f"replica-{port}.log"))
            urls.append(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{sim_port}", urls
    finally:
        for process in processes:
            stop(process)
        stop(sim)


class TestOnRedisCluster:
    async def test_50_writes_over_2_replicas_keep_all_in_few_batches(
        self, on_cluster: tuple[str, list[str]]
    ) -> None:
        storesim, (one, two) = on_cluster
        headers = {"Authorization": f"Bearer {user_token()}"}
        async with (
            httpx.AsyncClient(timeout=60) as client,
            httpx.AsyncClient(base_url=storesim) as sim,
        ):
            (await client.get(f"{one}/v1/cart", headers=headers)).raise_for_status()
            # Warm both replicas' near copies, so the check below needs the announcement.
            (await client.get(f"{two}/v1/cart", headers=headers)).raise_for_status()
            before = await _writes(sim)
            answers = await asyncio.gather(
                *(_add(client, one if i % 2 else two, headers, 15) for i in range(50))
            )
            assert {a.status_code for a in answers} == {200}
            writes = await _writes(sim) - before
            carts = [
                (await client.get(f"{url}/v1/cart", headers=headers)).json() for url in (one, two)
            ]
        assert [_quantity(cart, 15) for cart in carts] == [50, 50]
        assert writes <= math.ceil(50 / 25) + 2
