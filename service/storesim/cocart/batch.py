"""WordPress' core ``POST /wp-json/batch/v1`` carrying CoCart requests, as it really ends.

CoCart marks its write routes ``allow_batch v1``, so WordPress validates and dispatches
them; but CoCart only loads its session and cart when the URL itself is a CoCart one,
so inside ``/batch/v1`` every sub-request that reaches the cart answers 500
``cocart_cart_error`` "Unable to retrieve cart." and nothing changes (recordings
cocart/032-034, cocart-extra/013). Checks that run before the cart (an unknown
product, a missing item key) answer as usual. At most 25 requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..errors import StoreError, invalid_param, missing_params, no_route
from ..http import WP_CORS, HttpRequest, HttpResponse, base_headers, encode
from ..params import Arg, form_to_params, resolve
from .cart import Work
from .params import resolve as resolve_args
from .routes import CoRoute, Ctx, Handler, match

if TYPE_CHECKING:
    from .face import CoCart

MAX_BATCH = 25
BATCH_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BATCH_ARGS = {
    "validation": Arg(("string",), default="normal", enum=("normal", "require-all-validate")),
    "requests": Arg(("array",), required=True, max_items=MAX_BATCH),
}
Plan = tuple[CoRoute, str, Handler, dict[str, Any]]


def _answer(
    face: CoCart, request: HttpRequest, status: int, body: Any, limits: list[tuple[str, str]]
) -> HttpResponse:
    headers = [*base_headers(request.site, cors=WP_CORS), *limits, ("Allow", "POST")]
    headers += face.nocache_headers()
    headers += face.wp_cors(request)
    return HttpResponse(status, headers, encode(body))


def _validate(params: dict[str, Any]) -> list[dict[str, Any]]:
    entries: list[Any] = resolve(BATCH_ARGS, params)["requests"]
    for index, entry in enumerate(entries):
        where = f"requests[{index}]"
        if not isinstance(entry, dict):
            message = f"{where} is not of type object."
            raise invalid_param("requests", message, "rest_invalid_type", {"param": where})
        if not isinstance(entry.get("path"), str):
            message = f"path is a required property of {where}."
            raise invalid_param("requests", message, "rest_property_required")
        if str(entry.get("method", "POST")).upper() not in BATCH_METHODS:
            message = f"{where}[method] is not one of POST, PUT, PATCH, and DELETE."
            raise invalid_param("requests", message, "rest_not_in_enum")
    return entries


def _plan(entry: dict[str, Any]) -> Plan | StoreError:
    """Match and validate one sub-request, as ``serve_batch_request_v1`` does first."""
    path, _, query = str(entry["path"]).partition("?")
    method = str(entry.get("method", "POST")).upper()
    found = match(unquote(path))
    handler = found[0].handlers.get(method) if found else None
    if found is None or handler is None:
        return no_route()
    route, url_params = found
    if not route.batch:
        return StoreError(
            "rest_batch_not_allowed", "The requested route does not support batch requests.", 400
        )
    body = entry.get("body")
    raw = {**form_to_params(query), **(body if isinstance(body, dict) else {}), **url_params}
    try:
        params = resolve_args(handler.params, raw)
    except StoreError as error:
        error.allow = route.allow(raw)
        return error
    return route, method, handler, {"raw": raw, "params": params}


def _envelope(body: Any, status: int, allow: str) -> dict[str, Any]:
    return {"body": body, "status": status, "headers": {"Allow": allow} if allow else []}


async def serve_batch(
    face: CoCart, request: HttpRequest, limits: list[tuple[str, str]]
) -> HttpResponse:
    sim = face.sim
    if request.method != "POST":
        sim.requests[f"{request.method} no_route"] += 1
        return face.answer(request, 404, no_route().body(), limit_headers=limits)
    sim.requests["POST batch/v1"] += 1
    try:
        params = face.params(request)
        if "requests" not in params:
            raise missing_params("requests")
        entries = _validate(params)
    except StoreError as error:
        return _answer(face, request, error.status, error.body(), limits)
    plans = [_plan(entry) for entry in entries]
    sim.batch_sizes.append(len(entries))
    if params.get("validation") == "require-all-validate" and any(
        isinstance(p, StoreError) for p in plans
    ):
        failed = [
            _envelope(p.body(), p.status, p.allow) if isinstance(p, StoreError) else None
            for p in plans
        ]
        return _answer(face, request, 207, {"failed": "validation", "responses": failed}, limits)
    responses = []
    for plan in plans:
        if isinstance(plan, StoreError):
            responses.append(_envelope(plan.body(), plan.status, plan.allow))
            continue
        route, method, handler, args = plan
        sim.subrequests[f"{method} {route.name}"] += 1
        ctx = Ctx(Work(None, sim.inventory()), "", request.site, face.catalogue)
        allow = route.allow(args["raw"])
        try:
            refused = handler.permission(args["raw"]) if handler.permission else None
            if refused is not None:
                raise refused
            body, status = handler.run(ctx, args["params"]), 200  # no cart: never in practice
        except StoreError as error:
            body, status = error.body(), error.status
        responses.append(_envelope(body, status, allow))
    await sim.process(batch_size=len(entries), write=True)
    return _answer(face, request, 207, {"responses": responses}, limits)
