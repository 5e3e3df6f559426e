"""What one request did, for its log line and for the calls it makes upstream.

The web layer opens a context per request; the domain notes facts into it (where the
cart came from, how many calls went to the store) without knowing about HTTP, and the
upstream adapter reads the trace to pass on. Tasks started while serving a request (a
lane leader) inherit the same context object, so calls they make are counted and traced
to the request that started them.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


@dataclass
class RequestFacts:
    trace_id: str
    trace_flags: str = "00"
    cache: str | None = None  # "near", "state" or "upstream": where the cart came from
    upstream_calls: int = 0
    batch_size: int = 0  # operations in the upstream write that carried this request's ops

    def traceparent(self) -> str:
        """A W3C ``traceparent`` for one call to the store: our trace, a new span."""
        return f"00-{self.trace_id}-{secrets.token_hex(8)}-{self.trace_flags}"


_current: ContextVar[RequestFacts | None] = ContextVar("cartsync_request", default=None)


def begin(traceparent: str | None) -> RequestFacts:
    """Open the facts of a request, continuing the caller's trace when it sent a valid
    ``traceparent`` (W3C Trace Context), starting one otherwise."""
    trace_id, flags = secrets.token_hex(16), "00"
    match = _TRACEPARENT.match(traceparent or "")
    if match and match[1] != _ZERO_TRACE and match[2] != _ZERO_SPAN:
        trace_id, flags = match[1], match[3]
    facts = RequestFacts(trace_id, flags)
    _current.set(facts)
    return facts


def current() -> RequestFacts | None:
    return _current.get()


def note_cache(source: str) -> None:
    facts = _current.get()
    if facts is not None and facts.cache is None:
        facts.cache = source


def note_upstream_call() -> RequestFacts | None:
    """Count a call to the store; the facts (for its ``traceparent``), if any."""
    facts = _current.get()
    if facts is not None:
        facts.upstream_calls += 1
    return facts


def note_batch(size: int) -> None:
    facts = _current.get()
    if facts is not None and size:
        facts.batch_size = max(facts.batch_size, size)
