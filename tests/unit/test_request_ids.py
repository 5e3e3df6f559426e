"""Request ids are 16 hex digits, never repeat in a process, nor across forked workers."""

from __future__ import annotations

import os
import re

from cartsync.request_context import new_request_id


def test_ids_are_hex_and_do_not_repeat() -> None:
    ids = [new_request_id() for _ in range(20_000)]
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_worker_draws_its_own_sequence() -> None:
    parent_next = new_request_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert re.fullmatch(r"[0-9a-f]{16}", child)
    assert child[:8] != parent_next[:8]  # a new prefix: the two sequences cannot meet
