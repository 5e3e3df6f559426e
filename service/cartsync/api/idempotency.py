"""``Idempotency-Key`` (IETF draft semantics), keyed by owner, never by the key alone.

The first answer is stored with the request's fingerprint for 24 h; a retry with the
same key and body replays it (``Idempotent-Replayed: true``); the same key with another
body is refused (422); a retry while the first is still running gets 409. A request
whose outcome is not known yet (the store's answer was lost) stays pending with the ids
of its queued operations, and the first retry after they resolve gets the real answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec

from ..carts.errors import Conflict, Invalid
from ..carts.ports.state import StateStore

MAX_KEY_LENGTH = 255


class Record(msgspec.Struct, omit_defaults=True):
    fingerprint: str
    op_ids: list[str]
    done: bool = False
    status: int = 0
    body: bytes = b""
    etag: str = ""
    client_ids: list[str] = []
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer to store and replay."""

    status: int
    body: bytes
    etag: str = ""
    retry_after: int | None = None

    @property
    def final(self) -> bool:
        """Stored for replay: everything but "not applied, retry" and "not known yet"."""
        return self.status < 500


_ENCODE = msgspec.msgpack.Encoder()
_DECODE = msgspec.msgpack.Decoder(Record)


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join((method.encode(), path.encode(), body))).hexdigest()


def validate_key(key: str) -> str:
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise Invalid(
            "invalid_request",
            "Idempotency-Key must be 1-255 printable characters.",
            field="Idempotency-Key",
        )
    return key


class Idempotency:
    def __init__(self, state: StateStore, ttl_s: int) -> None:
        self._state = state
        self._ttl_s = ttl_s

    @staticmethod
    def _key(owner_id: str, key: str) -> str:
        return f"{owner_id}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"

    async def begin(self, owner_id: str, key: str, record: Record) -> Record | None:
        """Reserve the key; the earlier record when there is one (checked here)."""
        raw = await self._state.reserve_record(
            self._key(owner_id, key), _ENCODE.encode(record), self._ttl_s
        )
        if raw is None:
            return None
        existing = _DECODE.decode(raw)
        if existing.fingerprint != record.fingerprint:
            raise Invalid(
                "idempotency_key_reused",
                "This Idempotency-Key was used with another request.",
                field="Idempotency-Key",
            )
        return existing

    async def forget(self, owner_id: str, key: str) -> None:
        """Drop a reservation whose request changed nothing (the key may be used again)."""
        await self._state.drop_record(self._key(owner_id, key))

    async def claim_retake(self, owner_id: str, key: str) -> bool:
        """One retry, only, may run an abandoned first attempt again."""
        marker = self._key(owner_id, key) + ":retake"
        return await self._state.reserve_record(marker, b"1", 60) is None

    async def finish(self, owner_id: str, key: str, record: Record, answer: Answer) -> None:
        if answer.final:
            done = msgspec.structs.replace(
                record, done=True, status=answer.status, body=answer.body, etag=answer.etag
            )
            await self._state.put_record(
                self._key(owner_id, key), _ENCODE.encode(done), self._ttl_s
            )
        elif answer.status == 503:
            await self._state.drop_record(self._key(owner_id, key))  # nothing was changed
        # 504: the outcome is not known yet; the record stays pending.


ABANDONED_AFTER_S = 2.0
"""A pending record whose operations are nowhere after this long was abandoned: its
request died between reserving the key and queueing (milliseconds apart)."""


def in_progress() -> Conflict:
    return Conflict(
        "idempotency_in_progress",
        "A request with this Idempotency-Key is still running; retry shortly.",
        field="Idempotency-Key",
        retry_after=1,
    )
