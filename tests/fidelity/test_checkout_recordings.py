"""storesim's checkout against every recorded checkout step: ``storeapi-checkout-8.9.1/``
(the ``8.9`` profile) and ``storeapi-checkout-9.9.5/`` (the ``9.9`` profile), the same
script on both versions.

Each folder is replayed once, in order, on a fresh simulator at its recorded site URL,
with the store's clock stopped; each step is then a test of its own. A step listed in
``DELIBERATE`` is a difference storesim keeps on purpose: its test checks that the
difference is the only one.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from storesim import SimConfig, create_app

from .checkout_replay import FOLDERS, CheckoutReplayer
from .replay import Deliberate, Mismatch, assert_step_matches, index_names, load_steps

STEPS = {folder: load_steps(folder) for folder in FOLDERS}
STEP_NAMES = [
    f"{folder}/{step['_file'].removesuffix('.json')}"
    for folder in FOLDERS
    for step in STEPS[folder]
]
CAP = 12

# step -> (why storesim differs, the mismatch places that difference may produce)
DELIBERATE: Deliberate = {}


async def _before(replayer: CheckoutReplayer, step: dict[str, Any]) -> None:
    """What the recording script did to the store's database before the step."""
    client, number = replayer.client, step["_file"][:3]
    if number == "027":  # "order 42's post_date moved 1 hour back in the DB"
        await client.post("/__sim/clock", json={"advance_seconds": 3600})
    if number == "032":  # "Cap (12) stock set to 1 in the DB (cart holds 2)"
        await client.put(f"/__sim/products/{CAP}/stock", json={"stock": 1})
    if number == "055":  # step 054 (not published) set session a's order to pending
        recorded = int(step["request"]["path"].rsplit("/", 1)[1])
        order = replayer.orders[recorded]
        await client.put(f"/__sim/orders/{order}", json={"status": "pending"})


async def _after(replayer: CheckoutReplayer, step: dict[str, Any]) -> None:
    if step["_file"][:3] == "032":  # "Cap (12) stock restored to 3"
        await replayer.client.put(f"/__sim/products/{CAP}/stock", json={"stock": 3})


async def replay(folder: str) -> dict[str, list[Mismatch]]:
    woo, site = FOLDERS[folder]
    app = create_app(SimConfig(secret="fidelity", woo=woo))
    transport = httpx.ASGITransport(app=app)
    outcome: dict[str, list[Mismatch]] = {}
    async with httpx.AsyncClient(transport=transport, base_url=site) as client:
        await client.post("/__sim/clock", json={"freeze": True})
        replayer = CheckoutReplayer(client)
        for step in STEPS[folder]:
            name = f"{folder}/{step['_file'].removesuffix('.json')}"
            if replayer.recorded_nonce is None and "response" in step:
                for header, value in step["response"]["headers"]:
                    if header == "Nonce":
                        replayer.recorded_nonce = value
            await _before(replayer, step)
            if "exchanges" in step and step["_file"].startswith("039"):
                found = await replayer.concurrent(step)
            elif "exchanges" in step:
                found = await replayer.disconnect(step)
            else:
                response = await replayer.send(step)
                found = replayer.compare(step, response)
                found += await replayer.compare_orders(step, "orders_in_db")
            await _after(replayer, step)
            outcome[name] = found
    return outcome


@pytest.fixture(scope="module")
async def replayed() -> dict[str, list[Mismatch]]:
    outcome: dict[str, list[Mismatch]] = {}
    for folder in FOLDERS:
        outcome |= await replay(folder)
    return outcome


@pytest.mark.parametrize("name", STEP_NAMES)
async def test_step_matches_the_real_store(replayed: dict[str, list[Mismatch]], name: str) -> None:
    """The simulator answers this recorded checkout step as the real store did."""
    assert_step_matches(name, replayed[name], DELIBERATE)


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_published_step_is_replayed(folder: str) -> None:
    """No recorded checkout step is left out of the replay."""
    assert index_names(folder) == [n for n in STEP_NAMES if n.startswith(f"{folder}/")]


def test_the_two_versions_ran_the_same_script() -> None:
    """Both checkout folders hold the same 50 steps."""
    names = {folder: [s["_file"] for s in STEPS[folder]] for folder in FOLDERS}
    assert len(names["storeapi-checkout-8.9.1"]) == 50
    assert names["storeapi-checkout-8.9.1"] == names["storeapi-checkout-9.9.5"]


def test_the_concurrent_step_recorded_two_orders() -> None:
    """Step 039 is the hazard: both answers 200, two different orders."""
    for folder in FOLDERS:
        step = next(s for s in STEPS[folder] if s["_file"].startswith("039"))
        results = step["results"]
        assert [r["status"] for r in results] == [200, 200]
        assert len({r["order_id"] for r in results}) == 2
