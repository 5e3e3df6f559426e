"""Replays the CoCart recordings (``cocart/``, ``cocart-extra/``) against storesim.

Steps are sent in order (state carries over) with the store's clock set, and stopped,
at each step's recorded time, so timestamps, expiry headers and cookie dates compare
exactly. Cart keys the real store made are bound to the simulator's the first time an
answer names them (client-chosen keys stay as they are), Store API tokens and nonces
as in ``replay.py``, and the cookies a step sends are the ones storesim set for the
recorded values. Compared: status, error code and message, header names in order, the
values of the headers that matter, Set-Cookie names (and values on the shop front),
the JSON shape and every body value (``cart_hash`` included: it is WooCommerce's md5).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote

import httpx

from .replay import IGNORED_HEADERS, VALUE_HEADERS, Mismatch, Replayer, diff, recordings_dir

FOLDERS = ("cocart", "cocart-extra")
SITES = {"cocart": "http://127.0.0.1:8181", "cocart-extra": "http://127.0.0.1:8090"}
COCART_VALUE_HEADERS = VALUE_HEADERS | {
    "pragma",
    "last-modified",
    "cocart-timestamp",
    "cocart-version",
    "cocart-api-cart-key",
    "cocart-api-cart-expiring",
    "cocart-api-cart-expiration",
    "nonce-timestamp",
    "location",
    "x-redirect-by",
}
SENT_HEADERS = frozenset(
    {"content-type", "origin", "cocart-api-cart-key", "cart-token", "nonce", "x-wc-store-api-nonce"}
)
_HASH_TAIL = re.compile(r"(%7C%7C|\|\|)[0-9a-f]{32}")

# What the recorded store held before a step, from an earlier run of the same script on
# it (the recordings are the second run): the replay stores the same carts first.
PRECONDITIONS: dict[str, tuple[str, list[dict[str, Any]], str]] = {
    "cocart-extra/010": (
        "no_such_cart_key_123",
        [],
        "step 015 of the earlier run read this key, and CoCart stores a row for every key a "
        "request names (storesim does not for an empty cart): load-cart found that empty "
        "row and set a session cookie, but no item cookies",
    ),
    "cocart-extra/016": (
        "no_such_cart_key_456",
        [{"id": 10, "quantity": 1}],
        "step 016 of the earlier run had added one Beanie under this key: the recorded "
        "answer holds two",
    ),
}


def load_folder(folder: str) -> list[dict[str, Any]]:
    directory = recordings_dir() / folder
    if not (directory / "index.json").exists():
        raise FileNotFoundError(f"CoCart recordings not found in {directory}")
    files = sorted(p for p in directory.glob("[0-9][0-9][0-9]-*.json"))
    return [json.loads(p.read_text()) | {"_file": p.name, "_folder": folder} for p in files]


def step_id(step: dict[str, Any]) -> str:
    return f"{step['_folder']}/{step['_file'].removesuffix('.json')}"


def recorded_time(step: dict[str, Any]) -> float:
    headers = {n.lower(): v for n, v in step["response"]["headers"]}
    for name in ("cocart-timestamp", "nonce-timestamp"):
        if name in headers:
            return float(headers[name])
    return parsedate_to_datetime(headers["date"]).timestamp()


def _cookies(headers: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(name, value, attributes) of each Set-Cookie, in order; values un-quoted."""
    out = []
    for name, raw in headers:
        if name.lower() == "set-cookie":
            pair, _, attributes = raw.partition(";")
            cookie, _, value = pair.partition("=")
            out.append((cookie.strip(), unquote(value), attributes.strip()))
    return out


