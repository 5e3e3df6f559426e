"""``/v1/products``: the catalogue in the compact style, cached for a short time."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter, QueryParameter

from ..carts import model
from ..carts.ports.upstream import ProductQuery
from .dependencies import Caller, provide_caller
from .schemas import ErrorBody

_CACHE = {"Cache-Control": "private, max-age=30"}


class ProductController(Controller):
    path = "/v1/products"
    tags = ["products"]
    dependencies = {"caller": Provide(provide_caller)}

    @get(
        "/",
        operation_id="listProducts",
        responses={
            200: ResponseSpec(model.ProductPage, generate_examples=False),
            503: ResponseSpec(ErrorBody, generate_examples=False),
        },
        summary="A page of the catalogue",
    )
    async def list_products(
        self,
        caller: NamedDependency[Caller],
        page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        search: Annotated[str | None, QueryParameter(max_length=100)] = None,
        category: Annotated[str | None, QueryParameter(max_length=100)] = None,
        product_type: Annotated[
            str | None, QueryParameter(name="type", pattern="^[a-z_]{1,20}$")
        ] = None,
        parent: Annotated[int | None, QueryParameter(ge=1)] = None,
    ) -> Response[bytes]:
        query = ProductQuery(page, per_page, search, category, product_type, parent)
        return Response(
            await caller.service.products(query), media_type="application/json", headers=_CACHE
        )

    @get(
        "/{product_id:int}",
        operation_id="getProduct",
        responses={
            200: ResponseSpec(model.Product, generate_examples=False),
            404: ResponseSpec(ErrorBody, generate_examples=False),
        },
        summary="One product or variation",
    )
    async def get_product(
        self,
        caller: NamedDependency[Caller],
        product_id: Annotated[int, PathParameter(ge=1)],
    ) -> Response[bytes]:
        return Response(
            await caller.service.product(product_id), media_type="application/json", headers=_CACHE
        )
