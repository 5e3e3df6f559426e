"""``/v1/products``: the catalogue in the compact style, cached for a short time."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter, QueryParameter

from ..carts import model
from ..carts.ports.upstream import ProductQuery
from .dependencies import Caller, provide_caller
from .docs import BEARER, CATALOGUE, documented, ok
from .schemas import MAX_ID

_CACHE = {"Cache-Control": "private, max-age=30"}


class ProductController(Controller):
    path = "/v1/products"
    tags = ["products"]
    security = BEARER
    dependencies = {"caller": Provide(provide_caller)}

    @get(
        "/",
        operation_id="listProducts",
        **documented(
            {200: ok(model.ProductPage, "A page of the catalogue")},
            CATALOGUE,
            why={
                404: "Not found: a category or parent the store does not know",
                409: "rejected_by_store: the store refused the query (a page past the end)",
            },
        ),
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
        parent: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    ) -> Response[bytes]:
        query = ProductQuery(page, per_page, search, category, product_type, parent)
        return Response(
            await caller.service.products(query), media_type="application/json", headers=_CACHE
        )

    @get(
        "/{product_id:int}",
        operation_id="getProduct",
        **documented(
            {200: ok(model.Product, "The product, with its attributes and variations")},
            CATALOGUE,
            why={
                404: "product_not_found: no such product or variation",
                409: "rejected_by_store: the store refused to show it",
            },
        ),
        summary="One product or variation",
    )
    async def get_product(
        self,
        caller: NamedDependency[Caller],
        product_id: Annotated[int, PathParameter(ge=1, le=MAX_ID)],
    ) -> Response[bytes]:
        return Response(
            await caller.service.product(product_id), media_type="application/json", headers=_CACHE
        )
