"""``/v1/cart``: thin handlers that parse, call the cart service and render bytes.

Every mutation accepts ``Idempotency-Key`` and ``If-Match`` (``writes.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import Parameter as OpenApiParameter
from litestar.openapi.spec import Schema
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter

from ..auth import AuthError
from ..carts import model
from ..carts import operations as ops
from ..carts.errors import Invalid
from ..carts.merge import merge_guest
from ..carts.reads import CartView
from .dependencies import Caller, provide_caller
from .docs import AUTHENTICATED, BEARER, JSON_BODY, LANE_WRITE, READ, documented, ok
from .errors import BodyTokenError
from .schemas import (
    AddItemIn,
    CouponIn,
    CustomerIn,
    MergeIn,
    MergeOut,
    OpsIn,
    OpsOut,
    SetQuantityIn,
    ShippingIn,
    address_fields,
    to_operation,
)
from .writes import mutate

_ENCODER = msgspec.json.Encoder()
ItemKey = Annotated[str, PathParameter(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Line key")]
CouponCode = Annotated[str, PathParameter(min_length=1, max_length=100)]


CART_WRITE = documented({200: ok(model.Cart, "The cart after the change")}, LANE_WRITE, JSON_BODY)
CART_DELETE = documented({200: ok(model.Cart, "The cart after the change")}, LANE_WRITE)
WRITE_HEADERS = [
    OpenApiParameter(
        name="Idempotency-Key",
        param_in="header",
        required=False,
        schema=Schema(type="string", max_length=255),  # type: ignore[arg-type]
        description="Retries with the same key have exactly one effect (24 h).",
    ),
    OpenApiParameter(
        name="If-Match",
        param_in="header",
        required=False,
        schema=Schema(type="string"),  # type: ignore[arg-type]
        description='Apply only if the cart is still at this ETag ("epoch.n").',
    ),
]


def render(view: CartView) -> Response[bytes]:
    headers = {"ETag": view.etag, "Cache-Control": "private, no-cache"}
    if view.not_modified:
        return Response(b"", status_code=304, headers=headers)
    return Response(view.body, media_type="application/json", headers=headers)


class CartController(Controller):
    path = "/v1/cart"
    tags = ["cart"]
    security = BEARER
    dependencies = {"caller": Provide(provide_caller)}

    @get(
        "/",
        operation_id="getCart",
        summary="The caller's cart (ETag, 304)",
        **documented(
            {
                200: ok(model.Cart, "The caller's cart"),
                304: ok(None, "Not modified (If-None-Match; a long poll that timed out)"),
            },
            READ,
        ),
    )
    async def read(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        if_none_match: Annotated[str | None, HeaderParameter(name="If-None-Match")] = None,
        wait_for_change: Annotated[
            str | None,
            QueryParameter(
                max_length=64,
                description="Long poll: answer once the cart's "
                "version is no longer this one (304 after `timeout` seconds)",
            ),
        ] = None,
        timeout: Annotated[float, QueryParameter(gt=0, le=60)] = 25.0,  # noqa: ASYNC109 - a query parameter, not a call timeout
    ) -> Response[bytes]:
        if wait_for_change is not None:
            limit = min(timeout, request.app.state.settings.long_poll_max_s)
            view = await caller.service.wait_for_change(caller.owner, wait_for_change, limit)
            return render(view)
        return render(await caller.service.read(caller.owner, if_none_match))

    @post(
        "/items",
        operation_id="addItem",
        status_code=200,
        **CART_WRITE,
        parameters=WRITE_HEADERS,
        summary="Add a product (or a variation)",
    )
    async def add_item(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        data: JSONBody[AddItemIn],
    ) -> Response[bytes]:
        variation = tuple(ops.VariationChoice(v.attribute, v.value) for v in data.variation)
        return await mutate(
            request, caller, [ops.AddItem(data.product_id, data.quantity, variation)]
        )

    @patch(
        "/items/{key:str}",
        operation_id="setItemQuantity",
        **CART_WRITE,
        parameters=WRITE_HEADERS,
        summary="Set a line's quantity (0 removes it)",
    )
    async def set_quantity(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        key: ItemKey,
        data: JSONBody[SetQuantityIn],
    ) -> Response[bytes]:
        operation: ops.Operation = (
            ops.RemoveItem(key) if data.quantity == 0 else ops.SetQuantity(key, data.quantity)
        )
        return await mutate(request, caller, [operation])

    @delete(
        "/items/{key:str}",
        operation_id="removeItem",
        status_code=200,
        **CART_DELETE,
        parameters=WRITE_HEADERS,
        summary="Remove a line",
    )
    async def remove_item(
        self, request: Request[Any, Any, Any], caller: NamedDependency[Caller], key: ItemKey
    ) -> Response[bytes]:
        return await mutate(request, caller, [ops.RemoveItem(key)])

    @post(
        "/coupons",
        operation_id="applyCoupon",
        status_code=200,
        **CART_WRITE,
        parameters=WRITE_HEADERS,
        summary="Apply a coupon",
    )
    async def apply_coupon(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        data: JSONBody[CouponIn],
    ) -> Response[bytes]:
        return await mutate(request, caller, [ops.ApplyCoupon(data.code.strip().lower())])

    @delete(
        "/coupons/{code:str}",
        operation_id="removeCoupon",
        status_code=200,
        **CART_DELETE,
        parameters=WRITE_HEADERS,
        summary="Remove a coupon",
    )
    async def remove_coupon(
        self, request: Request[Any, Any, Any], caller: NamedDependency[Caller], code: CouponCode
    ) -> Response[bytes]:
        return await mutate(request, caller, [ops.RemoveCoupon(code.strip().lower())])

    @put(
        "/customer",
        operation_id="updateCustomer",
        **CART_WRITE,
        parameters=WRITE_HEADERS,
        summary="Billing and shipping addresses (partial updates merge)",
    )
    async def update_customer(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        data: JSONBody[CustomerIn],
    ) -> Response[bytes]:
        operation = ops.UpdateCustomer(
            address_fields(data.billing_address), address_fields(data.shipping_address)
        )
        return await mutate(request, caller, [operation])

    @put(
        "/shipping",
        operation_id="selectShippingRate",
        **CART_WRITE,
        parameters=WRITE_HEADERS,
        summary="Choose a shipping rate",
    )
    async def select_shipping(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        data: JSONBody[ShippingIn],
    ) -> Response[bytes]:
        return await mutate(
            request, caller, [ops.SelectShippingRate(data.rate_id, data.package_id)]
        )

    @post(
        "/merge",
        operation_id="mergeGuestCart",
        status_code=200,
        **documented(
            {200: ok(MergeOut, "What was merged, line by line, and the cart")},
            AUTHENTICATED,
            JSON_BODY,
            (409,),
            why={
                401: "missing_token, invalid_token, token_expired: the bearer token, or "
                "`guest_token` (field `guest_token`: not a valid guest token)",
                409: "guest_already_merged (into another account), merge_in_progress "
                "(Retry-After), idempotency_in_progress",
                422: "invalid_request: a body field fails validation, or the caller is "
                "not a signed-in user (field `authorization`)",
            },
        ),
        summary="Merge a guest cart (its guest token) into the signed-in user's cart",
    )
    async def merge(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        data: JSONBody[MergeIn],
    ) -> Response[bytes]:
        state = request.app.state
        try:
            guest = state.authenticator.guest_owner(data.guest_token)
        except AuthError as exc:
            raise BodyTokenError(exc, "guest_token") from None
        report = await merge_guest(
            caller.service,
            state.state,
            caller.owner,
            guest,
            state.settings.merge_policy,
            state.settings.guest_token_ttl_s,
        )
        view = await caller.service.read(caller.owner)
        body = b'{"merge":' + _ENCODER.encode(report) + b',"cart":' + view.body + b"}"
        return Response(
            body,
            media_type="application/json",
            headers={"ETag": view.etag, "Cache-Control": "no-store"},
        )

    @post(
        "/ops",
        operation_id="applyOperations",
        status_code=200,
        **documented(
            {
                200: ok(OpsOut, "One result per op_id, and the cart"),
                202: ok(OpsOut, "Some results are not known yet (pending): retry with the key"),
            },
            AUTHENTICATED,
            JSON_BODY,
            (409,),
            why={
                409: "idempotency_in_progress: the first request with this key is running",
                503: "Every operation certainly not applied (the store is unavailable), "
                "or state_unavailable; retry after Retry-After",
            },
        ),
        parameters=WRITE_HEADERS,
        summary="Apply a list of operations in order (an app's offline queue)",
    )
    async def apply_ops(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        data: JSONBody[OpsIn],
    ) -> Response[bytes]:
        settings = request.app.state.settings
        if len(data.operations) > settings.max_ops_per_request:
            raise Invalid(
                "invalid_request",
                f"At most {settings.max_ops_per_request} operations per request.",
                field="operations",
            )
        client_ids = [op.op_id for op in data.operations]
        if len(set(client_ids)) != len(client_ids):
            raise Invalid("invalid_request", "op_id values must be unique.", field="operations")
        return await mutate(
            request, caller, [to_operation(op) for op in data.operations], client_ids
        )
