"""The ``/__sim/`` control plane: latency, counters, rate limits, clock and tokens."""

from __future__ import annotations

import time

import httpx

from .helpers import API, add, cart, new_cart


class TestCounters:
    async def test_requests_are_counted_per_route_and_batches_per_size(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """Counters separate single writes, batches and their sub-requests."""
        headers = await new_cart(storesim)
        await add(storesim, headers, 15)
        sub = {"path": "/wc/store/v1/cart/add-item", "body": {"id": 10}, "headers": headers}
        await storesim.post(
            f"{API}/batch",
            json={"requests": [sub, sub, sub]},
            headers={"Cart-Token": headers["Cart-Token"]},
        )
        counters = (await storesim.get("/__sim/state")).json()["counters"]
        assert counters["requests"] == {"GET cart": 1, "POST cart/add-item": 1, "POST batch": 1}
        assert counters["writes"] == 2
        assert counters["batch_sizes"] == [3]
        assert counters["subrequests"] == {"POST cart/add-item": 3}


class TestLatency:
    async def test_fixed_latency_delays_every_answer(self, storesim: httpx.AsyncClient) -> None:
        """A 60 ms fixed latency makes a GET take at least 60 ms."""
        await storesim.put("/__sim/latency", json={"fixed_ms": 60})
        started = time.perf_counter()
        await storesim.get(f"{API}/cart")
        assert time.perf_counter() - started >= 0.06

    async def test_batch_latency_grows_with_its_size(self, storesim: httpx.AsyncClient) -> None:
        """A batch costs its base plus a per-request cost."""
        await storesim.put("/__sim/latency", json={"batch_base_ms": 10, "batch_per_request_ms": 10})
        headers = await new_cart(storesim)
        sub = {"path": "/wc/store/v1/cart/add-item", "body": {"id": 10}, "headers": headers}
        started = time.perf_counter()
        await storesim.post(
            f"{API}/batch",
            json={"requests": [sub] * 5},
            headers={"Cart-Token": headers["Cart-Token"]},
        )
        assert time.perf_counter() - started >= 0.06

    async def test_the_realistic_profile_is_the_measured_upstream(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """``profile: realistic`` is 80±20 ms, and 60 + 15 ms per batch sub-request."""
        state = (await storesim.put("/__sim/latency", json={"profile": "realistic"})).json()
        assert state["latency"] == {
            "fixed_ms": 80.0,
            "jitter_ms": 20.0,
            "batch_base_ms": 60.0,
            "batch_per_request_ms": 15.0,
        }


class TestRateLimit:
    async def test_the_limit_answers_400_with_ratelimit_headers(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """As WooCommerce: 400 ``rate_limit_exceeded`` (not 429) past the limit."""
        await storesim.put("/__sim/rate-limit", json={"enabled": True, "limit": 2, "seconds": 30})
        answers = [await storesim.get(f"{API}/cart") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 400]
        assert [a.headers["RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
        assert answers[2].json()["code"] == "rate_limit_exceeded"
        assert answers[2].headers["RateLimit-Retry-After"] == "30"

    async def test_the_window_resets_after_its_seconds(self, storesim: httpx.AsyncClient) -> None:
        """Moving the clock past the window lets requests through again."""
        await storesim.put("/__sim/rate-limit", json={"enabled": True, "limit": 1, "seconds": 10})
        assert (await storesim.get(f"{API}/cart")).status_code == 200
        assert (await storesim.get(f"{API}/cart")).status_code == 400
        await storesim.post("/__sim/clock", json={"advance_seconds": 11})
        assert (await storesim.get(f"{API}/cart")).status_code == 200


class TestTokensAndClock:
    async def test_a_token_older_than_48_hours_opens_a_new_empty_cart(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """Expiry gives a new cart with a different user id, never an error."""
        headers = await new_cart(storesim)
        await add(storesim, headers, 15)
        await storesim.post("/__sim/clock", json={"advance_seconds": 48 * 3600 + 1})
        response = await storesim.get(f"{API}/cart", headers={"Cart-Token": headers["Cart-Token"]})
        assert response.status_code == 200
        assert response.json()["items"] == []
        assert response.headers["Cart-Token"] != headers["Cart-Token"]

    async def test_every_answer_slides_the_tokens_expiry(self, storesim: httpx.AsyncClient) -> None:
        """A token refreshed within 48 h keeps the cart alive past the first token's exp."""
        headers = await new_cart(storesim)
        await add(storesim, headers, 15)
        await storesim.post("/__sim/clock", json={"advance_seconds": 40 * 3600})
        fresh = await storesim.get(f"{API}/cart", headers={"Cart-Token": headers["Cart-Token"]})
        await storesim.post("/__sim/clock", json={"advance_seconds": 40 * 3600})
        later = await cart(storesim, {"Cart-Token": fresh.headers["Cart-Token"]})
        assert [i["id"] for i in later["items"]] == [15]

    async def test_a_nonce_lives_for_12_to_24_hours(self, storesim: httpx.AsyncClient) -> None:
        """The previous tick's nonce works; one two ticks old gets 403."""
        headers = await new_cart(storesim)
        old = (await storesim.get("/__sim/nonce", params={"ticks_ago": 1})).json()["nonce"]
        older = (await storesim.get("/__sim/nonce", params={"ticks_ago": 2})).json()["nonce"]
        assert (await add(storesim, {**headers, "Nonce": old}, 15)).status_code == 201
        refused = await add(storesim, {**headers, "Nonce": older}, 15)
        assert refused.status_code == 403
        assert refused.json()["code"] == "woocommerce_rest_invalid_nonce"


class TestFaultSettings:
    async def test_an_unknown_moment_is_refused_with_400(self, storesim: httpx.AsyncClient) -> None:
        """``when`` is ``before`` or ``after`` the change; anything else is the caller's error."""
        answer = await storesim.put("/__sim/faults", json={"when": "sometime"})
        assert answer.status_code == 400
        assert (await storesim.get("/__sim/state")).json()["faults"]["when"] == "before"
