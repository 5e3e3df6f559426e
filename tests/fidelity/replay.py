"""Replays the recordings of the real WooCommerce stores (8.9.1, 9.9.5) against storesim.

Each recorded step is sent again, in order (state carries over), with the real
store's tokens and nonces mapped to the simulator's own: a recorded guest id is
bound to the simulator's id the first time a response names it. The answer is then
compared with the recording: status, error code and message, header names (with
casing and order), the values of the headers that matter, the JSON shape (keys and
types) and every value in the body, money and quantities included.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = Path(__file__).resolve().parent / "recordings"  # copied in: the project stands alone
RECORDED_SITE = "http://127.0.0.1:8181"
# Transport headers that say nothing about the Store API, and cookies, whose exact
# rules (WooCommerce's browser cookie hooks) do not apply to headless clients: see
# storesim's "Deliberate differences".
IGNORED_HEADERS = frozenset(
    {
        "server",
        "date",
        "connection",
        "transfer-encoding",
        "content-length",
        "set-cookie",
        "keep-alive",
    }
)
VALUE_HEADERS = frozenset(
    {
        "allow",
        "access-control-allow-origin",
        "x-wp-total",
        "x-wp-totalpages",
        "user-id",
        "content-type",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-retry-after",
        "access-control-allow-headers",
        "access-control-expose-headers",
        "access-control-allow-methods",
        "access-control-allow-credentials",
        "vary",
        "x-robots-tag",
        "x-content-type-options",
        "link",
        "expires",
        "cache-control",
        "cart-hash",  # 9.9.5: WooCommerce's md5 of the session's cart, reproduced
    }
)
VOLATILE_KEYS = frozenset({"Nonce", "X-WC-Store-API-Nonce", "Nonce-Timestamp", "Cart-Token"})


def recordings_dir() -> Path:
    configured = os.environ.get("CARTSYNC_RECORDINGS")
    path = Path(configured) if configured else RECORDINGS
    if not (path / "storeapi" / "index.json").exists():
        raise FileNotFoundError(
            f"recordings not found at {path}: set CARTSYNC_RECORDINGS to a recordings folder"
        )
    return path


def index_names(folder: str) -> list[str]:
    """The steps a recordings folder publishes (its ``index.json``), as ``folder/name``."""
    index: Path = recordings_dir() / folder / "index.json"
    return [f"{folder}/{e['file'].removesuffix('.json')}" for e in json.loads(index.read_text())]


def load_steps(folder: str = "storeapi") -> list[dict[str, Any]]:
    directory = recordings_dir() / folder
    files = sorted(p for p in directory.glob("[0-9][0-9][0-9]-*.json"))
    return [json.loads(p.read_text()) | {"_file": p.name} for p in files]


def jwt_payload(token: str) -> dict[str, Any] | None:
    try:
        part = token.split(".")[1]
        decoded: dict[str, Any] = json.loads(
            base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        )
        return decoded
    except (IndexError, ValueError):
        return None


@dataclass
class Mismatch:
    step: str
    where: str
    recorded: Any
    simulated: Any

    def __str__(self) -> str:
        return f"{self.step} {self.where}: recorded {self.recorded!r}, storesim {self.simulated!r}"


@dataclass
class Replayer:
    client: httpx.AsyncClient
    users: dict[str, str] = field(default_factory=dict)  # recorded user_id -> sim user_id
    tokens: dict[str, str] = field(default_factory=dict)  # sim user_id -> newest sim token
    recorded_nonce: str | None = None

    async def sim_now(self) -> int:
        """The simulator's clock (the replay stops it, so answers never straddle a second)."""
        return int((await self.client.get("/__sim/clock")).json()["now"])

    # -- mapping recorded tokens and nonces ------------------------------------------
    def learn(self, recorded_token: str | None, sim_token: str | None) -> list[str]:
        """Bind the user of a recorded response token to the simulator's; report a clash."""
        problems: list[str] = []
        if not recorded_token or not sim_token:
            return problems
        recorded = jwt_payload(recorded_token) or {}
        simulated = jwt_payload(sim_token) or {}
        r_user, s_user = recorded.get("user_id"), simulated.get("user_id")
        if r_user is None or s_user is None:
            return ["Cart-Token without user_id"]
        known = self.users.get(r_user)
        if known is None:
            if s_user in self.users.values():
                problems.append(f"Cart-Token user: storesim reused a known session {s_user}")
            self.users[r_user] = s_user
        elif known != s_user:
            problems.append(f"Cart-Token user: expected the session of {r_user}")
        self.tokens[s_user] = sim_token
        for key in ("iss",):
            if recorded.get(key) != simulated.get(key):
                problems.append(f"Cart-Token {key}")
        if recorded.get("exp", 0) - recorded.get("iat", 0) != simulated.get(
            "exp", 0
        ) - simulated.get("iat", 0):
            problems.append("Cart-Token lifetime")
        return problems

    async def map_token(self, token: str) -> str:
        payload = jwt_payload(token)
        if payload is None or "user_id" not in payload:
            return token  # garbage stays garbage
        r_user = payload["user_id"]
        s_user = self.users.get(r_user)
        expired = payload.get("exp", 0) < payload.get("iat", 0)
        if s_user is None:
            # A correctly signed token for a session that does not exist.
            s_user = r_user
            now = await self.sim_now()
            signed = await self.client.post(
                "/__sim/tokens",
                json={
                    "payload": {
                        "user_id": s_user,
                        "exp": payload["exp"] - payload["iat"] + now,
                        "iss": payload.get("iss", "wc/store/v1"),
                        "iat": now,
                    }
                },
            )
            return str(signed.json()["token"])
        current = self.tokens[s_user]
        if expired:
            answer = await self.client.post("/__sim/tokens/expire", json={"token": current})
            return str(answer.json()["token"])
        return current

    async def map_nonce(self, value: str, step: dict[str, Any]) -> str:
        extra = step.get("extra") or {}
        for key, recorded in extra.items():
            if key.startswith("nonce_tick_minus_") and recorded == value:
                ticks = int(key.rsplit("_", 1)[1])
                answer = await self.client.get("/__sim/nonce", params={"ticks_ago": ticks})
                return str(answer.json()["nonce"])
        if value == self.recorded_nonce or value in extra.values():
            answer = await self.client.get("/__sim/nonce")
            return str(answer.json()["nonce"])
        return value

    async def map_headers(self, headers: dict[str, Any], step: dict[str, Any]) -> dict[str, str]:
        mapped: dict[str, str] = {}
        for name, value in headers.items():
            if name.lower() == "cart-token":
                mapped[name] = await self.map_token(value)
            elif name.lower() in ("nonce", "x-wc-store-api-nonce"):
                mapped[name] = await self.map_nonce(value, step)
            else:
                mapped[name] = value
        return mapped

    # -- one step -----------------------------------------------------------------------
    async def send(self, step: dict[str, Any]) -> httpx.Response:
        request = step["request"]
        wanted = {
            "Cart-Token",
            "Nonce",
            "X-WC-Store-API-Nonce",
            "Content-Type",
            "Origin",
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        }
        headers = await self.map_headers({n: v for n, v in request["headers"] if n in wanted}, step)
        body = request.get("body")
        content: bytes | None = None
        if body is not None:
            if isinstance(body, dict) and isinstance(body.get("requests"), list):
                body = dict(body)
                body["requests"] = [
                    {**sub, "headers": await self.map_headers(sub["headers"], step)}
                    if isinstance(sub, dict) and isinstance(sub.get("headers"), dict)
                    else sub
                    for sub in body["requests"]
                ]
            content = json.dumps(body).encode()
        url = request["path"]
        self.client.cookies.clear()  # the recording client kept no cookies
        return await self.client.request(
            request["method"],
            url,
            params=request["query"] or None,
            headers=headers,
            content=content,
        )

    def compare(self, step: dict[str, Any], response: httpx.Response) -> list[Mismatch]:
        name = step["_file"].removesuffix(".json")
        recorded = step["response"]
        found: list[Mismatch] = []

        def miss(where: str, rec: Any, sim: Any) -> None:
            found.append(Mismatch(name, where, rec, sim))

        if recorded["status"] != response.status_code:
            miss("status", recorded["status"], response.status_code)
        rec_headers = [(n, v) for n, v in recorded["headers"] if n.lower() not in IGNORED_HEADERS]
        sim_headers = [
            (n.decode(), v.decode())
            for n, v in response.headers.raw
            if n.decode().lower() not in IGNORED_HEADERS
        ]
        if [n for n, _ in rec_headers] != [n for n, _ in sim_headers]:
            miss("header names", [n for n, _ in rec_headers], [n for n, _ in sim_headers])
        sim_values = {n.lower(): v for n, v in sim_headers}
        for header, value in rec_headers:
            if header.lower() in VALUE_HEADERS and sim_values.get(header.lower()) != value:
                miss(f"header {header}", value, sim_values.get(header.lower()))
            if header.lower() == "ratelimit-reset" and header.lower() not in sim_values:
                miss(f"header {header}", value, None)
        rec_token = {n.lower(): v for n, v in recorded["headers"]}.get("cart-token")
        for problem in self.learn(rec_token, response.headers.get("cart-token")):
            miss("header Cart-Token", "mapped session", problem)

        rec_json = recorded.get("json")
        try:
            sim_json = response.json() if response.content else None
        except ValueError:
            sim_json = response.text
        for where, rec, sim in diff(rec_json, sim_json, "body"):
            miss(where, rec, sim)
        self._learn_subtokens(rec_json, sim_json)
        return found

    def _learn_subtokens(self, rec_json: Any, sim_json: Any) -> None:
        if not (isinstance(rec_json, dict) and isinstance(sim_json, dict)):
            return
        rec_list, sim_list = rec_json.get("responses"), sim_json.get("responses")
        if not isinstance(rec_list, list) or not isinstance(sim_list, list):
            return
        for rec, sim in zip(rec_list, sim_list, strict=False):
            rec_headers = (rec or {}).get("headers") if isinstance(rec, dict) else None
            sim_headers = (sim or {}).get("headers") if isinstance(sim, dict) else None
            if isinstance(rec_headers, dict) and isinstance(sim_headers, dict):
                self.learn(rec_headers.get("Cart-Token"), sim_headers.get("Cart-Token"))


