"""A worker's change streams are capped by its open-files limit: serve raises it."""

from __future__ import annotations

import resource

from cartsync.cli import raise_open_files_limit


def test_the_soft_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = 256 if hard == resource.RLIM_INFINITY or hard > 256 else max(1, hard // 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        raised = raise_open_files_limit()
        now, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert raised == now
        assert now == hard if hard != resource.RLIM_INFINITY else now >= low
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_soft_limit_at_the_hard_limit_is_left_alone() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert raise_open_files_limit() >= soft
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[1] == hard
