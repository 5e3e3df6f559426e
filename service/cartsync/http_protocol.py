"""uvicorn's HTTP protocol (httptools), with keep-alive connections drained, not dropped.

On SIGTERM uvicorn closes every connection that is between two requests at once. A
client that had just sent its next request on such a connection (it is in the socket,
unread, or on its way) gets the connection reset instead of an answer: it cannot know
whether that request ran. With ten writers on a stopping replica this was seen in CI
(`tests/replicas/test_stack.py`); behind nginx it is a 502 for a POST, which nginx does
not resend.

Here a connection between requests gets a short grace instead: a request that arrives
within it is answered, with ``Connection: close`` (the client's next one goes to a new
connection, refused by the closed listener: certainly not sent, so safe to send
elsewhere); a connection still idle after it is closed as before. uvicorn waits for
connections to close within its graceful-shutdown time, so the grace only adds to a
stop when a connection stays idle, and by ``IDLE_GRACE_S`` at most.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

IDLE_GRACE_S = 1.0


class DrainingHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` whose shutdown lets an idle connection's next request in."""

    _draining = False
    _idle_close: asyncio.TimerHandle | None = None

    def shutdown(self) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            super().shutdown()  # mid-request: answered, then closed (uvicorn's own)
            return
        self._draining = True
        if self._idle_close is None:
            self._idle_close = self.loop.call_later(IDLE_GRACE_S, self._close_if_idle)

    def _close_if_idle(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()
        # else a request came in the grace: its cycle closes the connection when answered

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False  # answered with Connection: close, then closed

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_close is not None:
            self._idle_close.cancel()
        super().connection_lost(exc)
