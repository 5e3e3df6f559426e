"""``/v1/cart``: thin handlers that parse, call the cart service and render bytes."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, PathParameter

from ..carts import model
from ..carts import operations as ops
from ..carts.service import CartView
from .dependencies import Caller, provide_caller
from .schemas import (
    AddItemIn,
    CouponIn,
    CustomerIn,
    ErrorBody,
    SetQuantityIn,
    ShippingIn,
    address_fields,
)

ItemKey = Annotated[str, PathParameter(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Line key")]
CouponCode = Annotated[str, PathParameter(min_length=1, max_length=100)]
CART_DOC = {
    200: ResponseSpec(model.Cart, description="The caller's cart", generate_examples=False),
    401: ResponseSpec(
        ErrorBody, description="Missing or invalid bearer token", generate_examples=False
    ),
    409: ResponseSpec(ErrorBody, description="Conflict; carries the cart", generate_examples=False),
    422: ResponseSpec(ErrorBody, description="Invalid request", generate_examples=False),
    503: ResponseSpec(ErrorBody, description="The store is unavailable", generate_examples=False),
}


def render(view: CartView) -> Response[bytes]:
    headers = {"ETag": view.etag, "Cache-Control": "private, no-cache"}
    if view.not_modified:
        return Response(b"", status_code=304, headers=headers)
    return Response(view.body, media_type="application/json", headers=headers)


class CartController(Controller):
    path = "/v1/cart"
    tags = ["cart"]
    dependencies = {"caller": Provide(provide_caller)}

    @get(
        "/",
        operation_id="getCart",
        responses={
            **CART_DOC,
            304: ResponseSpec(None, description="Not modified (If-None-Match matched)"),
        },
        summary="The caller's cart (ETag, 304)",
    )
    async def read(
        self,
        caller: NamedDependency[Caller],
        if_none_match: Annotated[str | None, HeaderParameter(name="If-None-Match")] = None,
    ) -> Response[bytes]:
        return render(await caller.service.read(caller.owner, if_none_match))

    @post(
        "/items",
        operation_id="addItem",
        status_code=200,
        responses=CART_DOC,
        summary="Add a product (or a variation)",
    )
    async def add_item(
        self,
        caller: NamedDependency[Caller],
        data: JSONBody[AddItemIn],
    ) -> Response[bytes]:
        variation = tuple(ops.VariationChoice(v.attribute, v.value) for v in data.variation)
        return render(
            await caller.service.apply(
                caller.owner, ops.AddItem(data.product_id, data.quantity, variation)
            )
        )

    @patch(
        "/items/{key:str}",
        operation_id="setItemQuantity",
        responses=CART_DOC,
        summary="Set a line's quantity (0 removes it)",
    )
    async def set_quantity(
        self,
        caller: NamedDependency[Caller],
        key: ItemKey,
        data: JSONBody[SetQuantityIn],
    ) -> Response[bytes]:
        operation: ops.Operation = (
            ops.RemoveItem(key) if data.quantity == 0 else ops.SetQuantity(key, data.quantity)
        )
        return render(await caller.service.apply(caller.owner, operation))

    @delete(
        "/items/{key:str}",
        operation_id="removeItem",
        status_code=200,
        responses=CART_DOC,
        summary="Remove a line",
    )
    async def remove_item(self, caller: NamedDependency[Caller], key: ItemKey) -> Response[bytes]:
        return render(await caller.service.apply(caller.owner, ops.RemoveItem(key)))

    @post(
        "/coupons",
        operation_id="applyCoupon",
        status_code=200,
        responses=CART_DOC,
        summary="Apply a coupon",
    )
    async def apply_coupon(
        self,
        caller: NamedDependency[Caller],
        data: JSONBody[CouponIn],
    ) -> Response[bytes]:
        return render(
            await caller.service.apply(caller.owner, ops.ApplyCoupon(data.code.strip().lower()))
        )

    @delete(
        "/coupons/{code:str}",
        operation_id="removeCoupon",
        status_code=200,
        responses=CART_DOC,
        summary="Remove a coupon",
    )
    async def remove_coupon(
        self, caller: NamedDependency[Caller], code: CouponCode
    ) -> Response[bytes]:
        return render(
            await caller.service.apply(caller.owner, ops.RemoveCoupon(code.strip().lower()))
        )

    @put(
        "/customer",
        operation_id="updateCustomer",
        responses=CART_DOC,
        summary="Billing and shipping addresses (partial updates merge)",
    )
    async def update_customer(
        self,
        caller: NamedDependency[Caller],
        data: JSONBody[CustomerIn],
    ) -> Response[bytes]:
        operation = ops.UpdateCustomer(
            address_fields(data.billing_address), address_fields(data.shipping_address)
        )
        return render(await caller.service.apply(caller.owner, operation))

    @put(
        "/shipping",
        operation_id="selectShippingRate",
        responses=CART_DOC,
        summary="Choose a shipping rate",
    )
    async def select_shipping(
        self,
        caller: NamedDependency[Caller],
        data: JSONBody[ShippingIn],
    ) -> Response[bytes]:
        return render(
            await caller.service.apply(
                caller.owner, ops.SelectShippingRate(data.rate_id, data.package_id)
            )
        )
