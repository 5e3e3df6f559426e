"""When the store fails: stale snapshots, clear 5xx codes, and replicas that agree."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ..support import free_port, gateway_env, start_gateway, start_storesim, stop
from .conftest import user_token


@pytest.fixture
def outage(redis_url: str, tmp_path: Path) -> Iterator[dict[str, object]]:
    """A storesim we may stop, and a gateway with a 0.2 s freshness window and short
    timeouts in front of it."""
    sim_port, port = free_port(), free_port()
    sim = start_storesim(sim_port)
    env = gateway_env(
        f"http://127.0.0.1:{sim_port}",
        redis_url,
        snapshot_freshness_s="0.2",
        upstream_read_timeout_s="1",
        upstream_read_retries="0",
        lock_ttl_s="5",
        handoff_ttl_s="1",
        reconcile_grace_s="2",
    )
    gateway = start_gateway(port, env, tmp_path / "gateway.log")
    world: dict[str, object] = {
        "sim": sim,
        "sim_url": f"http://127.0.0.1:{sim_port}",
        "url": f"http://127.0.0.1:{port}",
        "sim_port": sim_port,
    }
    try:
        yield world
    finally:
        stop(gateway)
        stop(world["sim"])  # type: ignore[arg-type]


def _poll(check: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)  # wait-ok: polling for an asynchronous effect with a deadline
    raise AssertionError("condition not met in time")


class TestStoreDown:
    def test_the_last_snapshot_is_served_stale_while_the_store_is_down(
        self, outage: dict[str, object]
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        with httpx.Client(base_url=str(outage["url"]), headers=headers, timeout=10) as c:
            c.post("/v1/cart/items", json={"product_id": 10, "quantity": 2}).raise_for_status()
            stop(outage["sim"])  # type: ignore[arg-type]

            def stale() -> bool:
                answer = c.get("/v1/cart")
                assert answer.status_code == 200
                return bool(answer.json()["stale"])

            _poll(stale)
            cart = c.get("/v1/cart").json()
            assert cart["items"][0]["quantity"] == 2
            health = c.get("/healthz").json()
            assert health["upstream"]["last_failure"] is not None
            assert c.get("/readyz").status_code == 200  # the store's outage keeps us ready

    def test_a_cart_never_read_gets_503_with_retry_after(self, outage: dict[str, object]) -> None:
        stop(outage["sim"])  # type: ignore[arg-type]
        headers = {"Authorization": f"Bearer {user_token()}"}
        with httpx.Client(base_url=str(outage["url"]), headers=headers, timeout=10) as c:
            answer = c.get("/v1/cart")
            assert answer.status_code == 503
            assert answer.json()["code"] == "upstream_unavailable"
            assert int(answer.headers["Retry-After"]) > 0
            write = c.post("/v1/cart/items", json={"product_id": 10})
            assert (write.status_code, write.json()["code"]) == (503, "upstream_unavailable")

    def test_a_lost_answer_is_reconciled_never_doubled(self, outage: dict[str, object]) -> None:
        """The store answers after our timeout (and applies the write late): cartsync reads
        the cart until the write shows, answers 200, and never sends it twice."""
        headers = {"Authorization": f"Bearer {user_token()}"}
        with (
            httpx.Client(base_url=str(outage["url"]), headers=headers, timeout=20) as c,
            httpx.Client(base_url=str(outage["sim_url"])) as sim,
        ):
            c.get("/v1/cart").raise_for_status()
            sim.put("/__sim/faults", json={"next_hangs": 1, "hang_seconds": 2, "match": "add-item"})
            late = c.post("/v1/cart/items", json={"product_id": 10})
            assert late.status_code == 200
            assert late.json()["items"][0]["quantity"] == 1
            counters = sim.get("/__sim/state").json()["counters"]["requests"]
            assert counters.get("POST cart/add-item", 0) + counters.get("POST batch", 0) == 1

    def test_a_rate_limited_store_is_a_503_and_changes_nothing(
        self, outage: dict[str, object]
    ) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        with (
            httpx.Client(base_url=str(outage["url"]), headers=headers, timeout=20) as c,
            httpx.Client(base_url=str(outage["sim_url"])) as sim,
        ):
            c.get("/v1/cart").raise_for_status()
            sim.put("/__sim/rate-limit", json={"enabled": True, "limit": 1, "seconds": 60})
            sim.get("/wp-json/wc/store/v1/cart")  # the one allowed request
            busy = c.post("/v1/cart/items", json={"product_id": 10})
            assert (busy.status_code, busy.json()["code"]) == (503, "upstream_busy")
            assert int(busy.headers["Retry-After"]) > 0


class TestReplicas:
    def test_a_write_on_one_replica_is_read_on_another(
        self, outage: dict[str, object], redis_url: str, tmp_path: Path
    ) -> None:
        """Near copies are dropped through Redis pub/sub when another replica writes."""
        port = free_port()
        env = gateway_env(str(outage["sim_url"]), redis_url)
        second = start_gateway(port, env, tmp_path / "second.log")
        headers = {"Authorization": f"Bearer {user_token()}"}
        try:
            with (
                httpx.Client(base_url=str(outage["url"]), headers=headers) as one,
                httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as two,
            ):
                before = two.get("/v1/cart").json()  # replica two caches a near copy
                written = one.post("/v1/cart/items", json={"product_id": 15})

                def seen() -> bool:
                    return bool(two.get("/v1/cart").headers["ETag"] == written.headers["ETag"])

                _poll(seen, 5)
                assert before["items"] == []
                assert two.get("/v1/cart").json()["items"][0]["product_id"] == 15
                # A client holding the newer version is never served an older copy.
                assert (
                    two.get(
                        "/v1/cart", headers={"If-None-Match": written.headers["ETag"]}
                    ).status_code
                    == 304
                )
        finally:
            stop(second)


def _metric(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class TestExpiredUpstreamTokens:
    def test_a_cart_whose_token_expired_is_rebuilt_with_the_lines_it_can(
        self, outage: dict[str, object]
    ) -> None:
        """48 h idle: the store starts an empty cart; cartsync puts ours back, keeps its id
        and version sequence, and reports the line it could not restore."""
        headers = {"Authorization": f"Bearer {user_token()}"}
        with (
            httpx.Client(base_url=str(outage["url"]), headers=headers, timeout=20) as c,
            httpx.Client(base_url=str(outage["sim_url"])) as sim,
        ):
            c.post("/v1/cart/items", json={"product_id": 10, "quantity": 2}).raise_for_status()
            c.post("/v1/cart/items", json={"product_id": 15}).raise_for_status()
            c.post("/v1/cart/coupons", json={"code": "test"}).raise_for_status()
            before = c.get("/v1/cart").json()
            sim.put("/__sim/products/15/stock", json={"in_stock": False})
            sim.post("/__sim/clock", json={"advance_seconds": 49 * 3600})
            # The metric counts a rebuild when it starts: wait for the rebuilt cart itself.
            _poll(
                lambda: (
                    c.get("/v1/cart").json()["version"] != before["version"]
                    and _metric(c, "cartsync_rebuilds_total") >= 1
                )
            )
            rebuilt = c.get("/v1/cart").json()
            written = c.post("/v1/cart/items", json={"product_id": 11})
            assert written.status_code == 200
            after = written.json()
        assert rebuilt["id"] == before["id"]
        assert rebuilt["version"].split(".")[0] == before["version"].split(".")[0]
        assert int(rebuilt["version"].split(".")[1]) > int(before["version"].split(".")[1])
        assert {i["product_id"]: i["quantity"] for i in rebuilt["items"]} == {10: 2}
        assert [e["code"] for e in rebuilt["errors"]] == ["line_not_restored"]
        assert [c["code"] for c in rebuilt["coupons"]] == ["test"]
        assert {i["product_id"]: i["quantity"] for i in after["items"]} == {10: 2, 11: 1}


class TestHandoffExpiry:
    def test_a_checkout_link_expires(self, outage: dict[str, object]) -> None:
        headers = {"Authorization": f"Bearer {user_token()}"}
        with httpx.Client(base_url=str(outage["url"]), headers=headers, timeout=20) as c:
            c.post("/v1/cart/items", json={"product_id": 10}).raise_for_status()
            link = c.post("/v1/cart/checkout-link").json()
            time.sleep(1.2)  # wait-ok: the link's own expiry (1 s here) is what is tested
            expired = c.get(link["url"], follow_redirects=False)
        assert (expired.status_code, expired.json()["code"]) == (404, "link_expired")
