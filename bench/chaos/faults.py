"""The fault schedule: what storesim injects throughout, and the process faults struck as
the acknowledged writes pass 20, 45 and 70 % of all (Redis killed and restarted, one
replica killed, the other stopped), paced by the shoppers so they always strike mid-run."""

from __future__ import annotations

import asyncio
import signal
import time

from deploy.local.stack import Stack

from .shoppers import Observed

OUTAGE_S = 3.0

FAULTS = {"error_rate": 0.05, "hang_rate": 0.02, "drop_rate": 0.01, "hang_seconds": 3.0}


async def progress(obs: Observed, acks: float, done: asyncio.Event) -> None:
    """Until ``acks`` writes were acknowledged; the run is void if the shoppers finish
    first (the fault would not strike mid-run)."""
    while obs.acks < acks:
        if done.is_set():
            raise RuntimeError(f"the shoppers finished before {acks:.0f} acknowledged writes")
        await asyncio.sleep(0.05)


async def chaos(stack: Stack, obs: Observed, total: int, done: asyncio.Event) -> None:
    """Redis killed and restarted; replica 1 killed, replica 2 stopped; both restarted."""
    await progress(obs, total * 0.20, done)
    obs.note("redis-server SIGKILL")
    obs.redis_down = time.time()
    await asyncio.to_thread(stack.send_signal, "redis", signal.SIGKILL)
    await asyncio.sleep(OUTAGE_S)
    await asyncio.to_thread(stack.restart, "redis")
    obs.redis_up = time.time()
    obs.note("redis-server answers again")
    await progress(obs, total * 0.45, done)
    obs.note("replica-1 SIGKILL")
    await asyncio.to_thread(stack.send_signal, "replica-1", signal.SIGKILL)
    await asyncio.to_thread(stack.restart, "replica-1")
    obs.note("replica-1 serves again")
    await progress(obs, total * 0.70, done)
    obs.note("replica-2 SIGTERM")
    await asyncio.to_thread(stack.send_signal, "replica-2", signal.SIGTERM)
    obs.note("replica-2 exited")
    await asyncio.to_thread(stack.restart, "replica-2")
    obs.note("replica-2 serves again")
