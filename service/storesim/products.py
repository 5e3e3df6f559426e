"""``/products`` and ``/products/{id|slug}``: filtering, paging and WordPress' headers."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .errors import StoreError
from .params import Arg, php_intval
from .render import Renderer
from .routes import NAMESPACE, Call, Result, Route

RAW_QUERY = "__raw_query"  # the HTTP layer passes the query string for the Link header

LIST_ARGS = {
    "page": Arg(("integer",), default=1, minimum=1),
    "per_page": Arg(("integer",), default=10, minimum=0, maximum=100),
    "search": Arg(("string",)),
    "slug": Arg(("string",)),
    "sku": Arg(("string",)),
    "type": Arg(("string",)),
    "parent": Arg(("array", "integer", "string")),
    "include": Arg(("array", "integer", "string")),
    "exclude": Arg(("array", "integer", "string")),
    "order": Arg(("string",), default="desc", enum=("asc", "desc")),
    "orderby": Arg(("string",), default="date"),
    "on_sale": Arg(("boolean", "string")),
    "stock_status": Arg(("array", "string")),
}


def _ids(value: Any) -> set[int]:
    if value is None:
        return set()
    items = value if isinstance(value, list) else str(value).split(",")
    return {php_intval(v) for v in items if str(v).strip()}


def _matches(doc: dict[str, Any], p: dict[str, Any]) -> bool:
    wanted_type = p.get("type")
    if wanted_type:
        if doc["type"] != wanted_type:
            return False
    elif doc["type"] == "variation":
        return False
    if p.get("parent") is not None and doc["parent"] not in _ids(p["parent"]):
        return False
    if p.get("include") and doc["id"] not in _ids(p["include"]):
        return False
    if p.get("exclude") and doc["id"] in _ids(p["exclude"]):
        return False
    if p.get("slug") and doc["slug"] not in str(p["slug"]).split(","):
        return False
    if p.get("sku") and doc["sku"] not in str(p["sku"]).split(","):
        return False
    if p.get("on_sale") not in (None, "") and doc["on_sale"] != (
        p["on_sale"] in (True, "true", "1")
    ):
        return False
    if p.get("stock_status"):
        wanted = p["stock_status"] if isinstance(p["stock_status"], list) else [p["stock_status"]]
        status = "instock" if doc["is_in_stock"] else "outofstock"
        if status not in wanted:
            return False
    search = (p.get("search") or "").strip().lower()
    if search:
        text = " ".join((doc["name"], doc["description"], doc["short_description"])).lower()
        if search not in text:
            return False
    return True


def _sort(docs: list[dict[str, Any]], orderby: str, order: str) -> list[dict[str, Any]]:
    keys = {
        "id": lambda d: d["id"],
        "title": lambda d: d["name"].lower(),
        "slug": lambda d: d["slug"],
        "price": lambda d: int(d["prices"]["price"]),
    }
    if orderby in keys:
        return sorted(docs, key=keys[orderby], reverse=order == "desc")
    # date (the default), modified, popularity, rating, menu_order: the listing order,
    # which is newest first.
    return docs if order == "desc" else list(reversed(docs))


def _page_link(site: str, raw_query: str, page: int) -> str:
    """WordPress' ``add_query_arg`` on an ``&#038;``-escaped URL: the rest after ``#``
    survives as a fragment (``?per_page=3&page=1#038;page=2`` in the recordings)."""
    escaped = raw_query.replace("&", "&#038;")
    before, _, fragment = escaped.partition("#")
    params = [(k, v) for k, v in parse_qsl(before, keep_blank_values=True) if k != "page"]
    params.append(("page", str(page)))
    url = f"{site}/wp-json/wc/store/v1/products?{urlencode(params)}"
    return f"{url}#{fragment}" if fragment else url


def list_products(call: Call, p: dict[str, Any]) -> Result:
    raw_query = str(p.get(RAW_QUERY, ""))
    docs = [d for d in call.renderer.products(call.site, call.inventory) if _matches(d, p)]
    docs = _sort(docs, p.get("orderby") or "date", p.get("order") or "desc")
    per_page = p.get("per_page", 10)
    page = p.get("page", 1)
    total = len(docs)
    pages = math.ceil(total / per_page) if per_page else 1
    if total and page > pages:
        raise StoreError(
            "rest_post_invalid_page_number",
            "The page number requested is larger than the number of pages available.",
            400,
        )
    chunk = docs[(page - 1) * per_page : page * per_page] if per_page else docs
    headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages))]
    links = []
    if page > 1:
        links.append(f'<{_page_link(call.site, raw_query, page - 1)}>; rel="prev"')
    if page < pages:
        links.append(f'<{_page_link(call.site, raw_query, page + 1)}>; rel="next"')
    if links:
        headers.append(("Link", ", ".join(links)))
    # The recorded catalogue's newest change, a raw timestamp.
    headers.append(("Last-Modified", call.profile.products_last_modified))
    return Result(200, chunk, headers)


def get_product(call: Call, p: dict[str, Any]) -> Result:
    renderer: Renderer = call.renderer
    ident = str(p.get("id") or p.get("slug") or "")
    for doc in renderer.products(call.site, call.inventory):
        if str(doc["id"]) == ident or (not ident.isdigit() and doc["slug"] == ident):
            return Result(200, doc)
    raise StoreError("woocommerce_rest_product_invalid_id", "Invalid product ID.", 404)


PRODUCT_ROUTES: tuple[Route, ...] = (
    Route(
        "products",
        re.compile(f"^{NAMESPACE}/products$"),
        {"GET": list_products},
        {"GET": LIST_ARGS},
        cart=False,
    ),
    Route(
        "products/{id}",
        re.compile(rf"^{NAMESPACE}/products/(?P<id>[\d]+)$"),
        {"GET": get_product},
        {},
        cart=False,
    ),
    Route(
        "products/{slug}",
        re.compile(rf"^{NAMESPACE}/products/(?P<slug>[\S]+)$"),
        {"GET": get_product},
        {},
        cart=False,
    ),
)