Deliberate = dict[str, tuple[str, tuple[str, ...]]]
"""Step → (why storesim differs on purpose, the places where it may differ)."""


def assert_step_matches(name: str, mismatches: list[Mismatch], deliberate: Deliberate) -> None:
    """A replayed step matches the recording, or differs only where it is listed to
    (and still differs there: a listed difference that went away must be dropped)."""
    if name in deliberate:
        allowed = deliberate[name][1]
        unexpected = [m for m in mismatches if not m.where.startswith(allowed)]
        assert mismatches, f"{name} no longer differs: drop it from DELIBERATE"
        assert not unexpected, "\n".join(str(m) for m in unexpected)
        return
    assert not mismatches, "\n".join(str(m) for m in mismatches)


def diff(recorded: Any, simulated: Any, where: str) -> Iterator[tuple[str, Any, Any]]:
    """Every place where the two JSON documents differ in shape, type or value."""
    if isinstance(recorded, dict) and isinstance(simulated, dict):
        if list(recorded) != list(simulated):
            yield f"{where} keys", list(recorded), list(simulated)
        for key in recorded:
            if key in simulated and key not in VOLATILE_KEYS:
                yield from diff(recorded[key], simulated[key], f"{where}.{key}")
        return
    if isinstance(recorded, list) and isinstance(simulated, list):
        if len(recorded) != len(simulated):
            yield f"{where} length", len(recorded), len(simulated)
        for index, (rec, sim) in enumerate(zip(recorded, simulated, strict=False)):
            yield from diff(rec, sim, f"{where}[{index}]")
        return
    if type(recorded) is not type(simulated):
        yield f"{where} type", type(recorded).__name__, type(simulated).__name__
        return
    if recorded != simulated:
        yield where, recorded, simulated
