"""An identity provider's signing keys, from its JWKS URL: cached, refreshed, bounded.

PyJWT's ``PyJWKClient`` fetches and parses the key set (http(s) only, redirects refused,
unusable keys skipped). Its own caching is not used, for three reasons read in its
source: it refreshes on the request path with blocking ``urllib`` (on the event loop
that would stall every request for the length of the fetch); it holds back a refresh
for an unknown ``kid`` only after a *successful* fetch, so while the provider is down
every request past the set's lifespan tries again; and once the set expires a failed
refresh leaves it with no keys at all, logging every user out during the outage.

Here, instead:

- the set is fetched in a worker thread (``asyncio.to_thread``), never on the loop, one
  fetch at a time; requests waiting for a key share it (single flight);
- a ``kid`` not in the set starts a fetch only if none was *attempted* in the last
  ``min_interval_s``, whatever the ``kid``: a flood of made-up ``kid``s costs at most one
  fetch per interval, and a provider that is down is asked once per interval too;
- a set older than ``max_age_s`` is refreshed in the background while its keys go on
  verifying; a failed refresh keeps them;
- only signing keys (``use`` absent or ``sig``) with a ``kid`` and of an allowed
  algorithm (RS256, ES256) are kept, at most ``MAX_KEYS`` of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from jwt import PyJWK, PyJWKClient

from ..metrics import JWKS_FETCHES

ALGORITHMS = frozenset({"RS256", "ES256"})
MAX_KEYS = 64
log = structlog.get_logger("cartsync.auth")


class JwksUnavailable(Exception):
    """The key is not among those known and the set could not be fetched lately."""


class JwksKeys:
    def __init__(
        self,
        url: str,
        *,
        min_interval_s: float = 30.0,
        max_age_s: float = 300.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._client = PyJWKClient(
            url, cache_jwk_set=False, timeout=timeout_s, headers={"User-Agent": "cartsync"}
        )
        self._min_interval_s = min_interval_s
        self._max_age_s = max_age_s
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._failed = False
        self._flight: asyncio.Task[None] | None = None

    async def key(self, kid: str) -> PyJWK | None:
        """The signing key named ``kid``; None when the provider does not publish it.
        Raises ``JwksUnavailable`` when it is unknown and the last fetch failed."""
        now = self._clock()
        key = self._keys.get(kid)
        if key is not None:
            stale = self._fetched_at is None or now - self._fetched_at > self._max_age_s
            if stale and self._flight is None and self._may_fetch(now):
                self._start()  # in the background: this key goes on verifying meanwhile
            return key
        flight = self._flight
        if flight is None:
            if not self._may_fetch(now):
                if self._failed:
                    raise JwksUnavailable(self.url)
                return None
            flight = self._start()
        await asyncio.shield(flight)  # a caller that gives up does not cancel the fetch
        key = self._keys.get(kid)
        if key is None and self._failed:
            raise JwksUnavailable(self.url)
        return key

    async def prefetch(self) -> None:
        """Fetch the set now (at start-up), so the first requests find it; a failure is
        logged and retried by the first request after the interval."""
        if self._flight is None:
            self._start()
        if self._flight is not None:
            await asyncio.shield(self._flight)

    async def aclose(self) -> None:
        if self._flight is not None:
            self._flight.cancel()
            await asyncio.gather(self._flight, return_exceptions=True)

    @property
    def retry_after_s(self) -> int:
        """Seconds until the next fetch may be attempted."""
        if self._attempted_at is None:
            return 1
        left = self._min_interval_s - (self._clock() - self._attempted_at)
        return max(1, int(left + 0.999))

    def _may_fetch(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._min_interval_s

    def _start(self) -> asyncio.Task[None]:
        self._attempted_at = self._clock()
        self._flight = asyncio.get_running_loop().create_task(self._refresh())
        return self._flight

    async def _refresh(self) -> None:
        try:
            keys = await asyncio.to_thread(self.fetch)
        except Exception as exc:  # any failure means: no new keys, keep the old ones
            self._failed = True
            JWKS_FETCHES.labels("error").inc()
            log.warning(
                "jwks fetch failed", url=self.url, error=type(exc).__name__, kept=len(self._keys)
            )
        else:
            self._keys = keys
            self._fetched_at = self._clock()
            self._failed = False
            JWKS_FETCHES.labels("ok").inc()
            log.info("jwks fetched", url=self.url, keys=len(keys))
        finally:
            self._flight = None

    def fetch(self) -> dict[str, PyJWK]:
        """One fetch of the set, blocking (call it in a worker thread): its usable signing
        keys by ``kid``; raises when there is none or the set cannot be had."""
        keys: dict[str, PyJWK] = {}
        for key in self._client.get_jwk_set().keys:
            usable = key.public_key_use in ("sig", None) and key.algorithm_name in ALGORITHMS
            if usable and isinstance(key.key_id, str) and key.key_id and len(keys) < MAX_KEYS:
                keys.setdefault(key.key_id, key)
        if not keys:
            raise ValueError("the key set has no RS256 or ES256 signing key with a kid")
        return keys
