"""Native checkout and the owner's orders: ``POST /v1/cart/checkout``, ``GET /v1/orders``.

A checkout is a write like the others (the cart's lane, Idempotency-Key, If-Match), with
one rule more: it needs an ``Idempotency-Key``, since placing an order must be safe to
retry and nothing else makes it so. The answer is the order and the cart after it.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter

from ..carts import model
from ..carts import operations as ops
from ..carts.errors import Invalid
from ..carts.lane.records import OpResult
from .dependencies import Caller, provide_caller
from .docs import BEARER, JSON_BODY, LANE_WRITE, READ, documented, ok
from .idempotency import Answer
from .schemas import CheckoutIn, CheckoutOut, address_fields
from .writes import mutate, single_answer

OrderId = Annotated[int, PathParameter(ge=1, le=2**53 - 1, description="The order's id")]
_CHECKOUT_WHY = {
    409: "cart_empty; checkout_not_supported (the store has no native checkout: use the "
    "checkout link); out_of_stock, insufficient_stock (with the cart); "
    "idempotency_in_progress; cart_state_lost",
    422: "idempotency_key_required; payment_method_missing, payment_method_unknown, "
    "payment_method_disabled, invalid_address (`field` names it); invalid_request",
}


def checkout_answer(result: OpResult | None) -> Answer:
    """The order and the cart after it; a refusal as any write's."""
    if result is None or result.outcome != "applied" or not result.order:
        return single_answer(result)
    body = b'{"order":' + result.order + b',"cart":' + result.body + b"}"
    return Answer(200, body, result.etag)


class OrdersController(Controller):
    tags = ["orders"]
    dependencies = {"caller": Provide(provide_caller)}
    security = BEARER

    @post(
        "/v1/cart/checkout",
        operation_id="checkout",
        status_code=200,
        **documented(
            {200: ok(CheckoutOut, "The order placed, and the cart after it (empty)")},
            LANE_WRITE,
            JSON_BODY,
            why=_CHECKOUT_WHY,
        ),
        summary="Place the cart as an order, exactly once (Idempotency-Key required)",
    )
    async def checkout(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        data: JSONBody[CheckoutIn],
    ) -> Response[bytes]:
        if not request.headers.get("idempotency-key"):
            raise Invalid(
                "idempotency_key_required",
                "A checkout needs an Idempotency-Key: it is what makes a retry safe.",
                field="Idempotency-Key",
            )
        order = ops.Checkout(
            payment_method=data.payment_method,
            billing=address_fields(data.billing_address),
            shipping=address_fields(data.shipping_address),
            payment_data=tuple((d.key, d.value) for d in data.payment_data),
            customer_note=data.customer_note,
        )
        return await mutate(request, caller, [order], answer_of=checkout_answer)

    @get(
        "/v1/orders",
        operation_id="listOrders",
        **documented({200: ok(model.OrderList, "The owner's orders, newest first")}, READ),
        summary="The orders placed through cartsync from this owner's cart",
    )
    async def orders(self, caller: NamedDependency[Caller]) -> Response[bytes]:
        body = await caller.service.orders(caller.owner)
        return Response(body, media_type="application/json", headers=_PRIVATE)

    @get(
        "/v1/orders/{order_id:int}",
        operation_id="getOrder",
        **documented({200: ok(model.Order, "The order, as the store has it now")}, READ, (404,)),
        summary="One of the owner's orders (another owner's id is 404)",
    )
    async def order(self, caller: NamedDependency[Caller], order_id: OrderId) -> Response[bytes]:
        body = await caller.service.order(caller.owner, order_id)
        return Response(body, media_type="application/json", headers=_PRIVATE)


_PRIVATE = {"Cache-Control": "private, no-cache"}
__all__ = ["OrdersController"]
