"""storesim against every published step of the Store API recordings: ``storeapi/``
(WooCommerce 8.9.1, the ``8.9`` profile) and ``storeapi-9.9.5/`` (the same step list sent
to WooCommerce 9.9.5, the ``9.9`` profile).

Each folder is replayed once, in order, on a fresh simulator at the recorded site URL,
and each step is then a test of its own, so a mismatch names the folder, the step and
the field. A step listed in ``DELIBERATE`` is a difference storesim keeps on purpose: its
test checks that the difference is the only one.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from storesim import SimConfig, create_app

from .replay import (
    Deliberate,
    Mismatch,
    Replayer,
    assert_step_matches,
    index_names,
    jwt_payload,
    load_steps,
)

# folder -> (storesim profile, the site URL the store was recorded at)
FOLDERS = {
    "storeapi": ("8.9", "http://127.0.0.1:8181"),
    "storeapi-9.9.5": ("9.9", "http://127.0.0.1:8091"),
}
STEPS = {folder: load_steps(folder) for folder in FOLDERS}
STEP_NAMES = [
    f"{folder}/{step['_file'].removesuffix('.json')}"
    for folder in FOLDERS
    for step in STEPS[folder]
]
RATE_LIMIT = {"enabled": True, "limit": 10, "seconds": 30}

# 9.9.5's Cart-Hash is WooCommerce's md5 of the session's cart and total, reproduced to the
# byte (the unrounded line taxes included; two fixed_cart coupons together too) except while
# the percent coupon ``test`` and the fixed_cart coupon ``20off`` are applied together:
# WooCommerce then keeps sub-cent amounts in the session that no answer shows.
_FIXED_CART_HASH = (
    "the Cart-Hash of a cart with the percent coupon test and the fixed_cart coupon 20off "
    "applied together: WooCommerce hashes sub-cent session amounts that no answer shows "
    "(the cart itself matches to the cent)",
    ("header Cart-Hash",),
)
DELIBERATE: Deliberate = {
    f"storeapi-9.9.5/{step['_file'].removesuffix('.json')}": _FIXED_CART_HASH
    for step in STEPS["storeapi-9.9.5"]
    if step["_file"][:3]
    in {
        *("054", "055", "056", "057", "058", "059", "060", "061", "062", "063"),
        *("064", "065", "066", "068", "069", "098", "109", "116"),
    }
}


async def _main_headers(replayer: Replayer, step: dict[str, Any]) -> dict[str, str]:
    """Token and nonce of the main recorded cart (the one the next step uses)."""
    user = step["decoded_request_cart_token"]["user_id"]
    sim_user = replayer.users[user]
    nonce = (await replayer.client.get("/__sim/nonce")).json()["nonce"]
    return {"Cart-Token": replayer.tokens[sim_user], "Nonce": nonce}


async def _rapid_default(
    replayer: Replayer, step: dict[str, Any], after: dict[str, Any]
) -> list[Mismatch]:
    """Step 115: 40 GET /cart then 20 add-item (Sunglasses: the next step's cart holds
    20 more of them) with default settings: no rate limiting, no RateLimit headers."""
    headers = await _main_headers(replayer, after)
    found = []
    for result in step["results"]:
        if result.get("method") == "POST add-item":
            response = await replayer.client.post(
                "/wp-json/wc/store/v1/cart/add-item",
                json={"id": 15, "quantity": 1},
                headers=headers,
            )
        else:
            response = await replayer.client.get("/wp-json/wc/store/v1/cart", headers=headers)
        if response.status_code != result["status"]:
            found.append(
                Mismatch(
                    "115", f"results[{result['i']}].status", result["status"], response.status_code
                )
            )
        if any(name.lower().startswith("ratelimit") for name in response.headers):
            found.append(Mismatch("115", f"results[{result['i']}] headers", {}, "RateLimit-*"))
    return found


class _Limited:
    """Steps 116-119: the rate limiter's window, on the store's stopped clock."""

    def __init__(self, replayer: Replayer) -> None:
        self.replayer = replayer
        self.advanced = False

    async def clock_to_retry_after(self, wanted: int) -> None:
        """The real sequence took a moment to exhaust the limit (about a second on 8.9.1,
        under one on 9.9.5): move the simulated clock on by the same, once per window, so
        Retry-After reads as recorded."""
        if not self.advanced:
            await self.replayer.client.post("/__sim/clock", json={"advance_seconds": 30 - wanted})
            self.advanced = True

    async def sequence(
        self, step: dict[str, Any], main: dict[str, Any], skip_first: bool = False
    ) -> list[Mismatch]:
        """Step 119's sequence: 14 GET /cart under a 10 per 30 s limit."""
        headers = await _main_headers(self.replayer, main)
        found = []
        for result in step["results"][1 if skip_first else 0 :]:
            if result["status"] == 400 and "ratelimit-retry-after" in result["ratelimit_headers"]:
                await self.clock_to_retry_after(
                    int(result["ratelimit_headers"]["ratelimit-retry-after"])
                )
            response = await self.replayer.client.get("/wp-json/wc/store/v1/cart", headers=headers)
            where = f"results[{result['i']}]"
            if response.status_code != result["status"]:
                found.append(
                    Mismatch(
                        step["_file"][:3], f"{where}.status", result["status"], response.status_code
                    )
                )
            for name, value in result["ratelimit_headers"].items():
                if name != "ratelimit-reset" and response.headers.get(name) != value:
                    found.append(
                        Mismatch(
                            step["_file"][:3], f"{where} {name}", value, response.headers.get(name)
                        )
                    )
        return found


