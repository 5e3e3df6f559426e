"""Redis Sentinel URLs (``redis+sentinel://``), read by the settings (to refuse a bad one
at start) and by the Redis backend (to connect): one parser for both."""

from __future__ import annotations

from urllib.parse import unquote

SENTINEL_SCHEME = "redis+sentinel://"


def parse_sentinel_url(url: str) -> tuple[list[tuple[str, int]], str, int, str | None]:
    """``redis+sentinel://[:password@]host:port[,host:port…]/master[/db]``: the sentinels,
    the monitored master's name, the database and the password (of the master, and of
    the sentinels when they have one)."""
    rest = url.removeprefix(SENTINEL_SCHEME)
    netloc, _, path = rest.partition("/")
    password: str | None = None
    if "@" in netloc:
        credentials, netloc = netloc.rsplit("@", 1)
        password = unquote(credentials.partition(":")[2]) or None
    hosts = []
    for part in netloc.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"sentinel address {part!r} is not host:port")
        hosts.append((host, int(port)))
    master, _, db = path.partition("/")
    if not master:
        raise ValueError("the sentinel URL names no master (…/mymaster)")
    if db and not db.isdigit():
        raise ValueError(f"database {db!r} is not a number")
    return hosts, master, int(db or 0), password


__all__ = ["SENTINEL_SCHEME", "parse_sentinel_url"]
