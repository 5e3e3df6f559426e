"""Small helpers for driving a storesim (in process or live) like a headless client."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

API = "/wp-json/wc/store/v1"


async def new_cart(client: httpx.AsyncClient) -> dict[str, str]:
    """Headers (Cart-Token and Nonce) for a fresh guest cart."""
    response = await client.get(f"{API}/cart")
    response.raise_for_status()
    return {"Cart-Token": response.headers["Cart-Token"], "Nonce": response.headers["Nonce"]}


async def add(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    product_id: int,
    quantity: int = 1,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"{API}/cart/add-item",
        json={"id": product_id, "quantity": quantity, **extra},
        headers=headers,
    )


async def cart(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"{API}/cart", headers={"Cart-Token": headers["Cart-Token"]})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def quantity(cart_body: dict[str, Any], product_id: int) -> int:
    return sum(i["quantity"] for i in cart_body["items"] if i["id"] == product_id)


COCART = "/wp-json/cocart/v2"


async def cocart_add(
    client: httpx.AsyncClient, key: str | None, product_id: int, quantity: int = 1, **extra: Any
) -> httpx.Response:
    """CoCart add-item: ``id`` and ``quantity`` as strings, the key in the header."""
    headers = {"CoCart-API-Cart-Key": key} if key else {}
    return await client.post(
        f"{COCART}/cart/add-item",
        json={"id": str(product_id), "quantity": str(quantity), **extra},
        headers=headers,
    )


async def cocart_cart(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    response = await client.get(f"{COCART}/cart", params={"cart_key": key})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def cocart_quantity(cart_body: dict[str, Any], product_id: int) -> int:
    return sum(i["quantity"]["value"] for i in cart_body["items"] if i["id"] == product_id)


ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "",
    "address_1": "1 Main St",
    "address_2": "",
    "city": "Los Angeles",
    "state": "CA",
    "postcode": "90001",
    "country": "US",
    "phone": "555-0100",
}
BILLING = {**ADDRESS, "email": "ada@example.com"}


def order_body(email: str = "ada@example.com", **extra: Any) -> dict[str, Any]:
    """A valid POST /checkout body: billing (with ``email``), shipping, bacs."""
    return {
        "billing_address": {**BILLING, "email": email},
        "shipping_address": ADDRESS,
        "payment_method": "bacs",
        **extra,
    }


async def checkout(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any] | None = None
) -> httpx.Response:
    return await client.post(f"{API}/checkout", json=body or order_body(), headers=headers)


async def orders_at_store(
    client: httpx.AsyncClient, status: str | None = None
) -> list[dict[str, Any]]:
    """The orders the store made (``GET /__sim/orders``), drafts included unless filtered."""
    params = {"status": status} if status else None
    response = await client.get("/__sim/orders", params=params)
    response.raise_for_status()
    listed: list[dict[str, Any]] = response.json()["orders"]
    return listed


def token_user(token: str) -> str:
    """The ``user_id`` a Cart-Token names (its payload is readable without the secret)."""
    part = token.split(".")[1]
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return str(payload["user_id"])
