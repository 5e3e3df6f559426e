"""The change feed: write acknowledged on one replica → event on another device's stream,
and 1,000 open streams on one worker under a write load.

    python -m bench.change_feed [--streams 1000] [--writes 200] [--quick]

Starts its own redis-server, storesim (latency off) and two gateway replicas.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import httpx

from .cached_read import _redis
from .tools import bench_token, free_port, gateway, gateway_env, rss_mib, storesim


class Stream:
    """A minimal SSE reader on a raw connection (a thousand of them stay cheap)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.events: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
        self.count = 0
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(
            (
                f"GET /v1/cart/events HTTP/1.1\r\nHost: bench\r\n"
                f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        self.task = asyncio.create_task(self._read(reader, writer))

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        event_id = ""
        try:
            while line := await reader.readline():
                text = line.decode(errors="replace").strip()
                if text.startswith("id:"):
                    event_id = text[3:].strip()
                elif text.startswith("data:") and len(text) > 6 and event_id:
                    self.count += 1
                    await self.events.put((event_id, time.perf_counter()))
                    event_id = ""
        finally:
            writer.close()


async def ack_to_event(one: int, two: int, writes: int) -> tuple[list[float], list[float]]:
    """Per write: (event − ack) and (event − send), in ms. Negative means the other
    device heard of the change before the writer had its answer."""
    token = bench_token("feed-latency")
    stream = Stream(two, token)
    await stream.open()
    await stream.events.get()  # the current cart
    latencies: list[float] = []
    from_send: list[float] = []
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{one}", timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for i in range(writes):
            product = 15 if i % 2 else 10
            sent = time.perf_counter()
            answer = await client.post("/v1/cart/items", json={"product_id": product})
            acked = time.perf_counter()
            etag = answer.headers["ETag"].strip('"')
            while True:
                event_id, arrived = await asyncio.wait_for(stream.events.get(), 10)
                if event_id == etag:
                    latencies.append((arrived - acked) * 1000)
                    from_send.append((arrived - sent) * 1000)
                    break
    assert stream.task is not None
    stream.task.cancel()
    await asyncio.gather(stream.task, return_exceptions=True)
    return latencies, from_send


async def many_streams(
    one: int, two: int, worker_pid: int, streams: int, users: int
) -> dict[str, float]:
    idle = rss_mib(worker_pid)
    tokens = [bench_token(f"feed-user-{u}") for u in range(users)]
    opened = [Stream(two, tokens[i % users]) for i in range(streams)]
    for batch in range(0, streams, 100):
        await asyncio.gather(*(s.open() for s in opened[batch : batch + 100]))
    await asyncio.sleep(1.0)  # every stream gets its current cart
    with_streams = rss_mib(worker_pid)
    before = [s.count for s in opened]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{one}", timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                client.post(
                    "/v1/cart/items",
                    json={"product_id": 15},
                    headers={"Authorization": f"Bearer {tokens[u]}"},
                )
                for u in range(users)
            )
        )
        wall = time.perf_counter() - started
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(  # noqa: ASYNC110 - polling counters
        s.count <= b for s, b in zip(opened, before, strict=True)
    ):
        await asyncio.sleep(0.1)
    reached = sum(1 for s, b in zip(opened, before, strict=True) if s.count > b)
    alive = sum(1 for s in opened if s.task is not None and not s.task.done())
    under_load = rss_mib(worker_pid)
    tasks = [s.task for s in opened if s.task is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "idle_mib": idle,
        "streams_mib": with_streams,
        "load_mib": under_load,
        "reached": reached,
        "alive": alive,
        "write_wall_s": wall,
    }


async def run(streams: int, writes: int, users: int, json_path: str | None = None) -> None:
    redis_process, redis_url = _redis()
    sim_port, one, two = free_port(), free_port(), free_port()
    env = gateway_env(f"http://127.0.0.1:{sim_port}", redis_url)
    try:
        with (
            storesim(sim_port),
            gateway(one, env),
            gateway(two, env) as b,
        ):
            latencies, from_send = await ack_to_event(one, two, writes)
            load = await many_streams(one, two, b.pid, streams, users)
    finally:
        redis_process.terminate()
        redis_process.wait()

    if json_path:
        Path(json_path).write_text(  # noqa: ASYNC240 - once, after the measurement
            json.dumps(
                {
                    "event_minus_ack_ms": latencies,
                    "event_minus_send_ms": from_send,
                    "streams": streams,
                    "users": users,
                    **load,
                },
                indent=1,
            )
        )

    def p99(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[max(0, int(len(ordered) * 0.99) - 1)]

    print(
        f"{len(latencies)} writes on replica A, each heard on a stream on replica B "
        f"(storesim latency off): event - write acknowledged: p50 "
        f"{statistics.median(latencies):.2f} ms, p99 {p99(latencies):.2f} ms; event - "
        f"write sent: p50 {statistics.median(from_send):.2f} ms, p99 {p99(from_send):.2f} ms"
    )
    print(
        f"{streams} streams on one worker ({users} users, {streams // users} devices each): "
        f"{load['alive']:.0f} open after the load, {load['reached']:.0f} got their event; "
        f"worker RSS {load['idle_mib']:.0f} MiB idle, {load['streams_mib']:.0f} MiB with "
        f"the streams, {load['load_mib']:.0f} MiB after {users} concurrent writes "
        f"({load['write_wall_s']:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.streams, args.writes, args.users = 50, 20, 10
    asyncio.run(run(args.streams, args.writes, args.users, args.json))


if __name__ == "__main__":
    main()
