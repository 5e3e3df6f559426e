"""Logs carry no secrets: a field whose name could hold one is hidden, whatever the
code that logged it, and the verdict per name holds however often a name is seen."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import structlog

from cartsync import observability
from cartsync.observability import configure_logging
from cartsync.settings import load_settings

from ..support import gateway_env

BASE = gateway_env("https://shop.example", None)  # JSON logs, as in production


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """These tests log to a captured stderr: put logging back as it was, or later tests
    (in the same process) would write to a stream that is closed by then."""
    saved = structlog.get_config()
    sink = observability._request_sink
    yield
    structlog.configure(**saved)
    observability._request_sink = sink


def test_fields_that_could_hold_a_secret_are_hidden(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging(load_settings(BASE))
    log = structlog.get_logger("test")
    secret = "eyJhbGciOiJIUzI1NiJ9.secret"
    for _ in range(3):  # the cached verdict gives the same answer every time
        log.info(
            "upstream call",
            cart_token=secret,
            Authorization=f"Bearer {secret}",
            upstream_nonce=secret,
            request_body=secret,
            owner="u_1",
            status=200,
        )
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    assert len(lines) == 3
    for line in lines:
        assert secret not in json.dumps(line)
        for hidden in ("cart_token", "Authorization", "upstream_nonce", "request_body"):
            assert line[hidden] == "[hidden]"
        assert line["owner"] == "u_1"
        assert line["status"] == 200


def test_the_hot_reads_direct_line_is_the_line_structlog_writes(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """``request_line`` skips structlog's processors for JSON at info: same line."""
    from cartsync.observability import request_line

    configure_logging(load_settings(BASE))
    fields = {"method": "GET", "path": "/v1/cart", "status": 200, "owner": "u_1", "fast": True}
    structlog.contextvars.bind_contextvars(request_id="r1")
    try:
        request_line(dict(fields))
        structlog.get_logger("cartsync.request").info("request", **fields)
    finally:
        structlog.contextvars.clear_contextvars()
    direct, chained = (json.loads(line) for line in capfd.readouterr().err.splitlines())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", direct["timestamp"])
    assert direct.pop("timestamp")[:16] == chained.pop("timestamp")[:16]
    assert list(direct.items()) == list(chained.items())  # same fields, same order


def test_console_logs_and_a_quieter_level_go_through_structlog(
    capfd: pytest.CaptureFixture[str],
) -> None:
    from cartsync.observability import request_line

    configure_logging(load_settings({**BASE, "CARTSYNC_LOG_FORMAT": "console"}))
    request_line({"method": "GET", "status": 200})
    assert "request" in capfd.readouterr().err
    configure_logging(load_settings({**BASE, "CARTSYNC_LOG_LEVEL": "warning"}))
    request_line({"method": "GET", "status": 200})
    assert capfd.readouterr().err == ""
