"""The demo page (``/demo/``) in Chromium: one user's cart on two devices kept in sync by
their change feeds, an offline queue replayed through ``POST /v1/cart/ops``, a guest cart
merged on sign-in, and the panel of upstream calls.

Every wait is Playwright's auto-waiting ``expect``; a change must show on the other
device within ``SYNC_MS`` of the device that made it having its answer. Each test is its
own demo user (``/demo/?user=``), so no test sees another's cart; the screenshot's is the
page's default one, ``demo-user``.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, FrameLocator, Locator, Page, expect

from .conftest import DemoGateway

SYNC_MS = 1000  # "shows on the other device within a second"
SCREENSHOT_ENV = "CARTSYNC_DEMO_SCREENSHOT"  # `make screenshots` sets it to docs/demo.png


@dataclass
class Demo:
    page: Page
    phone: FrameLocator
    laptop: FrameLocator
    guest: FrameLocator
    user: str
    errors: list[str] = field(default_factory=list)


def open_demo(browser: BrowserContext, gateway: DemoGateway, user: str | None) -> Demo:
    """The demo page (for ``demo-<user>``, or the page's own demo user), every device live."""
    page = browser.new_page()
    found = Demo(
        page,
        page.frame_locator("#phone"),
        page.frame_locator("#laptop"),
        page.frame_locator("#guest"),
        "demo-user" if user is None else f"demo-{user}",
    )
    page.on("pageerror", lambda error: found.errors.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            found.errors.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    page.goto(f"{gateway.url}/demo/" + ("" if user is None else f"?user={user}"))
    for device in (found.phone, found.laptop, found.guest):
        expect(device.locator("#status")).to_have_text("live")
    expect(page.locator("#user-name")).to_have_text(found.user)
    return found


@pytest.fixture
def demo(browser: BrowserContext, demo_gateway: DemoGateway) -> Iterator[Demo]:
    """The page for a new demo user of this test's own; no script error on the way."""
    found = open_demo(browser, demo_gateway, f"t{secrets.token_hex(4)}")
    try:
        yield found
        assert found.errors == []
    finally:
        found.page.close()


@pytest.fixture
def default_demo(browser: BrowserContext, demo_gateway: DemoGateway) -> Iterator[Demo]:
    """The page as ``/demo/`` opens it: the demo user of ``cartsync demo``'s curl session
    (this module's only test of that user)."""
    found = open_demo(browser, demo_gateway, None)
    try:
        yield found
        assert found.errors == []
    finally:
        found.page.close()


def add(device: FrameLocator, product_id: int) -> None:
    device.locator(f'button.add[data-product-id="{product_id}"]').click()


def line(device: FrameLocator, product_id: int) -> Locator:
    return device.locator(f'.line[data-product-id="{product_id}"]')


def quantity(device: FrameLocator, product_id: int) -> Locator:
    return line(device, product_id).locator(".qty")


def version(device: FrameLocator) -> Locator:
    return device.locator("#version")


def same_version(writer: FrameLocator, other: FrameLocator, before: str) -> str:
    """The writer's new version (not ``before``), and the other device showing it within
    ``SYNC_MS``, with the ETag that goes with it."""
    expect(version(writer)).not_to_have_text(before)
    now = version(writer).inner_text()
    expect(version(other)).to_have_text(now, timeout=SYNC_MS)
    tag = other.locator("#etag").inner_text()
    expect(writer.locator("#etag")).to_have_text(tag)
    assert re.fullmatch(r'"[0-9a-f]+\.' + now.removeprefix("v") + '"', tag)
    return now


def apply_coupon(device: FrameLocator, code: str) -> None:
    device.locator("#coupon-code").fill(code)
    device.locator("#apply-coupon").click()


class TestTwoDevices:
    def test_every_kind_of_change_on_one_device_shows_on_the_other(self, demo: Demo) -> None:
        phone, laptop = demo.phone, demo.laptop
        start = version(laptop).inner_text()
        expect(version(phone)).to_have_text(start)
        writes = demo.page.locator("#stat-writes").inner_text()

        add(phone, 10)  # Beanie with Logo, 18.00
        expect(quantity(phone, 10)).to_have_text("1")
        expect(quantity(laptop, 10)).to_have_text("1", timeout=SYNC_MS)
        v1 = same_version(phone, laptop, start)
        expect(demo.page.locator("#stat-writes")).not_to_have_text(writes)

        laptop.locator('.line[data-product-id="10"] button[aria-label="one more"]').click()
        expect(quantity(laptop, 10)).to_have_text("2")
        expect(quantity(phone, 10)).to_have_text("2", timeout=SYNC_MS)
        expect(line(phone, 10).locator(".amount")).to_have_text("$36.00")
        v2 = same_version(laptop, phone, v1)

        apply_coupon(phone, "test")  # 15 % off
        expect(phone.locator('.chip[data-code="test"]')).to_contain_text("−$5.40")
        expect(laptop.locator('.chip[data-code="test"]')).to_contain_text("−$5.40", timeout=SYNC_MS)
        v3 = same_version(phone, laptop, v2)

        laptop.locator('input[value="free_shipping:2"]').check()
        expect(laptop.locator("#total-shipping")).to_have_text("free")
        expect(phone.locator('input[value="free_shipping:2"]')).to_be_checked(timeout=SYNC_MS)
        v4 = same_version(laptop, phone, v3)
        # 36.00 - 5.40 + 10 % tax on 30.60 = 33.66, formatted from minor units on both
        expect(phone.locator("#total-total")).to_have_text("$33.66")
        expect(laptop.locator("#total-total")).to_have_text("$33.66")

        phone.locator('.line[data-product-id="10"] button.remove').click()
        expect(line(phone, 10)).to_have_count(0)
        expect(line(laptop, 10)).to_have_count(0, timeout=SYNC_MS)
        expect(laptop.locator("#empty")).to_be_visible()
        same_version(phone, laptop, v4)

    def test_a_device_revalidates_with_its_etag(self, demo: Demo) -> None:
        add(demo.laptop, 15)
        expect(quantity(demo.phone, 15)).to_have_text("1")
        demo.phone.locator("#refresh").click()
        expect(demo.phone.locator("#log li").first).to_contain_text("304 not modified")

    def test_a_device_opened_on_its_own_is_one_more_device_of_the_user(
        self, demo: Demo, demo_gateway: DemoGateway, browser: BrowserContext
    ) -> None:
        user = demo.user.removeprefix("demo-")
        tablet = browser.new_page()
        try:
            tablet.goto(f"{demo_gateway.url}/demo/device.html?name=tablet&user={user}")
            expect(tablet.locator("#status")).to_have_text("live")
            expect(tablet.locator("#device-owner")).to_have_text(demo.user)
            tablet.locator('button.add[data-product-id="11"]').click()
            expect(tablet.locator('.line[data-product-id="11"] .qty')).to_have_text("1")
            expect(quantity(demo.phone, 11)).to_have_text("1", timeout=SYNC_MS)
            expect(quantity(demo.laptop, 11)).to_have_text("1", timeout=SYNC_MS)
        finally:
            tablet.close()


class TestOffline:
    def test_queued_changes_replay_in_one_request_with_a_result_for_each(self, demo: Demo) -> None:
        phone, laptop = demo.phone, demo.laptop
        add(phone, 10)
        expect(quantity(laptop, 10)).to_have_text("1")
        before = version(phone).inner_text()

        phone.locator("#offline-switch").click()
        expect(phone.locator("#status")).to_have_text("offline")
        add(phone, 11)  # Belt
        phone.locator('.line[data-product-id="10"] button[aria-label="one more"]').click()
        apply_coupon(phone, "nope")  # no such coupon: refused alone
        apply_coupon(phone, "test")
        queue = phone.locator("#queue li")
        expect(queue).to_have_count(4)
        expect(queue.nth(1)).to_have_text("Beanie with Logo: quantity 2")
        expect(phone.locator("#queue-count")).to_have_text("4 queued")
        expect(quantity(phone, 10)).to_have_text("2")  # the queue, shown ahead of the store
        expect(line(phone, 11)).to_contain_text("queued")
        # Nothing left the phone: the laptop and the phone's own version are unchanged.
        expect(version(phone)).to_have_text(before)
        expect(version(laptop)).to_have_text(before)
        expect(line(laptop, 11)).to_have_count(0)

        phone.locator("#offline-switch").click()
        results = phone.locator("#results li")
        expect(results).to_have_count(4)
        expected = [
            ("phone-1", "applied", "add Belt × 1"),
            ("phone-2", "applied", "Beanie with Logo: quantity 2"),
            ("phone-3", "refused", "apply coupon “nope”"),
            ("phone-4", "applied", "apply coupon “test”"),
        ]
        for number, (op_id, status, label) in enumerate(expected):
            row = results.nth(number)
            expect(row).to_have_attribute("data-op-id", op_id)
            expect(row.locator(".badge")).to_have_text(status)
            expect(row).to_contain_text(label)
        expect(results.nth(2)).to_contain_text("coupon_not_found")
        expect(phone.locator("#queue-panel")).to_be_hidden()
        expect(phone.locator("#status")).to_have_text("live")

        expect(quantity(laptop, 11)).to_have_text("1", timeout=SYNC_MS)
        expect(quantity(laptop, 10)).to_have_text("2")
        expect(laptop.locator('.chip[data-code="test"]')).to_be_visible()
        expect(laptop.locator('.chip[data-code="nope"]')).to_have_count(0)
        same_version(phone, laptop, before)
        # The four operations went to the store as one write.
        expect(demo.page.locator("#stat-largest")).to_have_text(re.compile(r"^([4-9]|\d{2,})$"))
        expect(phone.locator("#log")).to_contain_text("POST /v1/cart/ops (4) → 200")


class TestGuest:
    def test_signing_in_merges_the_guest_cart_into_the_users_on_every_device(
        self, demo: Demo
    ) -> None:
        phone, laptop, guest = demo.phone, demo.laptop, demo.guest
        add(phone, 10)
        expect(quantity(laptop, 10)).to_have_text("1")
        add(guest, 10)
        add(guest, 12)  # Cap
        expect(quantity(guest, 12)).to_have_text("1")
        expect(quantity(guest, 10)).to_have_text("1")
        expect(line(laptop, 12)).to_have_count(0)

        guest.locator("#sign-in").click()
        report = guest.locator("#merge li")
        expect(report).to_have_count(2)
        expect(guest.locator('#merge li[data-product-id="10"] .badge')).to_have_text("merged")
        expect(guest.locator('#merge li[data-product-id="12"] .badge')).to_have_text("merged")
        for device in (phone, laptop):  # the sum policy: 1 + 1 beanies
            expect(quantity(device, 10)).to_have_text("2")
            expect(quantity(device, 12)).to_have_text("1")
        expect(version(laptop)).to_have_text(version(phone).inner_text())
        # The guest's cart is retired: its token has a new, empty cart.
        expect(guest.locator(".line")).to_have_count(0)
        expect(guest.locator("#empty")).to_be_visible()


class TestScreenshot:
    def test_the_page_in_use(
        self, default_demo: Demo, demo_gateway: DemoGateway, tmp_path: Path
    ) -> None:
        """Both devices in sync, one just back online with its replay's results, a guest
        cart waiting to sign in, the figures: ``docs/demo.png`` (``make screenshots``)."""
        demo = default_demo
        phone, laptop, guest = demo.phone, demo.laptop, demo.guest
        add(laptop, 10)
        expect(quantity(phone, 10)).to_have_text("1")
        add(phone, 15)  # Sunglasses
        expect(quantity(laptop, 15)).to_have_text("1")
        laptop.locator('input[value="free_shipping:2"]').check()
        expect(phone.locator('input[value="free_shipping:2"]')).to_be_checked()
        phone.locator("#offline-switch").click()
        expect(phone.locator("#status")).to_have_text("offline")
        add(phone, 11)
        phone.locator('.line[data-product-id="10"] button[aria-label="one more"]').click()
        apply_coupon(phone, "expired")
        apply_coupon(phone, "test")
        expect(phone.locator("#queue li")).to_have_count(4)
        phone.locator("#offline-switch").click()
        expect(phone.locator("#results li")).to_have_count(4)
        expect(quantity(laptop, 11)).to_have_text("1")
        expect(version(laptop)).to_have_text(version(phone).inner_text())
        add(guest, 12)
        add(guest, 13)
        expect(quantity(guest, 13)).to_have_text("1")
        stats = httpx.get(f"{demo_gateway.url}/demo/stats").json()
        expect(demo.page.locator("#stat-ops")).to_have_text(str(stats["batch_operations"]))
        demo.page.mouse.move(0, 0)  # no hover highlight in the picture
        path = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "demo.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        demo.page.screenshot(path=str(path), full_page=True, animations="disabled")
        assert path.stat().st_size > 50_000
