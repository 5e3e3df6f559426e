"""What one request did, for its log line and for the calls it makes upstream.

The web layer opens a context per request, noting who is calling (the client's address,
as resolved through trusted proxies, and its user agent); the domain notes facts into it
(where the cart came from, how many calls went to the store) without knowing about HTTP,
and the upstream adapter reads the trace and the caller to pass on. The trace is the
caller's ``traceparent`` continued by hand (a new span id per call to the store), or,
with OpenTelemetry on (``tracing.py``), the request's server span, whose calls the
httpx instrumentation then traces and propagates itself. Tasks started while
serving a request (a lane leader, a background refresh) inherit the same context object,
so calls they make are counted, traced and attributed to the request that started them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass, field

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_MAX_USER_AGENT = 512
VIA = "1.1 cartsync"  # RFC 9110 Via: the received protocol and our pseudonym


class _RequestIds:
    """Request ids that are unique, not secret: a random prefix per process and a
    counter, 16 hex digits like before. A random id from the kernel per request (a
    ``getrandom`` call) was 2 % of a hot read's CPU; the prefix is drawn again in a
    forked child, so two workers never share a sequence."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFF:08x}"


new_request_id = _RequestIds().new


@dataclass
class RequestFacts:
    trace_id: str
    trace_flags: str = "00"
    cache: str | None = None  # "near", "state" or "upstream": where the cart came from
    upstream_calls: int = 0
    batch_size: int = 0  # operations in the upstream write that carried this request's ops
    client: str | None = None  # the caller's address (trusted proxies' X-Forwarded-For applied)
    user_agent: str | None = None
    traced: bool = False  # OpenTelemetry records this request: it propagates the trace
    _forwarded: dict[str, str] | None = field(default=None, repr=False)

    def traceparent(self) -> str:
        """A W3C ``traceparent`` for one call to the store: our trace, a new span."""
        return f"00-{self.trace_id}-{secrets.token_hex(8)}-{self.trace_flags}"

    def trace_headers(self) -> dict[str, str]:
        """The trace header of one call to the store, unless OpenTelemetry sends its own."""
        return {} if self.traced else {"traceparent": self.traceparent()}

    def forwarded(self) -> dict[str, str]:
        """What a call to the store says of the shopper it is made for (worked out once):
        ``X-Forwarded-For`` with their address alone (an IP, never a client-sent chain:
        WooCommerce trusts the first entry), their ``User-Agent`` as they sent it (printable
        ASCII, at most 512 characters; otherwise ours stays) and ``Via: 1.1 cartsync``."""
        if self._forwarded is None:
            headers = {"Via": VIA}
            with contextlib.suppress(ValueError):  # a unix socket, a test client's name
                headers["X-Forwarded-For"] = str(ipaddress.ip_address(self.client or ""))
            agent = self.user_agent
            if agent and len(agent) <= _MAX_USER_AGENT and agent.isascii() and agent.isprintable():
                headers["User-Agent"] = agent
            self._forwarded = headers
        return self._forwarded


_current: ContextVar[RequestFacts | None] = ContextVar("cartsync_request", default=None)


def begin(
    traceparent: str | None,
    client: str | None = None,
    user_agent: str | None = None,
    *,
    traced: bool = False,
) -> RequestFacts:
    """Open the facts of a request, continuing the caller's trace when it sent a valid
    ``traceparent`` (W3C Trace Context), starting one otherwise; ``client`` and
    ``user_agent`` are the caller's, passed on to the store. ``traced``: the
    ``traceparent`` is the request's own span, recorded by OpenTelemetry."""
    trace_id, flags = secrets.token_hex(16), "00"
    match = _TRACEPARENT.match(traceparent or "")
    if match and match[1] != _ZERO_TRACE and match[2] != _ZERO_SPAN:
        trace_id, flags = match[1], match[3]
    facts = RequestFacts(trace_id, flags, client=client, user_agent=user_agent, traced=traced)
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