@dataclass
class CocartReplayer(Replayer):
    keys: dict[str, str] = field(default_factory=dict)  # recorded cart key -> storesim's
    cookie_values: dict[tuple[str, str], str] = field(default_factory=dict)

    def mapped(self, value: Any) -> Any:
        """A recorded value with the real store's cart keys and session ids swapped."""
        if isinstance(value, str):
            for recorded, simulated in (*self.keys.items(), *self.users.items()):
                value = value.replace(recorded, simulated)
            return value
        if isinstance(value, list):
            return [self.mapped(v) for v in value]
        if isinstance(value, dict):
            return {self.mapped(k): self.mapped(v) for k, v in value.items()}
        return value

    async def prepare(self, step: dict[str, Any]) -> None:
        await self.client.post("/__sim/clock", json={"set_to": recorded_time(step), "freeze": True})
        seed = PRECONDITIONS.get(step_id(step)[: len(step["_folder"]) + 4])
        if seed is not None:
            key, items, _ = seed
            answer = await self.client.put(f"/__sim/cocart/carts/{key}", json={"items": items})
            answer.raise_for_status()
        for name, value in step["response"]["headers"]:
            if name == "Nonce":
                self.recorded_nonce = value

    async def send(self, step: dict[str, Any]) -> httpx.Response:
        request = step["request"]
        sent = {n: v for n, v in request["headers"] if n.lower() in SENT_HEADERS}
        headers = await self.map_headers(
            {
                n: self.mapped(v) if n.lower() == "cocart-api-cart-key" else v
                for n, v in sent.items()
            },
            step,
        )
        cookie = next((v for n, v in request["headers"] if n.lower() == "cookie"), None)
        if cookie:
            pairs = []
            for part in cookie.split(";"):
                name, _, value = part.strip().partition("=")
                value = unquote(value)
                pairs.append(f"{name}={self.cookie_values.get((name, value), self.mapped(value))}")
            headers["Cookie"] = "; ".join(pairs)
        body = request.get("body")
        content = json.dumps(self.mapped(body)).encode() if body is not None else None
        self.client.cookies.clear()  # the recording client kept no cookies
        return await self.client.request(
            request["method"],
            request["path"],
            params=self.mapped(request["query"]) or None,
            headers=headers,
            content=content,
        )

    def learn_key(self, recorded: str | None, simulated: str | None) -> None:
        if recorded and simulated and recorded not in self.keys and recorded != simulated:
            self.keys[recorded] = simulated

    def compare(self, step: dict[str, Any], response: httpx.Response) -> list[Mismatch]:
        name = step_id(step)
        recorded = step["response"]
        found: list[Mismatch] = []

        def miss(where: str, rec: Any, sim: Any) -> None:
            found.append(Mismatch(name, where, rec, sim))

        rec_all = {n.lower(): v for n, v in recorded["headers"]}
        self.learn_key(
            rec_all.get("cocart-api-cart-key"), response.headers.get("cocart-api-cart-key")
        )
        rec_json = recorded.get("json")
        try:
            sim_json = response.json() if response.content else None
        except ValueError:
            sim_json = response.text
        if isinstance(rec_json, dict) and isinstance(sim_json, dict):
            self.learn_key(rec_json.get("cart_key"), sim_json.get("cart_key"))
        for problem in self.learn(rec_all.get("cart-token"), response.headers.get("cart-token")):
            miss("header Cart-Token", "mapped session", problem)

        if recorded["status"] != response.status_code:
            miss("status", recorded["status"], response.status_code)
        rec_headers = [
            (n, self.mapped(v)) for n, v in recorded["headers"] if n.lower() not in IGNORED_HEADERS
        ]
        sim_raw = [(n.decode(), v.decode()) for n, v in response.headers.raw]
        sim_headers = [(n, v) for n, v in sim_raw if n.lower() not in IGNORED_HEADERS]
        if [n for n, _ in rec_headers] != [n for n, _ in sim_headers]:
            miss("header names", [n for n, _ in rec_headers], [n for n, _ in sim_headers])
        sim_values = {n.lower(): v for n, v in sim_headers}
        for header, value in rec_headers:
            if header.lower() in COCART_VALUE_HEADERS and sim_values.get(header.lower()) != value:
                miss(f"header {header}", value, sim_values.get(header.lower()))
        self._compare_cookies(step, recorded["headers"], sim_raw, miss)
        for where, rec, sim in diff(self.mapped(rec_json), sim_json, "body"):
            miss(where, rec, sim)
        return found

    def _compare_cookies(
        self,
        step: dict[str, Any],
        rec_raw: list[tuple[str, str]],
        sim_raw: list[tuple[str, str]],
        miss: Any,
    ) -> None:
        rec_cookies, sim_cookies = _cookies(rec_raw), _cookies(sim_raw)
        if [c[0] for c in rec_cookies] != [c[0] for c in sim_cookies]:
            miss("Set-Cookie names", [c[0] for c in rec_cookies], [c[0] for c in sim_cookies])
        front = not step["request"]["path"].startswith("/wp-json")
        sim_by_name = {c[0]: c for c in sim_cookies}
        for cookie, value, attributes in rec_cookies:
            sim = sim_by_name.get(cookie)
            if sim is None:
                continue
            self.cookie_values[(cookie, value)] = sim[1]
            if not front:
                continue  # Store API cookies: see storesim's deliberate differences
            rec_value = _HASH_TAIL.sub(r"\1<hash>", self.mapped(value))
            sim_value = _HASH_TAIL.sub(r"\1<hash>", sim[1])
            if (rec_value, attributes) != (sim_value, sim[2]):
                miss(f"Set-Cookie {cookie}", f"{rec_value}; {attributes}", f"{sim_value}; {sim[2]}")
