"""Which results a lease holder announces: only those a caller on another replica waits
for. Its own replica's callers are woken directly, so announcing theirs would make
every replica decode a message a write to find nobody of its own waiting."""

from __future__ import annotations

from cartsync.carts.lane.records import OpResult
from cartsync.carts.lane.waiters import Waiters
from cartsync.carts.ports.state import Message, ResultsReady
from cartsync.state.memory import MemoryStateStore


async def _holding(store: MemoryStateStore, queued: list[bytes]) -> str:
    cart = "c_announce"
    assert await store.claim_cart("u_announce", cart) == cart
    await store.enqueue(cart, queued)
    assert await store.acquire_lease(cart, "holder", 10)
    return cart


async def test_only_results_waited_for_elsewhere_are_announced() -> None:
    store = MemoryStateStore()
    heard: list[ResultsReady] = []

    async def listen(message: Message | None) -> None:
        if isinstance(message, ResultsReady):
            heard.append(message)

    await store.subscribe(listen)
    cart = await _holding(store, [b"mine", b"theirs"])
    waiters = Waiters(store)
    futures = waiters.register(["op_mine"])  # a caller on this replica
    results = [OpResult("op_mine", "applied"), OpResult("op_theirs", "applied")]

    await waiters.commit(cart, "holder", 2, results)

    assert heard == [ResultsReady(cart, ("op_theirs",))]
    assert not futures["op_mine"].done()  # not by an announcement: by the holder's wake
    waiters.wake(results)
    assert futures["op_mine"].result().outcome == "applied"
    recorded = await store.results(cart, ["op_mine", "op_theirs"])
    assert all(raw is not None for raw in recorded)  # both recorded all the same


async def test_a_turn_of_this_replicas_callers_only_announces_nothing() -> None:
    store = MemoryStateStore()
    heard: list[Message | None] = []

    async def listen(message: Message | None) -> None:
        heard.append(message)

    await store.subscribe(listen)
    cart = await _holding(store, [b"one"])
    waiters = Waiters(store)
    futures = waiters.register(["op_one"])

    await waiters.commit(cart, "holder", 1, [OpResult("op_one", "applied")])

    assert not [m for m in heard if isinstance(m, ResultsReady)]
    assert (await store.results(cart, ["op_one"]))[0] is not None
    assert not futures["op_one"].done()
