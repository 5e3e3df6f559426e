"""Store API routes beyond the recordings, held to WooCommerce's documented behaviour."""

from __future__ import annotations

import httpx

from .helpers import API, add, cart, new_cart


class TestItemRoutes:
    async def test_cart_items_collection_lists_adds_and_empties(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """``cart/items``: GET lists with links, POST answers 201 with the item, DELETE empties."""
        headers = await new_cart(storesim)
        created = await storesim.post(
            f"{API}/cart/items", json={"id": 11, "quantity": 2}, headers=headers
        )
        assert created.status_code == 201
        assert created.json()["quantity"] == 2
        assert created.json()["_links"]["collection"][0]["href"].endswith("/cart/items")
        listed = await storesim.get(f"{API}/cart/items", headers=headers)
        assert [i["id"] for i in listed.json()] == [11]
        emptied = await storesim.delete(f"{API}/cart/items", headers=headers)
        assert (emptied.status_code, emptied.json()) == (200, [])
        assert (await cart(storesim, headers))["items"] == []

    async def test_single_item_route_reads_updates_and_deletes(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """``cart/items/{key}``: PUT sets the quantity, DELETE answers 204, then 409."""
        headers = await new_cart(storesim)
        key = (await add(storesim, headers, 11)).json()["items"][0]["key"]
        updated = await storesim.put(
            f"{API}/cart/items/{key}", json={"quantity": 5}, headers=headers
        )
        assert updated.json()["quantity"] == 5
        deleted = await storesim.delete(f"{API}/cart/items/{key}", headers=headers)
        assert deleted.status_code == 204
        gone = await storesim.get(f"{API}/cart/items/{key}", headers=headers)
        assert gone.status_code == 409
        assert gone.json()["code"] == "woocommerce_rest_cart_invalid_key"
        assert gone.json()["data"]["cart"]["items"] == []

    async def test_parameters_may_come_from_the_query_string(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """As in the Store API reference: ``add-item?id=10&quantity=1`` with no body."""
        headers = await new_cart(storesim)
        response = await storesim.post(f"{API}/cart/add-item?id=10&quantity=3", headers=headers)
        assert response.status_code == 201
        assert response.json()["items"][0]["quantity"] == 3

    async def test_parameters_may_come_from_a_form_body(self, storesim: httpx.AsyncClient) -> None:
        """A form-encoded body, variation attributes included, works like JSON."""
        headers = await new_cart(storesim)
        form = {
            "id": "16",
            "quantity": "1",
            "variation[0][attribute]": "Color",
            "variation[0][value]": "red",
            "variation[1][attribute]": "Logo",
            "variation[1][value]": "No",
        }
        response = await storesim.post(f"{API}/cart/add-item", data=form, headers=headers)
        assert response.status_code == 201
        assert response.json()["items"][0]["id"] == 19

    async def test_a_quantity_that_is_not_an_integer_is_an_argument_error(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """``quantity: "two"`` fails WordPress' validation: 400 ``rest_invalid_param``."""
        headers = await new_cart(storesim)
        response = await add(storesim, headers, 10, quantity="two")  # type: ignore[arg-type]
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "rest_invalid_param"
        assert body["data"]["details"]["quantity"]["code"] == "rest_invalid_type"
        assert "Nonce" not in response.headers

    async def test_update_below_the_minimum_is_refused(self, storesim: httpx.AsyncClient) -> None:
        """Quantity limits: below 1 answers ``invalid_quantity``."""
        headers = await new_cart(storesim)
        key = (await add(storesim, headers, 11)).json()["items"][0]["key"]
        response = await storesim.post(
            f"{API}/cart/update-item", json={"key": key, "quantity": 0}, headers=headers
        )
        assert response.status_code == 400
        assert (
            response.json()["message"] == "The minimum quantity that can be added to the cart is 1"
        )


class TestCoupons:
    async def test_coupon_routes_apply_read_and_remove(self, storesim: httpx.AsyncClient) -> None:
        """``cart/coupons``: POST 201, GET one, DELETE 204, then 404."""
        headers = await new_cart(storesim)
        await add(storesim, headers, 15)
        created = await storesim.post(f"{API}/cart/coupons", json={"code": "TEST"}, headers=headers)
        assert created.status_code == 201
        assert created.json()["code"] == "test"
        assert created.json()["totals"]["total_discount"] == "1350"
        one = await storesim.get(f"{API}/cart/coupons/test", headers=headers)
        assert one.json()["discount_type"] == "percent"
        assert (
            await storesim.delete(f"{API}/cart/coupons/test", headers=headers)
        ).status_code == 204
        missing = await storesim.get(f"{API}/cart/coupons/test", headers=headers)
        assert (missing.status_code, missing.json()["code"]) == (
            404,
            "woocommerce_rest_cart_coupon_invalid_code",
        )

    async def test_an_expired_coupon_is_refused(self, storesim: httpx.AsyncClient) -> None:
        headers = await new_cart(storesim)
        await add(storesim, headers, 15)
        response = await storesim.post(
            f"{API}/cart/apply-coupon", json={"code": "expired"}, headers=headers
        )
        assert response.status_code == 400
        assert response.json()["message"] == "This coupon has expired."

    async def test_a_minimum_spend_coupon_drops_off_when_the_cart_shrinks(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """``min100`` needs 100.00; removing lines below that removes the coupon."""
        headers = await new_cart(storesim)
        await add(storesim, headers, 15, quantity=2)
        applied = await storesim.post(
            f"{API}/cart/apply-coupon", json={"code": "min100"}, headers=headers
        )
        assert [c["code"] for c in applied.json()["coupons"]] == ["min100"]
        key = applied.json()["items"][0]["key"]
        shrunk = await storesim.post(
            f"{API}/cart/update-item", json={"key": key, "quantity": 1}, headers=headers
        )
        assert shrunk.json()["coupons"] == []


class TestWordPressRouting:
    async def test_wrong_methods_and_unknown_routes_are_rest_no_route(
        self, storesim: httpx.AsyncClient
    ) -> None:
        for method, path in (
            ("POST", "/cart"),
            ("GET", "/cart/add-item"),
            ("GET", "/nope"),
            ("GET", "/batch"),
        ):
            response = await storesim.request(method, f"{API}{path}")
            assert (response.status_code, response.json()["code"]) == (404, "rest_no_route")

    async def test_the_index_php_form_of_the_url_is_served(
        self, storesim: httpx.AsyncClient
    ) -> None:
        response = await storesim.get("/index.php/wp-json/wc/store/v1/products/10")
        assert response.json()["name"] == "Beanie with Logo"

    async def test_products_filter_by_type_parent_and_search(
        self, storesim: httpx.AsyncClient
    ) -> None:
        variations = await storesim.get(
            f"{API}/products", params={"type": "variation", "parent": 16}
        )
        assert [p["id"] for p in variations.json()] == [19, 18, 17]
        by_title = await storesim.get(
            f"{API}/products", params={"orderby": "title", "order": "asc"}
        )
        names = [p["name"] for p in by_title.json()]
        assert names == sorted(names, key=str.lower)
        too_many = await storesim.get(f"{API}/products", params={"per_page": 101})
        assert too_many.status_code == 400


class TestCheckoutHandoff:
    async def test_the_storefront_restores_a_guest_cart_from_its_token(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """``/checkout/?session=<Cart-Token>`` opens the same cart in a cookie session."""
        headers = await new_cart(storesim)
        await add(storesim, headers, 10, quantity=2)
        page = await storesim.get("/checkout/", params={"session": headers["Cart-Token"]})
        assert page.status_code == 200
        assert 'data-quantity="2"' in page.text
        assert "wp_woocommerce_session_" in page.headers["set-cookie"]

    async def test_a_bad_session_token_shows_an_empty_cart(
        self, storesim: httpx.AsyncClient
    ) -> None:
        page = await storesim.get("/checkout/", params={"session": "garbage"})
        assert page.status_code == 200
        assert "data-key" not in page.text
