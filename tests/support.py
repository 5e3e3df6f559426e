"""Helpers the fixtures share: free ports, waiting for a server, child processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from deploy.local.stack import free_port as free_port  # shared with the local stack

ROOT = Path(__file__).resolve().parent.parent


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Poll ``url`` until it answers, failing fast if the process has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving {url}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)  # wait-ok: polling a starting server with a deadline
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def start_storesim(port: int, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "storesim", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_until_serving(f"http://127.0.0.1:{port}/__sim/state", process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


JWT_SECRET = "integration-jwt-secret-0123456789abcdef"
GUEST_SECRET = "integration-guest-secret-0123456789abcdef"
ISSUER = "https://shop.test"
AUDIENCE = "cartsync-tests"


def gateway_env(upstream: str, redis_url: str | None, **extra: str) -> dict[str, str]:
    """The CARTSYNC_* environment of a gateway under test."""
    env = {
        "CARTSYNC_UPSTREAM_URL": upstream,
        "CARTSYNC_JWT_SECRET": JWT_SECRET,
        "CARTSYNC_JWT_ISSUER": ISSUER,
        "CARTSYNC_JWT_AUDIENCE": AUDIENCE,
        "CARTSYNC_GUEST_SECRET": GUEST_SECRET,
        "CARTSYNC_LOG_FORMAT": "json",
        **{f"CARTSYNC_{k.upper()}": v for k, v in extra.items()},
    }
    if redis_url:
        env["CARTSYNC_REDIS_URL"] = redis_url
    return env


def start_gateway(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m cartsync serve`` as a real process, its logs in ``log_path``."""
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "cartsync", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CARTSYNC_")}, **env},
        stdout=log,
        stderr=log,
    )
    wait_until_serving(f"http://127.0.0.1:{port}/healthz", process)
    return process