def _retry_after(step: dict[str, Any]) -> int:
    headers = {n.lower(): v for n, v in step["response"]["headers"]}
    return int(headers["ratelimit-retry-after"])


async def replay_all(folder: str) -> dict[str, list[Mismatch]]:
    woo, site = FOLDERS[folder]
    app = create_app(SimConfig(secret="fidelity", woo=woo))
    transport = httpx.ASGITransport(app=app)
    outcome: dict[str, list[Mismatch]] = {}
    steps = STEPS[folder]
    by_number = {s["_file"][:3]: s for s in steps}
    async with httpx.AsyncClient(transport=transport, base_url=site) as client:
        # A stopped clock: the rate-limit windows (116-119) and every Retry-After are then
        # counted in simulated seconds only, never across a wall-clock second boundary.
        await client.post("/__sim/clock", json={"freeze": True})
        replayer = Replayer(client)
        limited = _Limited(replayer)
        for step in steps:
            name = f"{folder}/{step['_file'].removesuffix('.json')}"
            number = step["_file"][:3]
            if number == "115":
                outcome[name] = await _rapid_default(replayer, step, by_number["116"])
                continue
            if number in ("116", "119"):
                await client.put("/__sim/rate-limit", json=RATE_LIMIT)
                limited.advanced = False
            if number == "119":
                outcome[name] = await limited.sequence(step, by_number["116"])
                await client.put("/__sim/rate-limit", json={"enabled": False})
                continue
            if number == "117":
                # The rest of the rapid sequence (119's requests 1-9) exhausts the limit
                # between 116 and 117 on the real store.
                name_116 = next(n for n in outcome if n.startswith(f"{folder}/116"))
                outcome[name_116].extend(
                    await limited.sequence(
                        {**by_number["119"], "results": by_number["119"]["results"][:10]},
                        by_number["116"],
                        skip_first=True,
                    )
                )
                await limited.clock_to_retry_after(_retry_after(step))
            if replayer.recorded_nonce is None:
                for header, value in step["response"]["headers"]:
                    if header == "Nonce":
                        replayer.recorded_nonce = value
            response = await replayer.send(step)
            outcome.setdefault(name, []).extend(replayer.compare(step, response))
    return outcome


@pytest.fixture(scope="module")
async def replayed() -> dict[str, list[Mismatch]]:
    outcome: dict[str, list[Mismatch]] = {}
    for folder in FOLDERS:
        outcome |= await replay_all(folder)
    return outcome


@pytest.mark.parametrize("name", STEP_NAMES)
async def test_step_matches_the_real_store(replayed: dict[str, list[Mismatch]], name: str) -> None:
    """The simulator answers this recorded step as the real store did."""
    assert_step_matches(name, replayed[name], DELIBERATE)


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_published_step_is_replayed(folder: str) -> None:
    """No recorded step is left out of the replay."""
    assert index_names(folder) == [n for n in STEP_NAMES if n.startswith(f"{folder}/")]


def test_the_two_versions_replay_the_same_step_list() -> None:
    """``storeapi-9.9.5/`` is the ``storeapi/`` script re-sent: same steps, same names."""
    names = {folder: [s["_file"] for s in STEPS[folder]] for folder in FOLDERS}
    assert names["storeapi"] == names["storeapi-9.9.5"]


def test_recorded_tokens_are_the_real_stores_format() -> None:
    """The recordings carry HS256 Cart-Tokens with t_ ids, as storesim issues."""
    token = dict(STEPS["storeapi"][10]["response"]["headers"])["Cart-Token"]
    payload = jwt_payload(token)
    assert payload is not None
    assert payload["user_id"].startswith("t_")
    assert payload["exp"] - payload["iat"] == 172800
