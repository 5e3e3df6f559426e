"""The control plane's orders: what the store made, so tests can count orders at the
store (``GET /__sim/orders``), change one as an admin would (``PUT``), and wait for the
requests a client gave up on to finish (``POST /__sim/settle``). Not part of WooCommerce.

Money is in minor units, as strings (``"7480"``), as the Store API writes it.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, JSONBody

from .control import sim_of

STATUSES = (
    "checkout-draft",
    "pending",
    "failed",
    "on-hold",
    "processing",
    "completed",
    "cancelled",
    "refunded",
)


class OrderIn(msgspec.Struct, forbid_unknown_fields=True):
    status: str | None = None  # e.g. "pending", so that POST /checkout/{id} can pay it
    created_at: float | None = None  # a unix time on the store's clock


class OrdersControl(Controller):
    path = "/__sim"
    include_in_schema = False

    @get("/orders")
    async def orders(
        self, request: Request[Any, Any, Any], status: FromQuery[str | None] = None
    ) -> dict[str, Any]:
        """Every order, oldest first, drafts included (``?status=on-hold`` filters):
        ``{"orders": [{"id", "order_key", "status", "created_at", "session", "total",
        "subtotal", "discount_total", "shipping_total", "tax_total", "shipping_tax",
        "payment_method", "billing_email", "customer_note", "shipping_rate", "coupons",
        "lines": [{"product_id", "name", "quantity", "total"}]}]}``."""
        return {"orders": sim_of(request).orders.describe(status)}

    @get("/orders/{order_id:int}")
    async def order(self, request: Request[Any, Any, Any], order_id: FromPath[int]) -> Any:
        found = sim_of(request).orders.get(order_id)
        if found is None:
            raise NotFoundException(f"no order {order_id}")
        return found.describe()

    @put("/orders/{order_id:int}")
    async def change(
        self, request: Request[Any, Any, Any], order_id: FromPath[int], data: JSONBody[OrderIn]
    ) -> Any:
        """Set an order's status or its creation time, as an admin (or the DB) would."""
        found = sim_of(request).orders.get(order_id)
        if found is None:
            raise NotFoundException(f"no order {order_id}")
        if data.status is not None:
            if data.status not in STATUSES:
                raise ValidationException(f"status must be one of {', '.join(STATUSES)}")
            found.status = data.status
        if data.created_at is not None:
            found.created_at = data.created_at
        return found.describe()

    @post("/settle", status_code=200)
    async def settle(
        self, request: Request[Any, Any, Any], timeout_seconds: FromQuery[float] = 30.0
    ) -> dict[str, int]:
        """Wait until every store request already started has finished, those whose
        client gave up included (PHP runs on): ``{"settled": N}`` were still running."""
        return {"settled": await sim_of(request).settle(timeout_seconds)}
