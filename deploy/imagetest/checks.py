"""What the test asks of a running gateway, over plain HTTP (urllib: nothing to install):
the README's shopping session checked answer by answer, and the polling and expectations
the runs build on; a check that does not hold raises `Failed`."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from .engine import Failed

READY_TIMEOUT_S = 90.0


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def wait_until(what: str, ready: Any, timeout: float = READY_TIMEOUT_S) -> float:
    """Seconds until ``ready()`` is true (polled every 0.1 s)."""
    started = time.monotonic()
    while True:
        try:
            if ready():
                return time.monotonic() - started
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() - started > timeout:
            raise Failed(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.1)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def shopping_session(base: str) -> dict[str, Any]:
    """The README's curl session (guest token, products, add two Beanies, read the
    cart with its ETag), checked answer by answer; returns the cart."""
    health = http("GET", f"{base}/healthz")
    expect(health.status == 200, f"/healthz answered {health.status}: {health.body[:300]!r}")
    ready = http("GET", f"{base}/readyz")
    expect(ready.status == 200, f"/readyz answered {ready.status}: {ready.body[:300]!r}")
    guest = http("POST", f"{base}/v1/session/guest")
    expect(guest.status in (200, 201), f"POST /v1/session/guest answered {guest.status}")
    token = guest.json()["token"]
    products = http("GET", f"{base}/v1/products?per_page=3", token=token)
    expect(products.status == 200, f"GET /v1/products answered {products.status}")
    added = http(
        "POST", f"{base}/v1/cart/items", token=token, body={"product_id": 10, "quantity": 2}
    )
    expect(added.status == 200, f"POST /v1/cart/items answered {added.status}: {added.body!r}")
    cart: dict[str, Any] = added.json()
    lines = [(i["product_id"], i["quantity"]) for i in cart["items"]]
    expect(lines == [(10, 2)], f"the cart after the add holds {lines}, not [(10, 2)]")
    expect(cart["totals"]["subtotal"] == 3600, f"subtotal {cart['totals']['subtotal']} != 3600")
    read = http("GET", f"{base}/v1/cart", token=token)
    etag = read.headers.get("ETag") or read.headers.get("etag")
    expect(read.status == 200 and etag == f'"{cart["version"]}"', f"GET /v1/cart: {read.status}")
    again = http("GET", f"{base}/v1/cart", token=token, headers={"If-None-Match": etag or ""})
    expect(again.status == 304, f"GET /v1/cart with its ETag answered {again.status}, not 304")
    cart["_token"] = token
    return cart


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
