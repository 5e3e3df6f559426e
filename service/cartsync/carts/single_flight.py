"""One load for however many callers ask for the same thing at the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

K = TypeVar("K")
T = TypeVar("T")


async def single_flight(
    flights: dict[K, asyncio.Future[T]], key: K, load: Callable[[], Awaitable[T]]
) -> T:
    """The first caller for ``key`` runs ``load``; callers arriving while it runs wait
    for its result (or its error) instead of loading again. ``flights`` is the caller's
    table of loads under way. A waiter cancelled does not cancel the load (shielded)."""
    pending = flights.get(key)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    flights[key] = future
    try:
        value = await load()
        future.set_result(value)
        return value
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: waiters get it, nobody logs "never retrieved"
        raise
    finally:
        del flights[key]
