"""storesim's CoCart face against every recorded CoCart step (``cocart/``, ``cocart-extra/``).

Each folder is replayed once, in order, on a fresh simulator at the recorded site URL;
each step is then a test of its own. A step listed in ``DELIBERATE`` is a difference
storesim keeps on purpose: its test checks that the difference is the only one.
"""

from __future__ import annotations

import httpx
import pytest

from storesim import SimConfig, create_app

from .cocart_replay import (
    FOLDERS,
    PRECONDITIONS,
    SITES,
    CocartReplayer,
    Mismatch,
    load_folder,
    step_id,
)
from .replay import Deliberate, assert_step_matches, index_names

STEPS = {folder: load_folder(folder) for folder in FOLDERS}
STEP_NAMES = [step_id(s) for folder in FOLDERS for s in STEPS[folder]]

# step -> (why storesim differs, the mismatch places that difference may produce)
DELIBERATE: Deliberate = {
    "cocart-extra/005-load-cart-front-cart-page": (
        "the recorded store's front answered every page with a 301 to the same URL (its "
        "WordPress set-up; a browser would loop), and this one also refreshed the "
        "woocommerce_cart_hash cookie; storesim's /cart/ page answers 200 with the cart",
        (
            "status",
            "header names",
            "header Location",
            "header X-Redirect-By",
            "Set-Cookie names",
            "body type",
        ),
    ),
}


async def replay(folder: str) -> dict[str, list[Mismatch]]:
    app = create_app(SimConfig(secret="fidelity"))
    transport = httpx.ASGITransport(app=app)
    outcome: dict[str, list[Mismatch]] = {}
    async with httpx.AsyncClient(transport=transport, base_url=SITES[folder]) as client:
        # The store was recorded with CoCart active: its Store API answers carry
        # CoCart's no-cache headers (cocart/038, 039; cocart-extra/004, 008).
        await client.put("/__sim/cocart/settings", json={"store_api_nocache": True})
        replayer = CocartReplayer(client)
        for step in STEPS[folder]:
            await replayer.prepare(step)
            response = await replayer.send(step)
            outcome[step_id(step)] = replayer.compare(step, response)
    return outcome


@pytest.fixture(scope="module")
async def replayed() -> dict[str, list[Mismatch]]:
    outcome: dict[str, list[Mismatch]] = {}
    for folder in FOLDERS:
        outcome |= await replay(folder)
    return outcome


@pytest.mark.parametrize("name", STEP_NAMES)
async def test_step_matches_the_real_store(replayed: dict[str, list[Mismatch]], name: str) -> None:
    """The CoCart face answers this recorded step as the real store did."""
    assert_step_matches(name, replayed[name], DELIBERATE)


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_published_step_is_replayed(folder: str) -> None:
    """No recorded CoCart step is left out of the replay."""
    assert index_names(folder) == [n for n in STEP_NAMES if n.startswith(f"{folder}/")]


def test_preconditions_name_recorded_steps() -> None:
    """Every cart the replay stores beforehand belongs to a recorded step."""
    numbers = {name[: len(name.split("/")[0]) + 4] for name in STEP_NAMES}
    assert set(PRECONDITIONS) <= numbers
