"""Per-replica fan-out of cart changes to the streams open on this replica.

Every replica hears every change (Redis pub/sub); each open stream has a queue here.
A gap in the announcements (``None``) wakes every stream, which re-reads its cart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator

from .ports.state import Change

_QUEUE_SIZE = 16


class ChangeFeed:
    def __init__(self) -> None:
        self._listeners: defaultdict[str, set[asyncio.Queue[Change | None]]] = defaultdict(set)
        self._shared = 0
        self.closing = False

    @property
    def open_streams(self) -> int:
        """Listeners (long polls, streams) open, each stream counted."""
        return sum(len(queues) for queues in self._listeners.values()) + self._shared

    def count_streams(self, delta: int) -> None:
        """Streams that share one listener (the web layer feeds the streams of an owner
        from one) beyond the listener itself, so ``open_streams`` counts each."""
        self._shared += delta

    @contextlib.contextmanager
    def listen(self, cart_id: str) -> Iterator[asyncio.Queue[Change | None]]:
        queue: asyncio.Queue[Change | None] = asyncio.Queue(_QUEUE_SIZE)
        self._listeners[cart_id].add(queue)
        try:
            yield queue
        finally:
            self._listeners[cart_id].discard(queue)
            if not self._listeners[cart_id]:
                del self._listeners[cart_id]

    def close_all(self) -> None:
        """The replica is shutting down: wake every stream so it ends with a retry hint.

        Left open, a stream holds its connection until the server's grace period runs
        out and is then cut; ended now, its client reconnects at once to a replica that
        stays, and the server can stop as soon as the last request is answered.
        """
        self.closing = True
        self.dispatch(None)

    def dispatch(self, change: Change | None) -> None:
        targets = (
            self._listeners.get(change.cart_id, set())
            if change is not None
            else {q for queues in self._listeners.values() for q in queues}
        )
        for queue in targets:
            if queue.full():
                # A slow reader only needs to know something changed: it re-reads the cart.
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(change)
