"""The headers of a Store API answer, in WordPress' order, for the store's version.

WordPress' own first (``Content-Type``, ``X-Robots-Tag``, ``Link``,
``X-Content-Type-Options``, then ``Access-Control-Expose-Headers`` and ``-Allow-Headers``
with WooCommerce's names, which differ by version), then the route's (rate limits,
session headers, paging), ``Allow``, CoCart's no-cache headers when it is active, and
the CORS tail: ``Access-Control-Allow-Origin`` echoes the Origin when the request
carried a valid Cart-Token (an empty value without an Origin).
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import no_route
from .http import HttpRequest, HttpResponse, critical_response, encode
from .http import base_headers as wp_base_headers
from .profiles import WooProfile
from .sim import Sim

CORS_TAIL = (
    ("Access-Control-Allow-Methods", "OPTIONS, GET, POST, PUT, PATCH, DELETE"),
    ("Access-Control-Allow-Credentials", "true"),
    ("Vary", "Origin"),
)
NoCache = Callable[[bool], list[tuple[str, str]]]


def store_cors(profile: WooProfile) -> tuple[tuple[str, str], ...]:
    return (
        ("Access-Control-Expose-Headers", profile.expose_headers),
        ("Access-Control-Allow-Headers", profile.allow_headers),
    )


def base_headers(site: str, profile: WooProfile, *, link: bool = True) -> list[tuple[str, str]]:
    """The headers WordPress sends first on a Store API answer, in its order."""
    return wp_base_headers(site, link=link, cors=store_cors(profile))


def has_last_modified(headers: list[tuple[str, str]]) -> bool:
    return any(name == "Last-Modified" for name, _ in headers)


def no_route_response() -> HttpResponse:
    return HttpResponse(404, [], encode(no_route().body()))


class Responses:
    """Finishes the answers of one simulated store; ``nocache`` gives CoCart's no-cache
    headers (its argument: leave ``Last-Modified`` out)."""

    def __init__(self, sim: Sim, nocache: NoCache) -> None:
        self.sim = sim
        self.nocache = nocache

    def json(
        self,
        request: HttpRequest,
        response: HttpResponse,
        limit_headers: list[tuple[str, str]],
        *,
        allow: str | None = None,
        cors: bool = False,
    ) -> HttpResponse:
        extra = response.headers
        has_link = any(name == "Link" for name, _ in extra)
        headers = base_headers(request.site, self.sim.profile, link=not has_link)
        headers += [*limit_headers, *extra]
        if allow:
            headers.append(("Allow", allow))
        if self.sim.store_api_nocache:
            headers += self.nocache(has_last_modified(extra))
        headers += CORS_TAIL
        origin = request.header("origin")
        if cors or (origin and origin == request.site):
            headers.append(("Access-Control-Allow-Origin", origin or ""))
        return HttpResponse(response.status, headers, response.body)

    def preflight(self, request: HttpRequest, allow: str) -> HttpResponse:
        headers = base_headers(request.site, self.sim.profile)
        if allow:
            headers.append(("Allow", allow))
        headers += [*CORS_TAIL, ("Access-Control-Allow-Origin", request.header("origin") or "")]
        return HttpResponse(200, headers, b"null")

    def critical(self, request: HttpRequest) -> HttpResponse:
        """A PHP fatal error inside the Store API."""
        profile = self.sim.profile
        return critical_response(request.site, store_cors(profile), profile.critical_cache_control)
