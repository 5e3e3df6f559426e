"""``POST /wp-json/wc/store/v1/batch``: the Store API's own batch route.

One PHP request: its sub-requests share one session and are saved together at the end
(a batch of 25 adds keeps all 25, where 25 overlapping single adds lose some). The
session handler follows the first sub-request's Cart-Token but reads the outer one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import StoreError, invalid_param, missing_params, no_route
from .http import HttpRequest, HttpResponse, encode
from .params import Arg, form_to_params, resolve
from .routes import Route
from .sessions import CriticalError, Session

if TYPE_CHECKING:
    from .wordpress import WordPress

BATCH_METHODS = ("POST", "PUT", "PATCH", "DELETE")
WRITE_METHODS = frozenset(BATCH_METHODS)
MAX_BATCH = 25
BATCH_ARGS = {
    "validation": Arg(("string",), default="normal", enum=("normal", "require-all-validate")),
    "requests": Arg(("array",), required=True, max_items=MAX_BATCH),
}


class StoreBatch:
    """The batch route of one :class:`WordPress` face."""

    def __init__(self, wp: WordPress) -> None:
        self.wp = wp

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        resolved = resolve(BATCH_ARGS, params)
        for index, entry in enumerate(resolved["requests"]):
            where = f"requests[{index}]"
            if not isinstance(entry, dict):
                raise invalid_param(
                    "requests",
                    f"{where} is not of type object.",
                    "rest_invalid_type",
                    {"param": where},
                )
            if not isinstance(entry.get("path"), str):
                raise invalid_param(
                    "requests", f"path is a required property of {where}.", "rest_property_required"
                )
            method = str(entry.get("method", "POST")).upper()
            if method not in BATCH_METHODS:
                raise invalid_param(
                    "requests",
                    f"{where}[method] is not one of POST, PUT, PATCH, and DELETE.",
                    "rest_not_in_enum",
                )
        return resolved

    async def serve(
        self, request: HttpRequest, limit_headers: list[tuple[str, str]], token_user: str | None
    ) -> HttpResponse:
        cors = token_user is not None
        try:
            if not request.body and "requests" not in form_to_params(request.query):
                raise missing_params("requests")
            params = self.validate(self.wp._params(request, False))
        except StoreError as error:
            return self.wp._json(
                request,
                HttpResponse(error.status, [], encode(error.body())),
                limit_headers,
                allow="POST",
                cors=cors,
            )
        entries: list[dict[str, Any]] = params["requests"]
        if any("wc/store" not in entry["path"] for entry in entries):
            bad_path = StoreError("woocommerce_rest_invalid_path", "Invalid path provided.", 400)
            headers = self.headers()
            return self.wp._json(
                request,
                HttpResponse(400, headers, encode(bad_path.body())),
                limit_headers,
                allow="POST",
                cors=cors,
            )

        planned = [self.plan(entry) for entry in entries]
        self.wp.sim.batch_sizes.append(len(entries))
        if params["validation"] == "require-all-validate" and any(
            isinstance(p, StoreError) for p in planned
        ):
            responses: list[Any] = [
                {"body": p.body(), "status": p.status, "headers": []}
                if isinstance(p, StoreError)
                else None
                for p in planned
            ]
            body = encode({"failed": "validation", "responses": responses})
            return self.wp._json(
                request,
                HttpResponse(207, self.headers(), body),
                limit_headers,
                allow="POST",
                cors=cors,
            )

        outer_token = request.header("cart-token")
        session: Session | None = None
        results: list[dict[str, Any]] = []
        async with self.wp._serialised(token_user):
            for _entry, plan in zip(entries, planned, strict=True):
                if isinstance(plan, StoreError):
                    allow = plan.allow
                    results.append(
                        {
                            "body": plan.body(),
                            "status": plan.status,
                            "headers": {"Allow": allow} if allow else {},
                        }
                    )
                    continue
                route, method, sub_params, sub_headers = plan
                self.wp.sim.subrequests[f"{method} {route.name}"] += 1
                if session is None:
                    session = self.session(request, outer_token, sub_headers)
                result = self.wp._run(session, route, method, sub_params, sub_headers, request.site)
                sub_response_headers: dict[str, Any] = {
                    name: int(value) if name in ("Nonce-Timestamp", "User-ID") else value
                    for name, value in self.wp.sessions.headers(session)
                }
                results.append(
                    {
                        "body": None if result.status == 204 else result.body,
                        "status": result.status,
                        "headers": sub_response_headers | {"Allow": route.allow},
                    }
                )
            await self.wp.sim.process(batch_size=len(entries), write=True)
            if session is not None and session.changed:
                self.wp._save(session)
        cookies = self.wp._cookies(session, request.site, True) if session else []
        headers = [*cookies, *self.headers()]
        return self.wp._json(
            request,
            HttpResponse(207, headers, encode({"responses": results})),
            limit_headers,
            allow="POST",
            cors=cors,
        )

    def session(
        self, request: HttpRequest, outer_token: str | None, sub_headers: dict[str, str]
    ) -> Session:
        """WooCommerce picks the session handler from the first sub-request's Cart-Token,
        but the token handler reads the *outer* request's header: a token only on the
        sub-request is a PHP TypeError, and no token on it means a new cookie session."""
        now = self.wp.sim.now()
        if self.wp.sim.signer.valid_user(sub_headers.get("cart-token"), now) is not None:
            payload = self.wp.sim.signer.decode(outer_token) if outer_token else None
            if not outer_token or payload is None or "user_id" not in payload:
                raise CriticalError("JsonWebToken::get_parts(): Argument #1 must be string")
            user_id = str(payload["user_id"])
            return Session(user_id, False, self.wp.sim.load(user_id))
        return self.wp._open_session(request, None)

    def plan(
        self, entry: dict[str, Any]
    ) -> tuple[Route, str, dict[str, Any], dict[str, str]] | StoreError:
        """Match and validate one sub-request, as ``serve_batch_request_v1`` does first."""
        path, _, query = entry["path"].partition("?")
        method = str(entry.get("method", "POST")).upper()
        found = self.wp._match(path)
        if found is None or found[0].method_for(method) is None:
            return no_route()
        route, url_params = found
        if not route.cart or not route.batch or method not in WRITE_METHODS:
            return StoreError(
                "rest_batch_not_allowed",
                "The requested route does not support batch requests.",
                400,
            )
        given_body = entry.get("body")
        body: dict[str, Any] = given_body if isinstance(given_body, dict) else {}
        given_headers = entry.get("headers")
        raw_headers: dict[str, Any] = given_headers if isinstance(given_headers, dict) else {}
        headers = {
            str(k).lower(): (v[0] if isinstance(v, list) and v else str(v))
            for k, v in raw_headers.items()
        }
        try:
            params = resolve(
                route.args.get(method, {}), {**form_to_params(query), **body, **url_params}
            )
        except StoreError as error:
            error.allow = route.allow
            return error
        return route, method, params, headers

    def headers(self) -> list[tuple[str, str]]:
        """The outer answer's session headers: no Cart-Token (nor Cart-Hash)."""
        now = self.wp.sim.now()
        nonce = self.wp.sim.nonces.current(now)
        headers = [("Nonce", nonce)]
        if self.wp.sim.profile.legacy_nonce_header:
            headers.append(("X-WC-Store-API-Nonce", nonce))
        return [*headers, ("Nonce-Timestamp", str(int(now))), ("User-ID", "0")]
