"""Every mutation goes through here: Idempotency-Key, If-Match, the lane, the answer."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response

from ..carts.errors import Conflict, state_lost
from ..carts.lane.records import CLASS_BY_KIND, OpResult, new_op_id
from ..carts.operations import Operation
from .dependencies import Caller
from .errors import error_bytes, status_of
from .idempotency import (
    ABANDONED_AFTER_S,
    Answer,
    Idempotency,
    Record,
    fingerprint,
    in_progress,
    validate_key,
)

_ENCODER = msgspec.json.Encoder()


class OpStatus(msgspec.Struct):
    op_id: str
    status: str  # applied | refused | precondition_failed | not_applied | pending
    error: dict[str, Any] | None = None


def single_answer(result: OpResult | None) -> Answer:
    """The answer to a one-operation mutation."""
    if result is None:
        return Answer(
            504,
            error_bytes(
                "upstream_timeout",
                "The store has not answered yet; the change may still apply. "
                "Retry with the same Idempotency-Key to learn its outcome.",
            ),
        )
    if result.outcome == "applied":
        return Answer(200, result.body, result.etag)
    if result.outcome == "precondition_failed":
        return Answer(
            412, error_bytes(result.code, result.message, result.field, result.body), result.etag
        )
    if result.outcome == "not_applied":
        return Answer(
            503, error_bytes(result.code, result.message), retry_after=result.retry_after or 2
        )
    error_class = CLASS_BY_KIND.get(result.kind, CLASS_BY_KIND["conflict"])
    status = status_of(error_class, result.code, bool(result.body))
    return Answer(
        status,
        error_bytes(result.code, result.message, result.field, result.body or None),
        retry_after=result.retry_after,
    )


def _status(result: OpResult | None, client_id: str) -> OpStatus:
    if result is None:
        return OpStatus(client_id, "pending")
    if result.outcome == "applied":
        return OpStatus(client_id, "applied")
    return OpStatus(
        client_id,
        result.outcome,
        {"code": result.code, "message": result.message, "field": result.field},
    )


async def ops_answer(
    caller: Caller, results: Sequence[OpResult | None], client_ids: Sequence[str]
) -> Answer:
    """The answer to ``POST /v1/cart/ops``: one status per op_id and the final cart."""
    if results and all(r is not None and r.outcome == "not_applied" for r in results):
        first = results[0]
        assert first is not None
        return Answer(503, error_bytes(first.code, first.message), retry_after=2)
    applied = [r for r in results if r is not None and r.outcome == "applied"]
    if applied:
        cart, etag = applied[-1].body, applied[-1].etag
    else:
        view = await caller.service.read(caller.owner)
        cart, etag = view.body, view.etag
    statuses = _ENCODER.encode([_status(r, c) for r, c in zip(results, client_ids, strict=True)])
    body = b'{"results":' + statuses + b',"cart":' + cart + b"}"
    return Answer(202 if any(r is None for r in results) else 200, body, etag)


def render(answer: Answer, *, replayed: bool = False) -> Response[bytes]:
    headers = {"Cache-Control": "no-store"}
    if answer.etag:
        headers["ETag"] = answer.etag
    if answer.retry_after:
        headers["Retry-After"] = str(answer.retry_after)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        answer.body, status_code=answer.status, media_type="application/json", headers=headers
    )


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """What a mutation needs of its HTTP request, whichever layer parsed it (the
    framework, or the fast write path of ``fastpath.py``)."""

    idempotency: Idempotency
    method: str
    path: str
    key: str | None  # Idempotency-Key
    if_match: str | None
    body: Callable[[], Awaitable[bytes]]

    @classmethod
    def of(cls, request: Request[Any, Any, Any]) -> WriteRequest:
        return cls(
            request.app.state.idempotency,
            request.method,
            request.url.path,
            request.headers.get("idempotency-key"),
            request.headers.get("if-match"),
            request.body,
        )


async def mutate(
    request: Request[Any, Any, Any],
    caller: Caller,
    operations: Sequence[Operation],
    client_ids: Sequence[str] | None = None,
    answer_of: Callable[[OpResult | None], Answer] | None = None,
) -> Response[bytes]:
    """Apply ``operations`` (one, or an ``/ops`` list with the client's op ids)."""
    answer, replayed = await settle(
        WriteRequest.of(request), caller, operations, client_ids, answer_of
    )
    return render(answer, replayed=replayed)


async def settle(
    request: WriteRequest,
    caller: Caller,
    operations: Sequence[Operation],
    client_ids: Sequence[str] | None = None,
    answer_of: Callable[[OpResult | None], Answer] | None = None,
) -> tuple[Answer, bool]:
    """The answer to a mutation, and whether it is a stored one replayed.

    ``If-Match: *`` matches any current cart (RFC 9110 13.1.1), and every owner has
    one (an empty cart is a cart: ``GET /v1/cart`` answers it), so it guards nothing."""
    idempotency = request.idempotency
    key = request.key
    if_match = request.if_match
    guard = None if if_match is not None and if_match.strip() == "*" else if_match
    op_ids = [new_op_id() for _ in operations]
    record: Record | None = None
    fresh_key = False  # a key the state store has no record of
    if key is not None:
        validate_key(key)
        body = await request.body()
        print_ = fingerprint(request.method, request.path, body + b"\0" + (if_match or "").encode())
        record = Record(print_, op_ids, client_ids=list(client_ids or []), created_at=time.time())
        existing = await idempotency.begin(caller.owner.id, key, record)
        fresh_key = existing is None
        if existing is not None:
            resumed = await _replay(caller, idempotency, key, existing, answer_of)
            if resumed is not None:
                return resumed, True
            # The first attempt died before queueing anything: run it now, under the
            # operation ids it reserved, so nothing can apply twice.
            record, op_ids = existing, existing.op_ids
    # A key the state store has no record of, on a cart whose state was lost, may be a
    # retry of a change the loss swallowed: without If-Match it is not applied; the
    # client sees the cart and sends again naming its version. With If-Match, the lane
    # answers 412 for a version of the lost cart.
    may_repeat = fresh_key and guard is None
    try:
        if may_repeat:
            lost = await caller.service.unacknowledged_loss(caller.owner)
            if lost is not None:
                raise state_lost(lost)
        results = await caller.service.apply(
            caller.owner,
            list(zip(op_ids, operations, strict=True)),
            if_match=guard,
            may_repeat=may_repeat,
        )
    except Conflict as conflict:
        if conflict.code == "cart_state_lost" and key is not None:
            await idempotency.forget(caller.owner.id, key)
        raise
    answer = (
        (answer_of or single_answer)(results[0])
        if client_ids is None
        else await ops_answer(caller, results, client_ids)
    )
    if record is not None and key is not None:
        await idempotency.finish(
            caller.owner.id, key, record, answer if answer.status != 202 else Answer(504, b"")
        )
    return answer, False


async def _replay(
    caller: Caller,
    idempotency: Idempotency,
    key: str,
    existing: Record,
    answer_of: Callable[[OpResult | None], Answer] | None = None,
) -> Answer | None:
    """The stored answer, the answer once results exist, 409 while running, or None when
    the first attempt was abandoned before queueing (the caller runs it again)."""
    if existing.done:
        caller.service.stats.idempotent_replays += 1
        return Answer(existing.status, existing.body, existing.etag)
    results = await caller.service.recorded(caller.owner, existing.op_ids)
    if any(r is None for r in results):
        if (
            all(r is None for r in results)
            and (time.time() - existing.created_at > ABANDONED_AFTER_S)
            and await caller.service.abandoned(caller.owner, existing.op_ids)
            and (await idempotency.claim_retake(caller.owner.id, key))
        ):
            return None
        raise in_progress()
    answer = (
        (answer_of or single_answer)(results[0])
        if not existing.client_ids
        else await ops_answer(caller, results, existing.client_ids)
    )
    await idempotency.finish(caller.owner.id, key, existing, answer)
    caller.service.stats.idempotent_replays += 1
    return answer
