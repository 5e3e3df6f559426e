"""What the lane keeps in the state store: queued operations, their results, and the
record of a write in flight; and the results it makes for the usual outcomes.

They travel between replicas (msgpack), so they follow the schema rules of
``model.py``: new fields get defaults, types never change.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from .. import errors as domain
from ..operations import Operation
from ..ports.state import Snapshot
from ..ports.upstream import OrderRef
from ..ports.upstream_errors import UpstreamRateLimited, UpstreamUnavailable

RESULTS_TTL_S = 600


class QueuedOp(msgspec.Struct, array_like=True):
    """An operation waiting in a cart's queue."""

    op_id: str
    operation: Operation
    if_match: str | None = None  # guards the whole group: one request's operations
    group: str = ""
    group_size: int = 1
    enqueued_at: float = 0.0
    trace: str = ""  # the caller's span context (W3C traceparent), when tracing


class OpResult(msgspec.Struct, omit_defaults=True):
    """What became of one operation. ``outcome``: applied, refused (the store said no),
    precondition_failed (If-Match), not_applied (certainly not: retry is safe)."""

    op_id: str
    outcome: str
    kind: str = ""
    code: str = ""
    message: str = ""
    field: str | None = None
    retry_after: int | None = None
    etag: str = ""
    body: bytes = b""  # the cart after the batch (applied), or the store's cart (refused)
    batch: int = 0  # operations in the upstream write that carried it (0: none, or unknown)
    order: bytes = b""  # a checkout's order (the encoded compact order)


class Inflight(msgspec.Struct):
    """Operations that left for the store and whose results are not recorded yet."""

    op_ids: list[str]
    before: bytes  # the cart they were applied to (encoded snapshot body)
    before_digest: str
    sent_at: float = 0.0  # wall clock: a lost request may still run this long after
    order: OrderRef | None = None  # a checkout's draft order: read it back to know


class PlacedOrder(msgspec.Struct):
    """An order placed through cartsync, as the cart keeps it (the store has the rest)."""

    ref: OrderRef
    number: str
    placed_at: float
    op_id: str  # the checkout operation that placed it
    products: dict[str, int] = {}  # SKU → product id, from the cart it was placed from
    payment_method: str = ""


QUEUED = msgspec.msgpack.Decoder(QueuedOp)
RESULT = msgspec.msgpack.Decoder(OpResult)
INFLIGHT = msgspec.msgpack.Decoder(Inflight)
PLACED = msgspec.msgpack.Decoder(PlacedOrder)
PACK = msgspec.msgpack.Encoder()

KIND_BY_CLASS: dict[type[domain.CartError], str] = {
    domain.Invalid: "invalid",
    domain.NotFound: "not_found",
    domain.Conflict: "conflict",
    domain.RateLimited: "rate_limited",
    domain.Unavailable: "unavailable",
    domain.UpstreamTimedOut: "timeout",
}
CLASS_BY_KIND = {kind: cls for cls, kind in KIND_BY_CLASS.items()}


def encode_op(op: QueuedOp) -> bytes:
    return PACK.encode(op)


def inflight_record(
    batch: Sequence[QueuedOp], before: Snapshot, sent_at: float, order: OrderRef | None = None
) -> bytes:
    return PACK.encode(
        Inflight([q.op_id for q in batch], before.body, before.digest, sent_at, order)
    )


def new_op_id() -> str:
    return "op_" + secrets.token_hex(10)


def not_applied(batch: Sequence[QueuedOp], exc: UpstreamUnavailable) -> list[OpResult]:
    """Results for operations that certainly did not reach the store: a retry is safe."""
    code = "upstream_busy" if isinstance(exc, UpstreamRateLimited) else "upstream_unavailable"
    return [
        OpResult(
            q.op_id,
            "not_applied",
            kind="unavailable",
            code=code,
            message="The store is not answering; nothing was changed.",
            retry_after=exc.retry_after,
        )
        for q in batch
    ]


def refused(
    op_id: str, error: domain.CartError, after: Snapshot | None = None, batch: int = 0
) -> OpResult:
    """The store (or the lane, for what the store cannot do) said no to one operation;
    ``after`` is the cart to show beside the refusal, when there is one."""
    return OpResult(
        op_id,
        "refused",
        kind=KIND_BY_CLASS.get(type(error), "conflict"),
        code=error.code,
        message=error.message,
        field=error.field,
        retry_after=error.retry_after,
        etag=after.etag if after is not None else "",
        body=after.body if after is not None else b"",
        batch=batch,
    )


def precondition_failed(group: Sequence[QueuedOp], current: Snapshot) -> list[OpResult]:
    """If-Match named another version than the cart's: none of the group applies."""
    return [
        OpResult(
            q.op_id,
            "precondition_failed",
            kind="precondition",
            code="precondition_failed",
            message="The cart changed since that version.",
            field="If-Match",
            etag=current.etag,
            body=current.body,
        )
        for q in group
    ]


@dataclass(slots=True)
class LaneStats:
    batches: int = 0
    batch_operations: int = 0
    batch_sizes: dict[int, int] = field(default_factory=dict)
    upstream_writes: int = 0
    upstream_reads: int = 0
    lease_takeovers: int = 0
    rebuilds: int = 0
    reconciliations: int = 0
    resent_batches: int = 0

    def count_batch(self, size: int) -> None:
        self.batches += 1
        self.batch_operations += size
        self.batch_sizes[size] = self.batch_sizes.get(size, 0) + 1
        self.upstream_writes += 1
