"""What every operation can answer, for the OpenAPI document: declared once per kind of
operation, every error as the one ``ErrorBody``.

Litestar documents its own ``{status_code, detail}`` body as a 400 on every operation
with parameters; this app never sends it (``errors.py``: validation is 422, a body that
is not JSON is 400 ``invalid_json``, both ``ErrorBody``), so ``ApiOperation`` drops it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIResponse, Operation, Reference, Schema

from .body import MAX_DEPTH
from .schemas import ErrorBody

WHY: dict[int, str] = {
    400: f"invalid_json: the body is not JSON, or nests deeper than {MAX_DEPTH} levels",
    401: "missing_token, invalid_token, token_expired: the bearer token is absent, "
    "unverifiable or expired",
    404: "Not found (product_not_found, variation_not_found, coupon_not_found, a line or "
    "coupon the cart does not hold, …)",
    409: "A conflict: the cart, the catalogue or the store does not allow it; may carry "
    "the cart. Also idempotency_in_progress (Retry-After)",
    412: "precondition_failed: If-Match names another version; carries the current cart",
    413: "payload_too_large: the body is over CARTSYNC_MAX_BODY_BYTES",
    422: "invalid_request: a body field, parameter or header fails validation (`field` "
    "names it); a store refusal of the values; idempotency_key_reused",
    429: "rate_limited: too many requests from this owner (Retry-After)",
    503: "upstream_unavailable, upstream_busy, state_unavailable, cart_busy: nothing was "
    "changed; retry after Retry-After",
    504: "upstream_timeout: the store has not answered yet; the change may still apply. "
    "Retry with the same Idempotency-Key to learn its outcome",
}

BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
"""The security of every operation behind a bearer token (the others have none)."""
AUTHENTICATED = (401, 429, 503)
"""Every operation behind a bearer token: the token (503: the identity provider's keys
cannot be fetched), the owner's rate limits (the write limit is kept in the state
store, 503 when it is down)."""
READ = (*AUTHENTICATED, 422)
CATALOGUE = (*READ, 404, 409)
"""Product reads pass the store's refusals on (a page past the end, an unknown id)."""
LANE_WRITE = (*AUTHENTICATED, 404, 409, 412, 413, 422, 504)
"""A mutation through the cart's lane (its body is read for the Idempotency-Key's
fingerprint even when it has none to decode)."""
JSON_BODY = (400, 413, 422)


def ok(model: Any, description: str, media_type: str = "application/json") -> ResponseSpec:
    return ResponseSpec(
        model, description=description, generate_examples=False, media_type=media_type
    )


def documented(
    success: Mapping[int, ResponseSpec],
    *errors: Iterable[int],
    why: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """The ``responses`` (and the operation class) of a route handler: its successes,
    then ``ErrorBody`` for every status of the kinds given (``why`` overrides the
    description of a status for this operation)."""
    notes = {**WHY, **(why or {})}
    responses: dict[int, ResponseSpec] = dict(success)
    for status in sorted({s for kind in errors for s in kind}):
        responses[status] = ResponseSpec(
            ErrorBody, description=notes[status], generate_examples=False
        )
    return {"responses": responses, "operation_class": ApiOperation}


def _litestars_own(response: OpenAPIResponse | Reference) -> bool:
    """Litestar's generated ``{status_code, detail}`` validation answer."""
    if not isinstance(response, OpenAPIResponse) or not response.content:
        return False
    schemas = [media.schema for media in response.content.values()]
    return all(
        isinstance(schema, Schema) and schema.required == ["detail", "status_code"]
        for schema in schemas
    )


@dataclass
class ApiOperation(Operation):
    """An operation as this app answers it: without Litestar's own error body."""

    def __post_init__(self) -> None:
        if self.responses:
            self.responses = {
                status: response
                for status, response in self.responses.items()
                if not _litestars_own(response)
            }


__all__ = [
    "AUTHENTICATED",
    "BEARER",
    "CATALOGUE",
    "JSON_BODY",
    "LANE_WRITE",
    "READ",
    "ApiOperation",
    "documented",
    "ok",
]
