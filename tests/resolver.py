"""A DNS server of our own for one name, and a process that asks only it.

Redis' service name resolving, then failing, is what a gateway meets when Redis and the
gateway stop together (compose ``down``, a Kubernetes rollout during a Redis outage).
``Resolver`` answers one name on a loopback address with ``127.0.0.1``, and can be told
to answer ``NXDOMAIN`` (the name is gone) or nothing at all (the DNS server is gone:
every lookup then runs to the resolver's timeouts, as in a network being torn down).
``namespaced`` runs a command in a mount namespace of its own whose ``/etc/resolv.conf``
names this server alone and whose ``/etc/hosts`` knows only localhost: the machine's
own files are untouched, and no other process sees the name.
"""

from __future__ import annotations

import secrets
import socket
import struct
import threading
import time
from pathlib import Path

ANSWER, NXDOMAIN, SILENT = "answer", "nxdomain", "silent"
_A, _IN = 1, 1


class Resolver:
    """Answers ``name`` (type A) with 127.0.0.1 on UDP ``address``:53, in a thread."""

    def __init__(self, name: str) -> None:
        self.name = name.lower().rstrip(".")
        # Any address of 127/8 is the loopback interface on Linux: one of our own.
        self.address = f"127.53.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"
        self.mode = ANSWER
        self.queries = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((self.address, 53))
        self._socket.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> Resolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                query, peer = self._socket.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            self.queries += 1
            if self.mode == SILENT or len(query) < 12:
                continue
            answer = self._answer(query)
            if answer is not None:
                self._socket.sendto(answer, peer)

    def _answer(self, query: bytes) -> bytes | None:
        (ident,) = struct.unpack("!H", query[:2])
        labels, offset = [], 12
        while offset < len(query) and query[offset]:
            length = query[offset]
            labels.append(query[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
            offset += length + 1
        if offset + 5 > len(query):
            return None
        question = query[12 : offset + 5]
        qtype, _ = struct.unpack("!HH", query[offset + 1 : offset + 5])
        known = ".".join(labels).lower() == self.name and self.mode == ANSWER
        # Flags: a response, recursion desired and available; rcode 3 is NXDOMAIN.
        flags = 0x8180 if known else 0x8183
        records = b""
        if known and qtype == _A:
            # The name by pointer to the question, A, IN, TTL 0 (nothing cached), 4 bytes.
            records = struct.pack("!HHHIH", 0xC00C, _A, _IN, 0, 4) + socket.inet_aton("127.0.0.1")
        header = struct.pack("!HHHHHH", ident, flags, 1, 1 if records else 0, 0, 0)
        return header + question + records

    def wait_for_query(self, since: int, timeout: float = 10.0) -> None:
        """Until a lookup after the ``since``-th has arrived (someone asked anew)."""
        deadline = time.monotonic() + timeout
        while self.queries <= since:
            assert time.monotonic() < deadline, "nobody asked the resolver"
            time.sleep(0.02)  # wait-ok: polling a counter with a deadline


def namespaced(command: list[str], resolver: Resolver, workdir: Path) -> list[str]:
    """``command`` in a mount namespace of its own that resolves names through
    ``resolver`` alone (root only: ``unshare`` and ``mount --bind``). The resolver's
    timeouts are glibc's defaults (5 s, two attempts), as in a container."""
    resolv = workdir / "resolv.conf"
    resolv.write_text(f"nameserver {resolver.address}\n")
    hosts = workdir / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost\n")
    script = (
        f'mount --bind "{resolv}" /etc/resolv.conf && mount --bind "{hosts}" /etc/hosts && '
        'exec "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command]
