"""Replays the checkout recordings (``storeapi-checkout-8.9.1/``, ``-9.9.5/``) against storesim.

As ``replay.py`` does for the cart, plus orders: a recorded order id, order key and
line-item id are bound to the simulator's the first time an answer names them, and
mapped in later requests (``/order/42``, ``?key=``, a body's ``key``) and in the recorded
answers before they are compared. Where a step recorded the store's orders table
(``extra.orders_in_db``), the simulator's orders (``GET /__sim/orders``) must be the same:
status, totals, payment method, billing email and lines, order by order.

What the recording script did to the store's database between steps is done through the
control plane: the order aged an hour (the store's clock), the Cap's stock set to 1 and
back, the order set to pending. Steps 039 (two concurrent POSTs) and 042 (a client that
gives up after 0.05 s) are sequences, as the recordings hold them.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from .replay import Mismatch, Replayer

# folder -> (storesim profile, the site URL the store was recorded at)
FOLDERS = {
    "storeapi-checkout-8.9.1": ("8.9", "http://127.0.0.1:8090"),
    "storeapi-checkout-9.9.5": ("9.9", "http://127.0.0.1:8091"),
}
_ORDER_PATH = re.compile(r"/(order|checkout)/(\d+)$")
_RECEIVED = re.compile(r"/order-received/(\d+)/")
SENT = {
    "Cart-Token",
    "Nonce",
    "X-WC-Store-API-Nonce",
    "Content-Type",
    "Origin",
}
CLIENT_TIMEOUT_S = 0.05  # step 042's client
SLOW_STORE_MS = 200.0  # the store, slower than that client


def php_decimal(cents: int) -> str:
    """A PHP float in major units as the DB dump shows it: ``13``, ``5.4``, ``3.06``."""
    text = f"{cents // 100}.{cents % 100:02d}".rstrip("0").rstrip(".")
    return text or "0"


def _recorded_orders(rows: list[dict[str, Any]], items: list[dict[str, Any]] | None) -> list[Any]:
    lines: dict[str, list[tuple[str, int, str]]] = {}
    for item in items or []:
        if item["type"] == "line_item":
            total = php_decimal(round(float(item["total"]) * 100))
            lines.setdefault(item["order_id"], []).append((item["name"], int(item["qty"]), total))
    return [
        (
            row["status"].removeprefix("wc-"),
            php_decimal(round(float(row["total"]) * 100)),
            php_decimal(round(float(row["shipping_total"]) * 100)),
            php_decimal(round(float(row["discount_total"]) * 100)),
            php_decimal(round(float(row["tax_total"]) * 100)),
            "" if row["payment_method"] == "NULL" else row["payment_method"],
            "" if row["billing_email"] == "NULL" else row["billing_email"],
            row["customer_note"],
            sorted(lines.get(row["id"], [])) if items is not None else None,
        )
        for row in rows
    ]


def _simulated_orders(orders: list[dict[str, Any]], with_lines: bool) -> list[Any]:
    return [
        (
            o["status"],
            php_decimal(int(o["total"])),
            php_decimal(int(o["shipping_total"])),
            php_decimal(int(o["discount_total"])),
            php_decimal(int(o["tax_total"])),
            o["payment_method"],
            o["billing_email"],
            o["customer_note"],
            sorted((ln["name"], ln["quantity"], php_decimal(int(ln["total"]))) for ln in o["lines"])
            if with_lines
            else None,
        )
        for o in orders
    ]


@dataclass
class CheckoutReplayer(Replayer):
    orders: dict[int, int] = field(default_factory=dict)  # recorded order id -> storesim's
    keys: dict[str, str] = field(default_factory=dict)  # recorded order key -> storesim's
    items: dict[int, int] = field(default_factory=dict)  # recorded line-item id -> storesim's

    # -- recorded orders -> storesim's ---------------------------------------------------
    def _bind(self, rec: dict[str, Any], sim: dict[str, Any], id_key: str) -> None:
        r_id, s_id = rec.get(id_key), sim.get(id_key)
        if isinstance(r_id, int) and isinstance(s_id, int):
            self.orders.setdefault(r_id, s_id)
        r_key, s_key = rec.get("order_key"), sim.get("order_key")
        if isinstance(r_key, str) and isinstance(s_key, str):
            self.keys.setdefault(r_key, s_key)
        rec_items, sim_items = rec.get("items"), sim.get("items")
        if id_key == "id" and isinstance(rec_items, list) and isinstance(sim_items, list):
            if rec_items and isinstance(rec_items[0], dict) and "key" in rec_items[0]:
                self.keys.setdefault(rec_items[0]["key"], sim_items[0].get("key", ""))
            for r_item, s_item in zip(rec_items, sim_items, strict=False):
                self.items.setdefault(r_item["id"], s_item["id"])

    def learn_orders(self, rec: Any, sim: Any) -> None:
        if not (isinstance(rec, dict) and isinstance(sim, dict)):
            return
        if "order_id" in rec:
            self._bind(rec, sim, "order_id")
        elif "id" in rec and "totals" in rec and "subtotal" in rec.get("totals", {}):
            self._bind(rec, sim, "id")

    def _text(self, value: str) -> str:
        for recorded, simulated in self.keys.items():
            value = value.replace(recorded, simulated)
        return _RECEIVED.sub(
            lambda m: f"/order-received/{self.orders.get(int(m[1]), int(m[1]))}/", value
        )

    def mapped(self, value: Any, order: bool = False) -> Any:
        """A recorded answer with the real store's order ids and keys swapped."""
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, list):
            return [self.mapped(v, order) for v in value]
        if not isinstance(value, dict):
            return value
        is_order = "order_id" in value or (
            "id" in value
            and isinstance(value.get("totals"), dict)
            and "subtotal" in value["totals"]
        )
        out: dict[str, Any] = {}
        for key, item in value.items():
            if is_order and key in ("order_id", "id") and isinstance(item, int):
                out[key] = self.orders.get(item, item)
            elif is_order and key == "order_number" and isinstance(item, str) and item.isdigit():
                out[key] = str(self.orders.get(int(item), int(item)))
            elif is_order and key == "items" and isinstance(item, list):
                out[key] = [
                    {**self.mapped(i), "id": self.items.get(i["id"], i["id"])}
                    if isinstance(i, dict) and "id" in i
                    else self.mapped(i)
                    for i in item
                ]
            else:
                out[key] = self.mapped(item)
        return out

    # -- sending ----------------------------------------------------------------------
    async def request_of(self, step: dict[str, Any]) -> dict[str, Any]:
        """The recorded request with the simulator's tokens, nonce, order ids and keys."""
        request = step["request"]
        sent = {n: v for n, v in request["headers"] if n in SENT}
        headers = await self.map_headers(sent, step)
        path = _ORDER_PATH.sub(
            lambda m: f"/{m[1]}/{self.orders.get(int(m[2]), int(m[2]))}", request["path"]
        )
        query = {k: self._text(v) for k, v in (request["query"] or {}).items()}
        body = request.get("body")
        content = json.dumps(self.mapped(body)).encode() if body is not None else None
        return {
            "method": request["method"],
            "url": path,
            "params": query or None,
            "headers": headers,
            "content": content,
        }

    async def send(self, step: dict[str, Any]) -> httpx.Response:
        prepared = await self.request_of(step)
        self.client.cookies.clear()  # the recording client kept no cookies
        return await self.client.request(**prepared)

    def compare(self, step: dict[str, Any], response: httpx.Response) -> list[Mismatch]:
        recorded = step["response"]
        try:
            sim_json = response.json() if response.content else None
        except ValueError:
            sim_json = None
        self.learn_orders(recorded.get("json"), sim_json)
        mapped_step = {**step, "response": {**recorded, "json": self.mapped(recorded.get("json"))}}
        return super().compare(mapped_step, response)

    async def compare_orders(self, step: dict[str, Any], key: str) -> list[Mismatch]:
        """The store's orders table after the step, as the recording read it."""
        extra = step.get("extra") or {}
        if key not in extra:
            return []
        listed = (await self.client.get("/__sim/orders")).json()["orders"]
        items = extra.get("order_items_in_db")  # 042 read the orders only
        recorded = _recorded_orders(extra[key], items)
        simulated = _simulated_orders(listed, items is not None)
        if sorted(map(repr, recorded)) == sorted(map(repr, simulated)):
            return []
        return [Mismatch(step["_file"][:3], f"orders at the store ({key})", recorded, simulated)]

    # -- the two sequences ----------------------------------------------------------------
    async def concurrent(self, step: dict[str, Any]) -> list[Mismatch]:
        """Step 039: the same POST /checkout twice at once on one cart."""
        prepared = [await self.request_of(step) for _ in step["exchanges"]]
        self.client.cookies.clear()
        responses = await asyncio.gather(*(self.client.request(**p) for p in prepared))
        found: list[Mismatch] = []
        for exchange, response in zip(step["exchanges"], responses, strict=True):
            found += self.compare({**step, "response": exchange["response"]}, response)
        return found + await self.compare_orders(step, "orders_in_db")

    async def disconnect(self, step: dict[str, Any]) -> list[Mismatch]:
        """Step 042: the client gives up after 0.05 s; the store places the order anyway.
        (The recording slept 4 s before reading the orders table: the replay waits for
        the store's requests to finish instead.)"""
        prepared = await self.request_of(step)
        await self.client.put("/__sim/latency", json={"fixed_ms": SLOW_STORE_MS})
        found: list[Mismatch] = []
        try:
            answer = await asyncio.wait_for(self.client.request(**prepared), CLIENT_TIMEOUT_S)
            found.append(Mismatch("042", "client", "gave up (ReadTimeout)", answer.status_code))
        except TimeoutError:
            pass
        await self.client.post("/__sim/settle")
        await self.client.put("/__sim/latency", json={"profile": "off"})
        return found + await self.compare_orders(step, "orders_in_db_4s_later")
