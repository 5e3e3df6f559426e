"""How the store has been answering, seen from this replica (for ``/healthz``).

An upstream outage is reported, never a reason to stop serving: reads are served from
snapshots (marked stale) while the store is down.
"""

from __future__ import annotations

from collections.abc import Callable


class UpstreamHealth:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.last_success: float | None = None
        self.last_failure: float | None = None

    def seen(self, ok: bool) -> None:
        """The store answered (``ok``) or could not be reached."""
        if ok:
            self.last_success = self._clock()
        else:
            self.last_failure = self._clock()
