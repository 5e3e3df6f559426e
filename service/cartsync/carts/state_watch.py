"""Watching the state store's dataset: noticing when its data was lost, and what then.

The state store is the store of record for owner → cart → upstream credentials and the
idempotency records; a Redis restarted without persistence (or a failover to an empty
replica) loses them. The dataset carries a marker, set once by the first replica to
use it. Every replica reads the marker every ``check_every_s`` and whenever its change
feed reconnects; a cart whose record vanished is noticed at once by the step that
touches it (``StateLost``). Either way the replica that notices:

- records the loss (when, kept for the loss window) with a new marker, so replicas
  that start later know of it too;
- drops everything it kept in memory about carts (owners, near copies, credentials it
  wrote, product pages): after a loss those copies point at carts nobody else knows,
  and two replicas would answer one owner with two carts;
- remembers which owners it knew, so their new carts are marked as lost.

An owner's cart made during the loss window is marked lost when the owner is one this
replica knew, or when the owner's token was issued before the loss (nobody can know
whether that owner had a cart: the mark then errs on the side of saying so).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable

import structlog

from .owners import Owner
from .ports.state import Generation, StateStore, StateUnavailable

log = structlog.get_logger(__name__)
_REMEMBERED_OWNERS = 100_000


class StateWatch:
    def __init__(
        self,
        state: StateStore,
        *,
        window_s: int,
        check_every_s: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._window_s = window_s
        self._every_s = check_every_s
        self._clock = clock
        self._seen: str | None = None
        self.lost_at: float | None = None
        self.losses = 0  # losses this replica noticed (a metric)
        self.carts_flagged = 0
        self._on_loss: list[Callable[[], set[str]]] = []
        self._lost_owners: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._checking: asyncio.Lock = asyncio.Lock()

    def on_loss(self, drop: Callable[[], set[str]]) -> None:
        """Call ``drop`` when a loss is noticed; it forgets what it kept and returns the
        owner ids it knew (or an empty set)."""
        self._on_loss.append(drop)

    async def start(self) -> None:
        """Mark the dataset (an empty one at start-up cannot be told from a new one)."""
        with contextlib.suppress(StateUnavailable):
            self._adopt(await self._state.start_generation(self._candidate(), None, 1))
        self._task = asyncio.create_task(self._watch())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            with contextlib.suppress(StateUnavailable):
                await self.check()

    async def check(self) -> bool:
        """Read the marker; True when a loss was (just) noticed."""
        async with self._checking:
            current = await self._state.generation()
            if current.id is not None and current.id == self._seen:
                self._adopt(current)
                return False
            if current.id is None:
                # The data is gone: mark it anew, and say when it went.
                noticed = self._clock() if self._seen is not None else None
                current = await self._state.start_generation(
                    self._candidate(), noticed, self._window_s
                )
            lost = self._seen is not None and current.id != self._seen
            self._adopt(current)
            if lost:
                self._lost()
            return lost

    def _candidate(self) -> str:
        return f"{int(self._clock())}-{secrets.token_hex(6)}"

    def _adopt(self, generation: Generation) -> None:
        self._seen = generation.id
        if generation.lost_at is not None:
            self.lost_at = generation.lost_at

    def _lost(self) -> None:
        self.losses += 1
        log.error("state store data lost: in-process copies dropped", lost_at=self.lost_at)
        for drop in self._on_loss:
            self._lost_owners |= drop()
        if len(self._lost_owners) > _REMEMBERED_OWNERS:
            self._lost_owners = set(list(self._lost_owners)[:_REMEMBERED_OWNERS])

    def in_window(self) -> bool:
        return self.lost_at is not None and self._clock() - self.lost_at < self._window_s

    def may_have_lost(self, owner: Owner) -> bool:
        """Whether a new cart for ``owner`` should be marked as lost."""
        if not self.in_window():
            return False
        assert self.lost_at is not None
        if owner.id in self._lost_owners:
            return True
        # ``iat`` counts whole seconds: a token from the second the loss was noticed in
        # counts as issued after it.
        return owner.issued_at is None or owner.issued_at < self.lost_at - 1.0
