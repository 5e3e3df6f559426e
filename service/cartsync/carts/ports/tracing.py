"""Tracing, as the domain needs it: who asked for an operation, and a span around one
upstream write that carries the operations of several callers.

A lane turn may carry operations queued by several requests, on other replicas too, so
each queued operation carries its caller's span context (a W3C ``traceparent``, text
that travels with it through the state store), and the turn's span links them all. The
domain never imports a tracing SDK: the composition root hands in an implementation
(``cartsync/tracing.py``, OpenTelemetry) or ``NO_TRACING``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol


class Tracing(Protocol):
    def caller(self) -> str:
        """The current span's context as a W3C ``traceparent``; empty when not tracing."""
        ...

    def batch(self, callers: Sequence[str], size: int) -> AbstractContextManager[object]:
        """A span, current for the block, around one upstream write carrying ``size``
        operations whose callers' contexts are ``callers`` (in queue order, empty ones
        ignored): a child of the first caller's span, linked to every caller's."""
        ...


class _NoTracing:
    def caller(self) -> str:
        return ""

    def batch(self, callers: Sequence[str], size: int) -> AbstractContextManager[object]:
        return contextlib.nullcontext()


NO_TRACING: Tracing = _NoTracing()
