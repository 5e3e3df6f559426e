"""CoCart routes beyond the recordings, held to CoCart 4.4's source (co-cart/co-cart)."""

from __future__ import annotations

import httpx

from .helpers import COCART, cocart_add, cocart_cart, cocart_quantity


class TestCartKeys:
    async def test_the_header_wins_over_the_query_and_keys_are_sanitised(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """``CoCart-API-Cart-Key`` beats ``?cart_key=``; both go through sanitize_key."""
        await cocart_add(storesim, "mycart", 15)
        response = await storesim.get(
            f"{COCART}/cart",
            params={"cart_key": "other"},
            headers={"CoCart-API-Cart-Key": "MyCart!"},
        )
        assert response.headers["CoCart-API-Cart-Key"] == "mycart"
        assert cocart_quantity(response.json(), 15) == 1

    async def test_a_key_in_a_json_body_is_not_read_but_a_form_body_key_is(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """The key comes from ``$_REQUEST``: a JSON body's ``cart_key`` starts a new cart."""
        await cocart_add(storesim, "formcart", 10)
        by_json = await storesim.post(
            f"{COCART}/cart/add-item", json={"id": "11", "quantity": "1", "cart_key": "formcart"}
        )
        assert by_json.status_code == 200
        assert by_json.headers["CoCart-API-Cart-Key"] != "formcart"
        by_form = await storesim.post(
            f"{COCART}/cart/add-item", data={"id": "11", "quantity": "1", "cart_key": "formcart"}
        )
        assert by_form.headers["CoCart-API-Cart-Key"] == "formcart"
        assert [i["id"] for i in by_form.json()["items"]] == [10, 11]

    async def test_post_cart_creates_an_empty_cart_and_names_its_key(
        self, storesim: httpx.AsyncClient
    ) -> None:
        created = await storesim.post(f"{COCART}/cart")
        assert created.status_code == 200
        key = created.json()["cart_key"]
        assert len(key) == 30
        assert key == created.headers["CoCart-API-Cart-Key"]
        state = await storesim.get(f"/__sim/cocart/carts/{key}")
        assert (state.status_code, state.json()["items"]) == (200, [])


class TestAddItemRules:
    async def test_above_the_stock_is_405_and_sold_individually_again_is_403(
        self, storesim: httpx.AsyncClient
    ) -> None:
        too_many = await cocart_add(storesim, "rules", 12, 4)
        assert (too_many.status_code, too_many.json()["code"]) == (
            405,
            "cocart_quantity_invalid_amount",
        )
        assert too_many.json()["message"] == "Quantity must be 3 or lower."
        assert "CoCart-API-Cart-Key" not in too_many.headers
        assert (await cocart_add(storesim, "rules", 13)).status_code == 200
        again = await cocart_add(storesim, "rules", 13)
        assert (again.status_code, again.json()["code"]) == (
            403,
            "cocart_product_sold_individually",
        )
        assert again.json()["message"] == "You cannot add another 'Album' to your cart."

    async def test_stock_counts_what_the_cart_already_holds(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """Cap has 3: two, then two more, is refused with the in-cart quantity."""
        assert (await cocart_add(storesim, "caps", 12, 2)).status_code == 200
        refused = await cocart_add(storesim, "caps", 12, 2)
        assert (refused.status_code, refused.json()["code"]) == (
            404,
            "cocart_not_enough_stock_remaining",
        )
        assert "You already have (2) in your cart." in refused.json()["message"]

    async def test_a_quantity_of_zero_is_405_and_a_word_is_400(
        self, storesim: httpx.AsyncClient
    ) -> None:
        zero = await cocart_add(storesim, "q", 10, 0)
        assert (zero.status_code, zero.json()["message"]) == (
            405,
            "Quantity must be a minimum of 1.",
        )
        word = await storesim.post(
            f"{COCART}/cart/add-item",
            json={"id": "10", "quantity": "two"},
            headers={"CoCart-API-Cart-Key": "q"},
        )
        assert word.status_code == 400
        assert word.json()["data"]["params"] == {"quantity": "Invalid parameter."}

    async def test_a_sku_works_as_the_id_and_an_unknown_one_is_404(
        self, storesim: httpx.AsyncClient
    ) -> None:
        by_sku = await storesim.post(
            f"{COCART}/cart/add-item",
            json={"id": "woo-belt"},
            headers={"CoCart-API-Cart-Key": "sku"},
        )
        assert [i["id"] for i in by_sku.json()["items"]] == [11]
        unknown = await storesim.post(
            f"{COCART}/cart/add-item", json={"id": "nope"}, headers={"CoCart-API-Cart-Key": "sku"}
        )
        assert (unknown.status_code, unknown.json()["code"]) == (404, "cocart_unknown_product_id")

    async def test_a_variation_that_does_not_exist_is_404(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """Red with a logo has no variation: ``cocart_no_variation_found``."""
        response = await cocart_add(
            storesim, "v", 16, variation={"attribute_pa_color": "red", "attribute_logo": "Yes"}
        )
        assert (response.status_code, response.json()["code"]) == (404, "cocart_no_variation_found")

    async def test_return_item_answers_only_the_added_item(
        self, storesim: httpx.AsyncClient
    ) -> None:
        response = await cocart_add(storesim, "ri", 19, 2, return_item=True)
        body = response.json()
        assert (body["id"], body["quantity"]["value"], body["name"]) == (19, 2, "Hoodie - Red, No")
        assert body["totals"] == {"subtotal": "8400", "subtotal_tax": 8.4, "total": 84, "tax": 8.4}


class TestItemsAndUpdates:
    async def test_update_cart_sets_several_lines_and_zero_removes(
        self, storesim: httpx.AsyncClient
    ) -> None:
        """One request, many lines; an unknown key is skipped; 0 moves a line to removed."""
        await cocart_add(storesim, "many", 10)
        await cocart_add(storesim, "many", 11)
        keys = [i["item_key"] for i in (await cocart_cart(storesim, "many"))["items"]]
        response = await storesim.post(
            f"{COCART}/cart/update",
            params={"cart_key": "many"},
            json={"namespace": "update-cart", "quantity": {keys[0]: "5", keys[1]: "0", "zzz": "3"}},
        )
        body = response.json()
        assert [(i["id"], i["quantity"]["value"]) for i in body["items"]] == [(10, 5)]
        assert [i["id"] for i in body["removed_items"]] == [11]
        assert body["notices"] == {"success": ["Cart updated."]}

    async def test_remove_then_restore_puts_the_line_back(
        self, storesim: httpx.AsyncClient
    ) -> None:
        await cocart_add(storesim, "rr", 15, 2)
        key = (await cocart_cart(storesim, "rr"))["items"][0]["item_key"]
        removed = await storesim.delete(f"{COCART}/cart/item/{key}", params={"cart_key": "rr"})
        assert removed.json()["notices"] == {
            "success": ['"Sunglasses" has been removed from cart.']
        }
        again = await storesim.delete(f"{COCART}/cart/item/{key}", params={"cart_key": "rr"})
        assert again.json()["message"] == '"Sunglasses" has already been removed from cart.'
        restored = await storesim.put(f"{COCART}/cart/item/{key}", params={"cart_key": "rr"})
        body = restored.json()
        assert (body["items"][0]["quantity"]["value"], body["removed_items"]) == (2, [])

    async def test_an_unknown_item_key_is_404_and_an_empty_cart_refuses_updates(
        self, storesim: httpx.AsyncClient
    ) -> None:
        unknown = await storesim.post(
            f"{COCART}/cart/item/abc", params={"cart_key": "none"}, json={"quantity": "2"}
        )
        assert (unknown.status_code, unknown.json()["code"]) == (404, "cocart_item_not_in_cart")
        empty = await storesim.post(
            f"{COCART}/cart/update", params={"cart_key": "none"}, json={"namespace": "update-cart"}
        )
        assert (empty.status_code, empty.json()["code"]) == (404, "cocart_cart_empty")

    async def test_count_and_limited_fields(self, storesim: httpx.AsyncClient) -> None:
        await cocart_add(storesim, "cnt", 10, 3)
        count = await storesim.get(f"{COCART}/cart/items/count", params={"cart_key": "cnt"})
        assert count.json() == 3
        limited = await storesim.get(
            f"{COCART}/cart",
            params={"cart_key": "cnt", "fields": "totals:subtotal-total,item_count"},
        )
        assert limited.json() == {"totals": {"subtotal": "5400", "total": "7370"}, "item_count": 3}

    async def test_an_invalid_postcode_is_an_error_notice_and_keeps_the_old_one(
        self, storesim: httpx.AsyncClient
    ) -> None:
        await cocart_add(storesim, "pc", 10)
        response = await storesim.post(
            f"{COCART}/cart/update",
            params={"cart_key": "pc"},
            json={"namespace": "update-customer", "first_name": "Ann", "postcode": "ABCDE"},
        )
        body = response.json()
        assert body["notices"] == {"error": ["Billing postcode is not a valid postcode / ZIP."]}
        assert body["customer"]["billing_address"]["billing_first_name"] == "Ann"
        assert body["customer"]["billing_address"]["billing_postcode"] == ""
