"""The local stack as clients meet it: one port, nginx in front of two replicas."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from typing import Any

import httpx
import pytest

from ..integration.conftest import user_token
from .conftest import Deployment


async def _first_events(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], events: asyncio.Queue[Any]
) -> None:
    async with client.stream("GET", url, headers=headers) as response:
        await events.put(response.status_code)
        async for line in response.aiter_lines():
            if line.startswith("data:") and line[5:].strip():
                await events.put(json.loads(line[5:]))


class TestThroughTheBalancer:
    async def test_a_stream_through_nginx_hears_a_write_made_through_nginx(
        self, deployment: Deployment
    ) -> None:
        """The stream holds one connection, so nginx (least_conn) sends the write to the
        other replica; the event must still arrive, unbuffered, through the proxy."""
        headers = {"Authorization": f"Bearer {user_token()}"}
        events: asyncio.Queue[Any] = asyncio.Queue()
        async with (
            httpx.AsyncClient(base_url=deployment.balancer, timeout=30) as streaming,
            httpx.AsyncClient(base_url=deployment.balancer, timeout=30) as writing,
        ):
            reader = asyncio.create_task(
                _first_events(streaming, "/v1/cart/events", headers, events)
            )
            try:
                assert await asyncio.wait_for(events.get(), 10) == 200
                assert (await asyncio.wait_for(events.get(), 10))["items"] == []
                added = await writing.post(
                    "/v1/cart/items", json={"product_id": 15, "quantity": 2}, headers=headers
                )
                assert added.status_code == 200, added.text
                heard = await asyncio.wait_for(events.get(), 10)
                assert [(i["product_id"], i["quantity"]) for i in heard["items"]] == [(15, 2)]
                assert heard["version"] == added.json()["version"]
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    async def test_every_replica_answers_the_same_cart_behind_the_balancer(
        self, deployment: Deployment
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        async with httpx.AsyncClient(timeout=30) as client:
            added = await client.post(
                f"{deployment.balancer}/v1/cart/items",
                json={"product_id": 15},
                headers=headers,
            )
            assert added.status_code == 200, added.text
            answers = [
                await client.get(f"{url}/v1/cart", headers=headers)
                for url in (deployment.balancer, *deployment.replicas[:2])
            ]
        assert {a.headers["ETag"] for a in answers} == {f'"{added.json()["version"]}"'}
        assert answers[0].headers["Server"].startswith("nginx")


async def _stream_lines(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], opened: asyncio.Event
) -> list[str]:
    """Every line of one SSE stream until the server ends it."""
    lines: list[str] = []
    async with client.stream("GET", url, headers=headers) as response:
        async for line in response.aiter_lines():
            lines.append(line)
            if line.startswith("data:"):
                opened.set()
    return lines


class TestSigterm:
    async def test_a_replica_told_to_stop_answers_its_writes_ends_its_streams_and_exits(
        self, deployment: Deployment
    ) -> None:
        victim_url = deployment.add_replica()
        victim = deployment.processes[-1]
        survivor = deployment.replicas[0]
        headers = {"Authorization": f"Bearer {user_token()}"}
        keys = [str(uuid.uuid4()) for _ in range(5)]
        async with (
            httpx.AsyncClient(timeout=30) as client,
            httpx.AsyncClient(timeout=30) as streaming,
            httpx.AsyncClient(base_url=deployment.storesim) as sim,
        ):
            (await client.get(f"{victim_url}/v1/cart", headers=headers)).raise_for_status()
            opened = asyncio.Event()
            stream = asyncio.create_task(
                _stream_lines(streaming, f"{victim_url}/v1/cart/events", headers, opened)
            )
            await asyncio.wait_for(opened.wait(), 10)
            await sim.put("/__sim/latency", json={"batch_base_ms": 1000, "fixed_ms": 1000})
            try:
                started = (await sim.get("/__sim/state")).json()["counters"]["writes"]
                pending = [
                    asyncio.create_task(
                        client.post(
                            f"{victim_url}/v1/cart/items",
                            json={"product_id": 15},
                            headers={**headers, "Idempotency-Key": key},
                        )
                    )
                    for key in keys
                ]
                deadline = time.monotonic() + 10
                while (await sim.get("/__sim/state")).json()["counters"]["writes"] == started:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.02)  # wait-ok: polling for the batch to leave
                signalled = time.monotonic()
                victim.send_signal(signal.SIGTERM)
                # The stream ends at once, with a reconnect hint, while writes are pending.
                lines = await asyncio.wait_for(stream, 5)
                assert not all(task.done() for task in pending)
                assert ": shutting down" in lines
                assert "retry: 100" in lines
                # Every write in flight is answered, none cut off.
                answers = await asyncio.gather(*pending)
                assert [a.status_code for a in answers] == [200] * len(keys)
                await asyncio.to_thread(victim.wait, 15)
                assert time.monotonic() - signalled < 10  # not the 30 s a stream would hold
                with pytest.raises(httpx.ConnectError):
                    await client.get(f"{victim_url}/healthz")
            finally:
                await sim.put(
                    "/__sim/latency",
                    json={"fixed_ms": 80, "batch_base_ms": 60, "batch_per_request_ms": 15},
                )
            cart = (await client.get(f"{survivor}/v1/cart", headers=headers)).json()
        deployment.replicas.remove(victim_url)
        assert sum(i["quantity"] for i in cart["items"] if i["product_id"] == 15) == len(keys)


class TestSigtermUnderLoad:
    async def test_no_acknowledged_write_is_lost_and_no_connection_is_reset(
        self, deployment: Deployment
    ) -> None:
        """Ten clients write without pause to a replica that is told to stop. A write is
        answered, or refused before it was sent (the client then sends it, same key, to
        another replica): never cut off mid-request."""
        victim_url = deployment.add_replica()
        victim = deployment.processes[-1]
        survivor = deployment.replicas[0]
        headers = {"Authorization": f"Bearer {user_token()}"}
        acknowledged: list[str] = []
        cut_off: list[str] = []
        moved: list[str] = []
        enough = asyncio.Event()

        async def writer(client: httpx.AsyncClient) -> None:
            target = victim_url
            while len(acknowledged) < 120:
                key = str(uuid.uuid4())
                try:
                    answer = await client.post(
                        f"{target}/v1/cart/items",
                        json={"product_id": 15},
                        headers={**headers, "Idempotency-Key": key},
                    )
                except httpx.ConnectError:  # refused: never sent; send it elsewhere
                    target = survivor
                    moved.append(key)
                    answer = await client.post(
                        f"{survivor}/v1/cart/items",
                        json={"product_id": 15},
                        headers={**headers, "Idempotency-Key": key},
                    )
                except httpx.TransportError as exc:
                    cut_off.append(f"{type(exc).__name__}: {exc}")
                    return
                assert answer.status_code == 200, answer.text
                acknowledged.append(key)
                if len(acknowledged) >= 30:
                    enough.set()

        async with httpx.AsyncClient(timeout=30) as client:
            (await client.get(f"{victim_url}/v1/cart", headers=headers)).raise_for_status()
            writers = [asyncio.create_task(writer(client)) for _ in range(10)]
            await asyncio.wait_for(enough.wait(), 60)
            victim.send_signal(signal.SIGTERM)
            await asyncio.wait_for(asyncio.gather(*writers), 120)
            await asyncio.to_thread(victim.wait, 15)
            cart = (await client.get(f"{survivor}/v1/cart", headers=headers)).json()
        deployment.replicas.remove(victim_url)
        assert cut_off == []
        assert moved  # the load went on through the stop, and on to another replica
        assert sum(i["quantity"] for i in cart["items"] if i["product_id"] == 15) == len(
            acknowledged
        )


class TestBatchSizeInLogs:
    async def test_a_coalesced_write_logs_the_size_of_its_batch(
        self, deployment: Deployment
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        url = deployment.replicas[0]
        ids = [uuid.uuid4().hex[:16] for _ in range(12)]
        async with httpx.AsyncClient(timeout=30) as client:
            (await client.get(f"{url}/v1/cart", headers=headers)).raise_for_status()
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"{url}/v1/cart/items",
                        json={"product_id": 15},
                        headers={**headers, "X-Request-ID": request_id},
                    )
                    for request_id in ids
                )
            )
        assert {a.status_code for a in answers} == {200}
        sizes: dict[str, int] = {}
        deadline = time.monotonic() + 5
        while len(sizes) < len(ids):
            assert time.monotonic() < deadline, sizes
            for log in deployment.logs.glob("replica-*.log"):
                for raw in log.read_text().splitlines():
                    if '"request"' not in raw:
                        continue
                    line = json.loads(raw)
                    if line.get("request_id") in ids and line.get("event") == "request":
                        sizes[line["request_id"]] = line["batch_size"]
            await asyncio.sleep(0.02)  # wait-ok: lines are written after the answers
        if deployment.kind == "cocart":  # no batch: every add is its own request
            assert set(sizes.values()) == {1}
            return
        # The first write goes alone; the rest, queued behind it, share one batch.
        assert sorted(sizes.values())[-1] > 1
        assert sum(1 for size in sizes.values() if size > 1) >= len(ids) - 2
