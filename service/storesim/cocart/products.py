"""``cocart/v2/products``, ``products/{id}``, ``products/{id}/variations[/{id}]`` and the
namespace index, from documents extracted from the recordings (``data/cocart_*.json``).

Belt (11) was on the listing's second page, which was not recorded: its document is
Beanie's with Belt's facts (its ``related`` products are random on the real store too).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ..catalog import SITE_PLACEHOLDER
from ..errors import StoreError
from ..params import Arg, resolve

LIST_ARGS = {
    "page": Arg(("integer",), default=1, minimum=1),
    "per_page": Arg(("integer",), default=10, minimum=1, maximum=100),
}


def _site(value: Any, site: str) -> Any:
    if isinstance(value, str):
        return value.replace(SITE_PLACEHOLDER, site)
    if isinstance(value, list):
        return [_site(v, site) for v in value]
    if isinstance(value, dict):
        return {k: _site(v, site) for k, v in value.items()}
    return value


def _data(name: str) -> Any:
    raw = resources.files("storesim").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return json.loads(raw)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()


def invalid_id() -> StoreError:
    return StoreError("cocart_product_invalid_id", "Invalid ID.", 404)


class Catalogue:
    """CoCart's product documents, in the listing's order (newest first)."""

    def __init__(self) -> None:
        data = _data("cocart_products.json")
        self.products: list[dict[str, Any]] = data["products"]
        self.variations: dict[int, list[dict[str, Any]]] = {
            int(k): v for k, v in data["variations"].items()
        }
        self.index: dict[str, Any] = _data("cocart_index.json")
        self.slugs = {int(p["id"]): str(p["slug"]) for p in self.products}

    def namespace(self, site: str) -> Answer:
        return Answer(200, _site(self.index, site))

    def listing(self, site: str, params: dict[str, Any], raw_query: str) -> Answer:
        p = resolve(LIST_ARGS, params)
        page, per_page = p["page"], p["per_page"]
        total = len(self.products)
        pages = math.ceil(total / per_page)
        chunk = self.products[(page - 1) * per_page : page * per_page]
        body: dict[str, Any] = {
            "products": _site(chunk, site),
            "page": page,
            "total_pages": pages,
            "total_products": total,
        }
        headers = [("X-WP-Total", str(total)), ("X-WP-TotalPages", str(pages))]
        links: dict[str, list[dict[str, str]]] = {}
        link_header = []
        for rel, target in (("prev", min(page - 1, pages)), ("next", page + 1)):
            if (rel == "prev" and page > 1) or (rel == "next" and pages > page):
                href = _page_link(site, raw_query, target)
                links[rel] = [{"href": href}]
                link_header.append(f'<{href}>; rel="{rel}"')
        if links:
            body["_links"] = links
            headers.append(("Link", ", ".join(link_header)))
        return Answer(200, body, tuple(headers))

    def product(self, site: str, ident: str) -> Answer:
        for doc in self.products:
            if str(doc["id"]) == ident or doc["slug"] == ident:
                return Answer(200, _site(doc, site))
        for docs in self.variations.values():
            for doc in docs:
                if str(doc["id"]) == ident:
                    return Answer(200, _site(doc, site))
        raise invalid_id()

    def variation_list(self, site: str, parent: str) -> Answer:
        docs = self.variations.get(int(parent), [])
        if not docs and not any(str(d["id"]) == parent for d in self.products):
            raise invalid_id()
        headers = (("X-WP-Total", str(len(docs))), ("X-WP-TotalPages", "1" if docs else "0"))
        return Answer(200, _site(docs, site), headers)

    def variation(self, site: str, parent: str, ident: str) -> Answer:
        for doc in self.variations.get(int(parent), []):
            if str(doc["id"]) == ident:
                return Answer(200, _site(doc, site))
        raise invalid_id()


def _page_link(site: str, raw_query: str, page: int) -> str:
    """``add_query_arg``: the request's query with ``page`` set (appended when new)."""
    params = parse_qsl(raw_query, keep_blank_values=True)
    if any(k == "page" for k, _ in params):
        params = [(k, str(page) if k == "page" else v) for k, v in params]
    else:
        params.append(("page", str(page)))
    return f"{site}/wp-json/cocart/v2/products?{urlencode(params)}"
