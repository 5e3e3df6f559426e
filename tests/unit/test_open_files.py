"""A worker's change streams are capped by its open-files limit: serve raises it."""

from __future__ import annotations

import resource

import pytest

from cartsync.cli import raise_open_files_limit


def test_the_soft_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip("the hard limit leaves no room to lower the soft one")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        raised = raise_open_files_limit()
        now, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert raised == now
        assert now == hard if hard != resource.RLIM_INFINITY else now >= 256
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_soft_limit_at_the_hard_limit_is_left_alone() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert raise_open_files_limit() >= soft
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[1] == hard
