"""Coalesced, serialised, idempotent writes across replicas, against the racing store."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
import uuid
from typing import Any

import httpx

from ..integration.conftest import user_token
from .conftest import Deployment


async def _writes(sim: httpx.AsyncClient) -> int:
    counters = (await sim.get("/__sim/state")).json()["counters"]
    return int(counters["writes"])


def _quantity(cart: dict[str, Any], product_id: int) -> int:
    return sum(i["quantity"] for i in cart["items"] if i["product_id"] == product_id)


async def _add(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    product_id: int,
    key: str | None = None,
) -> httpx.Response:
    extra = {"Idempotency-Key": key} if key else {}
    return await client.post(
        f"{url}/v1/cart/items", json={"product_id": product_id}, headers={**headers, **extra}
    )


class TestCoalescing:
    async def test_25_concurrent_adds_through_one_replica_keep_all_in_at_most_2_writes(
        self, deployment: Deployment
    ) -> None:
        """The store loses overlapping writes; the lane sends them as batches (CoCart,
        which has none: one after the other, 25 requests, none overlapping)."""
        headers = {"Authorization": f"Bearer {user_token()}"}
        url = deployment.replicas[0]
        async with (
            httpx.AsyncClient(timeout=30) as client,
            httpx.AsyncClient(base_url=deployment.storesim) as sim,
        ):
            (await client.get(f"{url}/v1/cart", headers=headers)).raise_for_status()
            before = await _writes(sim)
            answers = await asyncio.gather(*(_add(client, url, headers, 15) for _ in range(25)))
            assert {a.status_code for a in answers} == {200}
            writes = await _writes(sim) - before
            cart = (await client.get(f"{url}/v1/cart", headers=headers)).json()
        assert _quantity(cart, 15) == 25
        assert writes <= (2 if deployment.kind == "storeapi" else 25)

    async def test_100_writes_spread_over_2_replicas_lose_and_double_nothing(
        self, deployment: Deployment
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        one, two = deployment.replicas[:2]
        async with (
            httpx.AsyncClient(timeout=60) as client,
            httpx.AsyncClient(base_url=deployment.storesim) as sim,
        ):
            (await client.get(f"{one}/v1/cart", headers=headers)).raise_for_status()
            before = await _writes(sim)
            answers = await asyncio.gather(
                *(
                    _add(client, one if i % 2 else two, headers, 10 if i % 3 else 11)
                    for i in range(100)
                )
            )
            assert {a.status_code for a in answers} == {200}
            writes = await _writes(sim) - before
            cart = (await client.get(f"{two}/v1/cart", headers=headers)).json()
        assert _quantity(cart, 10) + _quantity(cart, 11) == 100
        assert _quantity(cart, 11) == sum(1 for i in range(100) if i % 3 == 0)
        assert writes <= (math.ceil(100 / 25) + 2 if deployment.kind == "storeapi" else 100)


class TestIdempotency:
    async def test_a_retry_with_the_same_key_replays_the_first_answer(
        self, deployment: Deployment
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        url = deployment.replicas[0]
        key = str(uuid.uuid4())
        async with httpx.AsyncClient(timeout=30) as client:
            first = await _add(client, url, headers, 15, key)
            again = await _add(client, deployment.replicas[1], headers, 15, key)
            assert first.status_code == again.status_code == 200
            assert again.headers["Idempotent-Replayed"] == "true"
            assert again.content == first.content
            other_body = await client.post(
                f"{url}/v1/cart/items",
                json={"product_id": 10},
                headers={**headers, "Idempotency-Key": key},
            )
            assert (other_body.status_code, other_body.json()["code"]) == (
                422,
                "idempotency_key_reused",
            )
            cart = (await client.get(f"{url}/v1/cart", headers=headers)).json()
        assert _quantity(cart, 15) == 1

    async def test_keys_belong_to_their_owner(self, deployment: Deployment) -> None:
        """Two users may use the same key: each gets their own answer."""
        url = deployment.replicas[0]
        key = "shared-key"
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(2):
                headers = {"Authorization": f"Bearer {user_token()}"}
                answer = await _add(client, url, headers, 15, key)
                assert answer.status_code == 200
                assert "Idempotent-Replayed" not in answer.headers

    async def test_a_concurrent_retry_while_the_first_runs_gets_409(
        self, deployment: Deployment
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        url = deployment.replicas[0]
        key = str(uuid.uuid4())
        async with httpx.AsyncClient(timeout=30) as client:
            first, second = await asyncio.gather(
                _add(client, url, headers, 15, key), _add(client, url, headers, 15, key)
            )
            statuses = sorted([first.status_code, second.status_code])
            assert statuses in ([200, 409], [200, 200])
            if statuses == [200, 409]:
                conflict = first if first.status_code == 409 else second
                assert conflict.json()["code"] == "idempotency_in_progress"
            cart = (await client.get(f"{url}/v1/cart", headers=headers)).json()
        assert _quantity(cart, 15) == 1


class TestPreconditionsAndOps:
    async def test_if_match_on_a_moved_cart_is_412_with_the_current_cart(
        self, deployment: Deployment
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        url = deployment.replicas[0]
        async with httpx.AsyncClient(timeout=30) as client:
            first = await _add(client, url, headers, 15)
            etag = first.headers["ETag"]
            await _add(client, url, headers, 10)
            stale = await client.post(
                f"{url}/v1/cart/items",
                json={"product_id": 11},
                headers={**headers, "If-Match": etag},
            )
            assert stale.status_code == 412
            assert stale.json()["code"] == "precondition_failed"
            assert {i["product_id"] for i in stale.json()["cart"]["items"]} == {10, 15}
            current = (await client.get(f"{url}/v1/cart", headers=headers)).headers["ETag"]
            fresh = await client.post(
                f"{url}/v1/cart/items",
                json={"product_id": 11},
                headers={**headers, "If-Match": current},
            )
            assert fresh.status_code == 200

    async def test_an_offline_queue_replays_in_order_with_one_result_per_op(
        self, deployment: Deployment
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        url = deployment.replicas[1]
        beanie = "d3d9446802a44259755d38e6d163e820"
        operations = [
            {"op_id": "a", "type": "add", "product_id": 10, "quantity": 2},
            {"op_id": "b", "type": "set_quantity", "key": beanie, "quantity": 5},
            {"op_id": "c", "type": "add", "product_id": 14},
            {"op_id": "d", "type": "apply_coupon", "code": "test"},
            {"op_id": "e", "type": "shipping", "rate_id": "free_shipping:2"},
        ]
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(
                f"{url}/v1/cart/ops", json={"operations": operations}, headers=headers
            )
        assert answer.status_code == 200
        body = answer.json()
        # CoCart free has neither coupons nor rate choice: refused, not sent.
        extras = "applied" if deployment.kind == "storeapi" else "refused"
        assert [(r["op_id"], r["status"]) for r in body["results"]] == [
            ("a", "applied"),
            ("b", "applied"),
            ("c", "refused"),
            ("d", extras),
            ("e", extras),
        ]
        assert body["results"][2]["error"]["code"] == "out_of_stock"
        assert _quantity(body["cart"], 10) == 5
        if deployment.kind == "cocart":
            assert body["results"][3]["error"]["code"] == "coupons_not_supported"
            assert body["results"][4]["error"]["code"] == "shipping_rates_not_supported"
            return
        assert [c["code"] for c in body["cart"]["coupons"]] == ["test"]
        assert body["cart"]["shipping"][0]["selected_rate"] == "free_shipping:2"


class TestFaults:
    async def test_with_injected_500s_and_hangs_every_acknowledged_write_lands_once(
        self, deployment: Deployment
    ) -> None:
        """5 % 500s and 2 % hangs: acknowledged writes are in the cart exactly once,
        failed ones are reported, and retries with the same key never double."""
        headers = {"Authorization": f"Bearer {user_token()}"}
        one, two = deployment.replicas[:2]
        keys = [str(uuid.uuid4()) for _ in range(40)]
        async with (
            httpx.AsyncClient(timeout=60) as client,
            httpx.AsyncClient(base_url=deployment.storesim) as sim,
        ):
            (await client.get(f"{one}/v1/cart", headers=headers)).raise_for_status()
            # The rates, plus one certain 500 and one certain hang: with coalescing, 40
            # writes make only a handful of upstream calls for the rates to strike.
            faults = {
                "error_rate": 0.05,
                "hang_rate": 0.02,
                "next_errors": 1,
                "next_hangs": 1,
                "hang_seconds": 2.5,
                "when": "after",
                "seed": 7,
            }
            await sim.put("/__sim/faults", json=faults)
            first: list[httpx.Response] = []
            try:
                for wave in range(4):  # four waves: more upstream calls for faults to hit
                    first += await asyncio.gather(
                        *(
                            _add(client, one if i % 2 else two, headers, 15, key)
                            for i, key in enumerate(keys[wave * 10 : (wave + 1) * 10])
                        )
                    )
            finally:
                injected = (await sim.get("/__sim/state")).json()["counters"]["faults_injected"]
                await sim.put("/__sim/faults", json={})
            # Clients retry what did not settle (409 running, 503 not applied, 504 unknown)
            # with the same key, on the other replica, until every key has its answer.
            final = {
                key: answer
                for key, answer in zip(keys, first, strict=True)
                if answer.status_code not in (409, 503, 504)
            }
            deadline = time.monotonic() + 40
            while len(final) < len(keys):
                assert time.monotonic() < deadline, "writes did not settle"
                for i, key in enumerate(keys):
                    if key not in final:
                        answer = await _add(client, two if i % 2 else one, headers, 15, key)
                        if answer.status_code not in (409, 504):
                            final[key] = answer
                await asyncio.sleep(0.2)  # wait-ok: a client's retry back-off
            cart = (await client.get(f"{one}/v1/cart", headers=headers)).json()
        assert sum(injected.values()) > 0
        assert {a.status_code for a in first} <= {200, 409, 503, 504}
        acknowledged = {k for k, a in zip(keys, first, strict=True) if a.status_code == 200}
        applied = {k for k, a in final.items() if a.status_code == 200}
        assert acknowledged <= applied
        assert _quantity(cart, 15) == len(applied)

    async def test_a_replica_killed_mid_batch_is_taken_over_and_nothing_doubles(
        self, deployment: Deployment
    ) -> None:
        victim_url = deployment.add_replica()
        victim = deployment.processes[-1]
        survivor = deployment.replicas[0]
        headers = {"Authorization": f"Bearer {user_token()}"}
        keys = [str(uuid.uuid4()) for _ in range(10)]
        async with (
            httpx.AsyncClient(timeout=30) as client,
            httpx.AsyncClient(base_url=deployment.storesim) as sim,
        ):
            (await client.get(f"{victim_url}/v1/cart", headers=headers)).raise_for_status()
            await sim.put("/__sim/latency", json={"batch_base_ms": 1500, "fixed_ms": 1500})
            before = (await sim.get("/__sim/state")).json()["counters"]
            started = before["writes"]
            pending = [
                asyncio.create_task(_add(client, victim_url, headers, 15, key)) for key in keys
            ]
            deadline = time.monotonic() + 10
            while (await sim.get("/__sim/state")).json()["counters"]["writes"] == started:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)  # wait-ok: polling for the batch to leave
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            outcomes = await asyncio.gather(*pending, return_exceptions=True)
            assert all(isinstance(o, httpx.HTTPError) for o in outcomes)
            await sim.put("/__sim/latency", json={"profile": "off"})
            # The clients retry on a surviving replica with their keys.
            final: dict[str, httpx.Response] = {}
            deadline = time.monotonic() + 30
            while len(final) < len(keys):
                assert time.monotonic() < deadline, "takeover did not settle the writes"
                for key in keys:
                    if key in final:
                        continue
                    answer = await _add(client, survivor, headers, 15, key)
                    if answer.status_code != 409:
                        final[key] = answer
                await asyncio.sleep(0.2)  # wait-ok: a client's retry back-off
            cart = (await client.get(f"{survivor}/v1/cart", headers=headers)).json()
        deployment.replicas.remove(victim_url)
        applied = sum(1 for a in final.values() if a.status_code == 200)
        assert applied == _quantity(cart, 15)
        assert _quantity(cart, 15) <= len(keys)
