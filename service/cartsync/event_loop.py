"""The event loop the server runs: uvloop, with host-name lookups that never hold it.

uvloop looks names up on libuv's thread pool, and when a name stops resolving quickly
(Redis' service name once Redis and the gateway stop together: every lookup then runs
to the resolver's timeouts, 5 s twice with glibc's defaults) two things follow:

- a connection attempt cancelled during its lookup (redis-py's connect timeout is
  3 s) leaves the lookup's future to fail later with nobody to retrieve it: "Future
  exception was never retrieved ... socket.gaierror" (MagicStack/uvloop#437, open);
- closing the loop runs it until every lookup still pending has finished, four at a
  time on libuv's pool: a stop held for as long as the queue takes (25-41 s measured,
  and once for good).

Here a lookup runs in a daemon thread of its own, one per distinct question at a time
(everyone asking it meanwhile shares the answer): a caller that gives up just stops
waiting, the answer is dropped when it comes, and nothing waits for the thread at exit.
``create_connection`` looks the host up this way first and then connects to its
addresses, so uvloop never starts a lookup of its own. Numeric hosts and sockets pass
straight through, and nothing else of the loop changes (the hot path never resolves).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvloop

_Key = tuple[Any, Any, int, int, int, int]
_Answer = tuple[list[Any], BaseException | None]


def _numeric(host: object) -> bool:
    if isinstance(host, bytes):  # anyio (httpx) passes the IDNA-encoded name: ASCII
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class PromptLookups:
    """The lookups of one loop, mixed in front of the loop's own methods."""

    _lookups: dict[_Key, asyncio.Future[_Answer]]

    async def getaddrinfo(
        self,
        host: Any,
        port: Any,
        *,
        family: int = 0,
        type: int = 0,  # asyncio's own parameter name
        proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        if host is None or _numeric(host):  # no lookup: answered at once
            return socket.getaddrinfo(host, port, family, type, proto, flags)
        key: _Key = (host, port, family, type, proto, flags)
        shared = self._lookups.get(key)
        if shared is None:
            shared = self._lookups[key] = self._start_lookup(key)
        # shield: one caller giving up (a timeout, a cancelled request) leaves the others
        # their answer; the answer is a value, never an exception nobody retrieves.
        infos, error = await asyncio.shield(shared)
        if error is not None:
            raise error
        return infos

    def _start_lookup(self, key: _Key) -> asyncio.Future[_Answer]:
        loop: asyncio.AbstractEventLoop = self  # type: ignore[assignment]  # mixed into a loop
        answer: asyncio.Future[_Answer] = loop.create_future()

        def settle(result: _Answer) -> None:
            self._lookups.pop(key, None)
            if not answer.done():
                answer.set_result(result)

        def look_up() -> None:
            try:
                result: _Answer = (socket.getaddrinfo(*key), None)
            except OSError as exc:
                result = ([], exc)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                loop.call_soon_threadsafe(settle, result)

        threading.Thread(target=look_up, name="cartsync-lookup", daemon=True).start()
        return answer

    async def create_connection(
        self, protocol_factory: Callable[[], Any], host: Any = None, port: Any = None, **kw: Any
    ) -> Any:
        base = super().create_connection  # type: ignore[misc]  # the loop's own
        if host is None or kw.get("sock") is not None or _numeric(host):
            return await base(protocol_factory, host, port, **kw)
        infos = await self.getaddrinfo(
            host,
            port,
            family=kw.pop("family", 0),
            type=socket.SOCK_STREAM,
            proto=kw.pop("proto", 0),
            flags=kw.pop("flags", 0),
        )
        if kw.get("ssl") and kw.get("server_hostname") is None:
            kw["server_hostname"] = host  # the certificate names the host, not its address
        errors: list[OSError] = []
        for family, _, proto, _, address in infos:
            try:
                return await base(
                    protocol_factory, address[0], address[1], family=family, proto=proto, **kw
                )
            except OSError as exc:
                errors.append(exc)
        if not errors:
            raise OSError(f"getaddrinfo({host!r}) returned no address")
        if len(errors) == 1:
            raise errors[0]
        raise OSError(f"Multiple exceptions: {', '.join(str(e) for e in errors)}")


class Loop(PromptLookups, uvloop.Loop):  # type: ignore[misc]  # uvloop's Loop is untyped here
    """uvloop's loop, looking names up as above."""

    def __init__(self) -> None:
        super().__init__()
        self._lookups = {}


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop; uvicorn's ``loop="cartsync.event_loop:new_event_loop"`` (a custom
    loop is named by its constructor)."""
    return Loop()
