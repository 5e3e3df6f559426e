"""The demo page in a real browser: storesim and ``cartsync serve`` with
``CARTSYNC_DEMO_PAGE`` on free ports, and Debian's Chromium driven by Playwright.

Playwright's own browser builds are never downloaded (``playwright install`` cannot
reach its download host here): the tests launch ``/usr/bin/chromium`` (``make setup``
installs the ``chromium`` package) in a new, empty profile, with Chromium's background
networking off: on a closed network its update, sync and field-trial connections are
refused, and nothing may leave the machine anyway.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Playwright, ViewportSize, sync_playwright

from ..support import free_port, gateway_env, start_gateway, start_storesim, stop

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1440, "height": 1000}


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError(
            "Chromium is not installed: run `make setup` (scripts/install-system-deps.sh "
            "installs Debian's chromium package)"
        )
    return found


@dataclass
class DemoGateway:
    url: str
    log: Path


@pytest.fixture(scope="module")
def demo_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    """storesim (no latency) and one gateway process with the demo page (embedded state)."""
    sim_port, port = free_port(), free_port()
    logs = tmp_path_factory.mktemp("demo")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(start_storesim(sim_port, "--secret", "test-secret"))
        env = gateway_env(
            f"http://127.0.0.1:{sim_port}",
            None,
            demo_page="true",
            rate_limit_per_minute="100000",
            write_rate_limit_per_minute="100000",
        )
        processes.append(start_gateway(port, env, logs / "gateway.log"))
        yield DemoGateway(f"http://127.0.0.1:{port}", logs / "gateway.log")
    finally:
        for process in reversed(processes):
            stop(process)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, in a new empty profile of its own."""
    profile = tempfile.mkdtemp(prefix="cartsync-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile,
        executable_path=chromium_path(),
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport=VIEWPORT,
    )
    try:
        yield context
    finally:
        context.close()
        shutil.rmtree(profile, ignore_errors=True)
