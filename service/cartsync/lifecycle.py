"""Draining on SIGTERM: tell the app what the ASGI server does not.

On SIGTERM uvicorn stops accepting and waits for open connections before it runs the
lifespan shutdown, but it does not tell the app: a change-feed stream never ends by
itself, so it would hold the replica until the grace period runs out and then be cut
mid-stream, and ``/readyz`` would go on saying "ready". Chaining a handler in front of
the server's lets the app end its streams (with a reconnect hint) and turn readiness
off the moment the signal arrives, while the server does the rest as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)

Handler = Callable[[int, FrameType | None], Any]


def drain_on_signals(drain: Callable[[], None]) -> Callable[[], None]:
    """Run ``drain`` on the event loop when SIGTERM or SIGINT arrives, then the handler
    the server installed. Returns a function that puts the server's handlers back.

    Installs nothing where there is no server handler to chain to (not the main
    thread, or no server capturing signals): the default would end the process.
    """
    loop = asyncio.get_running_loop()
    restored: dict[int, Handler] = {}
    for sig in SIGNALS:
        try:
            prior = signal.getsignal(sig)
        except ValueError:  # not the main thread
            return lambda: None
        if not callable(prior) or prior is signal.default_int_handler:
            continue

        def handler(signum: int, frame: FrameType | None, prior: Handler = prior) -> None:
            loop.call_soon_threadsafe(drain)
            prior(signum, frame)

        try:
            signal.signal(sig, handler)
        except ValueError:
            return lambda: None
        restored[sig] = prior

    def undo() -> None:
        for sig, prior in restored.items():
            signal.signal(sig, prior)

    return undo


async def unless_stopping(stopping: asyncio.Event, *steps: Coroutine[Any, Any, None]) -> None:
    """Run ``steps`` one after the other, unless ``stopping`` is set first: then the
    step under way is cancelled and the rest are never run. Start-up that waits on an
    unreachable state store (its connect timeouts) must not hold a stop."""

    async def run() -> None:
        for step in steps:
            await step

    work = asyncio.ensure_future(run())
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait((work, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
        for step in steps:
            step.close()  # those never started: no "never awaited" warning
    if not work.cancelled():
        work.result()  # a step that failed fails start-up, as before
