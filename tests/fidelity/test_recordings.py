"""storesim against every published recording of the real WooCommerce 8.9.1 store.

The whole sequence is replayed once, in order, and each step is then a test of its
own, so a mismatch names the step and the field.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from storesim import SimConfig, create_app

from .replay import Mismatch, Replayer, jwt_payload, load_steps

STEPS = load_steps()
STEP_NAMES = [s["_file"].removesuffix(".json") for s in STEPS]
RATE_LIMIT = {"enabled": True, "limit": 10, "seconds": 30}


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


async def _rapid_limited(
    replayer: Replayer, step: dict[str, Any], main: dict[str, Any], skip_first: bool = False
) -> list[Mismatch]:
    """Step 119's sequence: 14 GET /cart under a 10 per 30 s limit."""
    headers = await _main_headers(replayer, main)
    found = []
    for result in step["results"][1 if skip_first else 0 :]:
        if result["status"] == 400 and "ratelimit-retry-after" in result["ratelimit_headers"]:
            await _clock_to_retry_after(
                replayer, int(result["ratelimit_headers"]["ratelimit-retry-after"])
            )
        response = await replayer.client.get("/wp-json/wc/store/v1/cart", headers=headers)
        if response.status_code != result["status"]:
            found.append(
                Mismatch(
                    step["_file"][:3],
                    f"results[{result['i']}].status",
                    result["status"],
                    response.status_code,
                )
            )
        for name, value in result["ratelimit_headers"].items():
            if name == "ratelimit-reset":
                continue
            if response.headers.get(name) != value:
                found.append(
                    Mismatch(
                        step["_file"][:3],
                        f"results[{result['i']}] {name}",
                        value,
                        response.headers.get(name),
                    )
                )
    return found


_clock_state: dict[str, int] = {"advanced": 0}


async def _clock_to_retry_after(replayer: Replayer, wanted: int) -> None:
    """The real sequence took about a second to exhaust the limit: move the simulated
    clock on by the same, once per window, so Retry-After reads as recorded."""
    if _clock_state["advanced"] == 0:
        await replayer.client.post("/__sim/clock", json={"advance_seconds": 30 - wanted})
        _clock_state["advanced"] = 1


async def replay_all() -> dict[str, list[Mismatch]]:
    app = create_app(SimConfig(secret="fidelity"))
    transport = httpx.ASGITransport(app=app)
    outcome: dict[str, list[Mismatch]] = {}
    by_number = {s["_file"][:3]: s for s in STEPS}
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8181") as client:
        # A stopped clock: the rate-limit windows (116-119) and every Retry-After are then
        # counted in simulated seconds only, never across a wall-clock second boundary.
        await client.post("/__sim/clock", json={"freeze": True})
        replayer = Replayer(client)
        for step, name in zip(STEPS, STEP_NAMES, strict=True):
            number = name[:3]
            if number == "115":
                outcome[name] = await _rapid_default(replayer, step, by_number["116"])
                continue
            if number == "116":
                await client.put("/__sim/rate-limit", json=RATE_LIMIT)
                _clock_state["advanced"] = 0
            if number == "119":
                await client.put("/__sim/rate-limit", json=RATE_LIMIT)
                _clock_state["advanced"] = 0
                outcome[name] = await _rapid_limited(replayer, step, by_number["116"])
                await client.put("/__sim/rate-limit", json={"enabled": False})
                continue
            if number == "117":
                # The rest of the rapid sequence (119's requests 1-9) exhausts the limit
                # between 116 and 117 on the real store.
                name_116 = next(n for n in STEP_NAMES if n.startswith("116"))
                outcome[name_116].extend(
                    await _rapid_limited(
                        replayer,
                        {**by_number["119"], "results": by_number["119"]["results"][:10]},
                        by_number["116"],
                        skip_first=True,
                    )
                )
                await _clock_to_retry_after(replayer, 29)
            if replayer.recorded_nonce is None:
                for header, value in step["response"]["headers"]:
                    if header == "Nonce":
                        replayer.recorded_nonce = value
            response = await replayer.send(step)
            outcome.setdefault(name, []).extend(replayer.compare(step, response))
    return outcome


@pytest.fixture(scope="module")
async def replayed() -> AsyncIterator[dict[str, list[Mismatch]]]:
    return await replay_all()


@pytest.mark.parametrize("name", STEP_NAMES)
async def test_step_matches_the_real_store(replayed: dict[str, list[Mismatch]], name: str) -> None:
    """The simulator answers this recorded step as the real store did."""
    mismatches = replayed[name]
    assert not mismatches, "\n".join(str(m) for m in mismatches)


def test_every_published_step_is_replayed() -> None:
    """No recorded step is left out of the replay."""
    index = load_steps.__globals__["recordings_dir"]() / "storeapi" / "index.json"
    import json

    listed = [entry["file"].removesuffix(".json") for entry in json.loads(index.read_text())]
    assert listed == STEP_NAMES


def test_recorded_tokens_are_the_real_stores_format() -> None:
    """The recordings carry HS256 Cart-Tokens with t_ ids, as storesim issues."""
    token = dict(STEPS[10]["response"]["headers"])["Cart-Token"]
    payload = jwt_payload(token)
    assert payload is not None
    assert payload["user_id"].startswith("t_")
    assert payload["exp"] - payload["iat"] == 172800
