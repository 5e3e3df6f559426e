"""Who a cart belongs to: a shop user or a guest, as the domain knows them.

How an owner is proven (bearer tokens) is the web layer's business (``auth.py``); the
domain only needs a stable, opaque id to key carts, records and limits by.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Owner:
    """The owner of a cart: a shop user (``sub``) or a guest.

    ``id`` is a stable opaque id (computed once): keys, logs and rate limits never carry
    the raw subject.
    """

    kind: str  # "user" | "guest"
    subject: str
    id: str = ""

    def __post_init__(self) -> None:
        digest = hashlib.sha256(f"{self.kind}:{self.subject}".encode()).hexdigest()
        object.__setattr__(self, "id", f"{self.kind[0]}_{digest[:32]}")
