"""The guest-token limit's buckets: one per client address, an IPv6 host by its /64."""

from __future__ import annotations

import pytest

from cartsync.api.limits import Limits, client_key
from cartsync.carts.errors import RateLimited
from cartsync.state.memory import MemoryStateStore


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        (None, "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_an_address_keys_its_bucket(address: str | None, bucket: str) -> None:
    assert client_key(address) == bucket


def test_addresses_of_one_ipv6_host_share_a_bucket_and_others_do_not() -> None:
    limits = Limits(MemoryStateStore(), per_minute=100, writes_per_minute=10)  # 10 guests
    for n in range(10):
        limits.check_guest_issue(f"2001:db8:1:2::{n + 1:x}")
    with pytest.raises(RateLimited):
        limits.check_guest_issue("2001:db8:1:2:dead:beef::1")
    limits.check_guest_issue("2001:db8:1:3::1")  # the next /64: another client
    limits.check_guest_issue("203.0.113.7")
