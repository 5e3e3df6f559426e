"""CoCart carts as sessions: the race on one cart key, 7-day expiry, the load-cart URL."""

from __future__ import annotations

import asyncio

import httpx

from .helpers import API, COCART, cocart_add, cocart_cart, cocart_quantity


def _cookies(response: httpx.Response) -> dict[str, str]:
    """The Cookie header a browser sends after ``response`` (the client keeps none)."""
    jar = "; ".join(f"{name}={value}" for name, value in response.cookies.items())
    return {"Cookie": jar}


async def _in_flight(client: httpx.AsyncClient, route: str, count: int = 1) -> None:
    """Yield until the simulator has counted ``count`` requests on ``route`` (the last one
    has then loaded its cart)."""
    for _ in range(10_000):
        counted = (await client.get("/__sim/state")).json()["counters"]["requests"]
        if counted.get(route, 0) >= count:
            return
        await asyncio.sleep(0)  # wait-ok: a yield to the request in flight, no time passes
    raise AssertionError(f"no {route} request reached the simulator")


class TestSessionRace:
    async def test_concurrent_adds_to_one_cart_key_all_answer_200_but_lose_items(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """As measured on CoCart 4.4: 25 overlapping adds, every one 200, most lost."""
        responses = await asyncio.gather(*(cocart_add(storesim, "race", 15) for _ in range(25)))
        assert [r.status_code for r in responses] == [200] * 25
        assert cocart_quantity(await cocart_cart(storesim, "race"), 15) < 25

    async def test_with_the_race_off_every_add_is_kept(self, storesim: httpx.AsyncClient) -> None:
        (await storesim.put("/__sim/race", json={"enabled": False})).raise_for_status()
        await asyncio.gather(*(cocart_add(storesim, "calm", 15) for _ in range(25)))
        assert cocart_quantity(await cocart_cart(storesim, "calm"), 15) == 25

    async def test_a_read_overlapping_a_write_undoes_it(self, storesim: httpx.AsyncClient) -> None:
        """Every CoCart request writes the whole cart back at its end, GETs included: a GET
        that loaded the cart before an add saved it puts the old cart back."""
        await cocart_add(storesim, "undo", 10)
        await storesim.put("/__sim/latency", json={"fixed_ms": 150})
        add = asyncio.create_task(cocart_add(storesim, "undo", 15))
        await _in_flight(storesim, "POST cocart/v2/cart/add-item", 2)
        read = asyncio.create_task(storesim.get(f"{COCART}/cart", params={"cart_key": "undo"}))
        assert (await add).status_code == 200
        assert (await read).status_code == 200
        await storesim.put("/__sim/latency", json={"profile": "off"})
        after = await cocart_cart(storesim, "undo")
        assert (cocart_quantity(after, 10), cocart_quantity(after, 15)) == (1, 0)

    async def test_sequential_requests_keep_everything(self, storesim: httpx.AsyncClient) -> None:
        for _ in range(5):
            assert (await cocart_add(storesim, "seq", 15)).status_code == 200
            await cocart_cart(storesim, "seq")
        assert cocart_quantity(await cocart_cart(storesim, "seq"), 15) == 5


class TestExpiry:
    async def test_a_guest_cart_is_gone_seven_days_after_its_last_request(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """Past the expiry the same key answers 200 with an empty cart, and says nothing."""
        await cocart_add(storesim, "old", 15)
        await storesim.post("/__sim/clock", json={"advance_seconds": 7 * 86400 + 1})
        response = await storesim.get(f"{COCART}/cart", params={"cart_key": "old"})
        assert response.status_code == 200
        assert response.json()["items"] == []
        assert response.headers["CoCart-API-Cart-Key"] == "old"
        assert (await storesim.get("/__sim/cocart/carts/old")).status_code == 404

    async def test_every_request_naming_the_key_renews_it_reads_included(
        self, storesim: httpx.AsyncClient
    ) -> None:
        await cocart_add(storesim, "kept", 15)
        for _ in range(3):
            await storesim.post("/__sim/clock", json={"advance_seconds": 6 * 86400})
            await cocart_cart(storesim, "kept")
        assert cocart_quantity(await cocart_cart(storesim, "kept"), 15) == 1

    async def test_the_expiry_headers_are_now_plus_six_and_seven_days(
        self, storesim: httpx.AsyncClient
    ) -> None:
        await storesim.post("/__sim/clock", json={"set_to": 1_800_000_000, "freeze": True})
        response = await cocart_add(storesim, "hdr", 10)
        assert response.headers["CoCart-Timestamp"] == "1800000000"
        assert response.headers["CoCart-API-Cart-Expiring"] == str(1_800_000_000 + 6 * 86400)
        assert response.headers["CoCart-API-Cart-Expiration"] == str(1_800_000_000 + 7 * 86400)
        state = (await storesim.get("/__sim/cocart/carts/hdr")).json()
        assert state["expires_at"] == 1_800_000_000 + 7 * 86400


class TestLoadCart:
    async def test_the_load_cart_url_puts_the_cart_in_the_web_session(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """301 with the session cookie; with it, the checkout page shows the CoCart cart."""
        await cocart_add(storesim, "web", 10, 2)
        await cocart_add(storesim, "web", 11)
        loaded = await storesim.get("/", params={"cocart-load-cart": "web"})
        assert loaded.status_code == 301
        assert loaded.headers["Location"] == "http://127.0.0.1:8181/?cocart-load-cart=web"
        names = [c.split("=", 1)[0] for c in loaded.headers.get_list("set-cookie")]
        assert names[:2] == ["woocommerce_items_in_cart", "woocommerce_cart_hash"]
        assert names[2].startswith("wp_woocommerce_session_")
        storesim.cookies.clear()
        page = await storesim.get("/checkout/", headers=_cookies(loaded))
        assert 'data-quantity="2"' in page.text
        assert "Belt" in page.text

    async def test_a_web_write_lands_in_the_cocart_cart(self, storesim: httpx.AsyncClient) -> None:
        """The web session and the API cart are one row: a Store API cookie write shows
        up on the CoCart face under the same key."""
        await cocart_add(storesim, "row", 10)
        cookies = _cookies(await storesim.get("/", params={"cocart-load-cart": "row"}))
        storesim.cookies.clear()
        web = await storesim.get(f"{API}/cart", headers=cookies)
        assert [i["id"] for i in web.json()["items"]] == [10]
        added = await storesim.post(
            f"{API}/cart/add-item",
            json={"id": 15, "quantity": 1},
            headers={**cookies, "Nonce": web.headers["Nonce"]},
        )
        assert added.status_code == 201
        storesim.cookies.clear()
        assert [i["id"] for i in (await cocart_cart(storesim, "row"))["items"]] == [10, 15]

    async def test_an_unknown_key_redirects_without_cookies(
        self, storesim: httpx.AsyncClient
    ) -> None:
        response = await storesim.get(
            "/", params={"cocart-load-cart": "nothing-here", "notify": "true"}
        )
        assert response.status_code == 301
        assert response.headers.get_list("set-cookie") == []

    async def test_loading_another_cart_deletes_the_web_cart_it_replaces(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """``load_cart_action`` destroys the visitor's previous guest cart."""
        await cocart_add(storesim, "first", 10)
        await cocart_add(storesim, "second", 11)
        cookies = _cookies(await storesim.get("/", params={"cocart-load-cart": "first"}))
        storesim.cookies.clear()
        await storesim.get("/", params={"cocart-load-cart": "second"}, headers=cookies)
        storesim.cookies.clear()
        assert (await storesim.get("/__sim/cocart/carts/first")).status_code == 404
        assert (await cocart_cart(storesim, "first"))["items"] == []
