"""When Redis loses its data: the loss is noticed, said, and survived.

Two gateway replicas share a redis-server of this module's own, which the tests restart
without persistence (everything in it is gone), with storesim as a real server behind.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis

from ..conftest import _redis_server, _wait_for_ping
from ..support import free_port, gateway_env, start_gateway, start_storesim, stop
from .conftest import user_token

BEANIE, BELT = 10, 11


@dataclass
class World:
    replicas: list[str]
    redis_port: int
    workdir: str
    redis: list[object]

    def restart_redis_empty(self) -> None:
        """Kill redis-server and start it again on the same port: no persistence, so the
        replicas find an empty dataset behind the same address."""
        process = self.redis[0]
        assert hasattr(process, "kill")
        process.kill()  # type: ignore[attr-defined]
        process.wait()  # type: ignore[attr-defined]
        fresh = _redis_server(self.redis_port, self.workdir)
        _wait_for_ping(redis.Redis(port=self.redis_port), [fresh])
        self.redis[0] = fresh


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tempfile.mkdtemp(prefix="cartsync-loss-")
    redis_port = free_port()
    process = _redis_server(redis_port, workdir)
    _wait_for_ping(redis.Redis(port=redis_port), [process])
    sim_port = free_port()
    sim = start_storesim(sim_port, "--secret", "state-loss")
    logs = tmp_path_factory.mktemp("loss")
    env = gateway_env(
        f"http://127.0.0.1:{sim_port}",
        f"redis://127.0.0.1:{redis_port}/0",
        write_rate_limit_per_minute="10000",
        upstream_read_timeout_s="2",
        lock_ttl_s="4",
    )
    gateways = []
    for n in range(2):
        port = free_port()
        gateways.append((port, start_gateway(port, env, logs / f"replica-{n}.log")))
    state = World(
        [f"http://127.0.0.1:{port}" for port, _ in gateways], redis_port, workdir, [process]
    )
    try:
        yield state
    finally:
        for _, gateway in gateways:
            stop(gateway)
        stop(sim)
        stop(state.redis[0])  # type: ignore[arg-type]
        shutil.rmtree(workdir, ignore_errors=True)


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=20)


def _until(check: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)  # wait-ok: polling for an asynchronous effect with a deadline
    raise AssertionError("condition not met in time")


def _send(client: httpx.Client, method: str, path: str, **request: object) -> httpx.Response:
    """A request as a client sends it: again (same key) while the answer is 503 (Redis
    coming back: each pooled connection to the old one fails once)."""
    deadline = time.monotonic() + 10
    while True:
        answer = client.request(method, path, **request)  # type: ignore[arg-type]
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)  # wait-ok: a client's back-off before resending a 503


def _codes(cart: dict[str, object]) -> list[str]:
    return [e["code"] for e in cart["errors"]]  # type: ignore[attr-defined, index]


class TestRedisLosesItsData:
    def test_both_replicas_agree_on_one_cart_that_says_its_state_was_lost(
        self, world: World
    ) -> None:
        """After the wipe the owner's cart is never a silent empty cart: both replicas
        answer one cart id, marked ``cart_state_lost``, within a second."""
        token = user_token()
        with _client(world.replicas[0], token) as a, _client(world.replicas[1], token) as b:
            a.post("/v1/cart/items", json={"product_id": BEANIE, "quantity": 2}).raise_for_status()
            before_a, before_b = a.get("/v1/cart").json(), b.get("/v1/cart").json()
            assert before_a["id"] == before_b["id"]
            world.restart_redis_empty()
            _until(lambda: "cart_state_lost" in _codes(_send(a, "GET", "/v1/cart").json()), 5)
            after_a = a.get("/v1/cart").json()
            _until(lambda: b.get("/v1/cart").json()["id"] == after_a["id"], 1.5)
            after_b = b.get("/v1/cart").json()
        assert after_a["id"] == after_b["id"]
        assert "cart_state_lost" in _codes(after_b)
        assert after_a["items"] == []
        assert after_a["version"].split(".")[0] != before_a["version"].split(".")[0]

    def test_a_retried_key_is_not_applied_until_the_client_names_the_new_version(
        self, world: World
    ) -> None:
        """A change acknowledged before the wipe, resent with its Idempotency-Key: 409
        ``cart_state_lost`` with the cart, nothing applied. Sent again with If-Match of
        the version shown, it applies, and the cart stops saying it was lost."""
        token = user_token()
        add = {"product_id": BELT}
        with _client(world.replicas[0], token) as c:
            first = c.post("/v1/cart/items", json=add, headers={"Idempotency-Key": "k-1"})
            assert first.status_code == 200
            old_version = first.json()["version"]
            world.restart_redis_empty()
            retry = _send(c, "POST", "/v1/cart/items", json=add, headers={"Idempotency-Key": "k-1"})
            assert retry.status_code == 409
            assert retry.json()["code"] == "cart_state_lost"
            cart = retry.json()["cart"]
            assert cart["items"] == []
            stale = c.post(
                "/v1/cart/items",
                json=add,
                headers={"Idempotency-Key": "k-2", "If-Match": f'"{old_version}"'},
            )
            assert stale.status_code == 412  # a version of the lost epoch
            confirmed = c.post(
                "/v1/cart/items",
                json=add,
                headers={"Idempotency-Key": "k-1", "If-Match": f'"{cart["version"]}"'},
            )
            assert confirmed.status_code == 200
            after = c.get("/v1/cart").json()
        assert [(i["product_id"], i["quantity"]) for i in after["items"]] == [(BELT, 1)]
        assert "cart_state_lost" not in _codes(after)

    def test_owners_new_after_the_loss_get_an_unmarked_cart(self, world: World) -> None:
        """A shopper whose token was issued after the loss never had a cart in the lost
        data: their cart is not marked."""
        world.restart_redis_empty()
        with _client(world.replicas[0], user_token()) as warm:
            _send(warm, "GET", "/v1/cart").raise_for_status()  # a replica notices the loss
        with _client(world.replicas[1], user_token()) as newcomer:
            cart = _send(newcomer, "GET", "/v1/cart").json()
        assert "cart_state_lost" not in _codes(cart)
