"""Who a cart belongs to: a shop user or a guest, as the domain knows them.

How an owner is proven (bearer tokens) is the web layer's business (``auth.py``); the
domain only needs a stable, opaque id to key carts, records and limits by.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Owner:
    """The owner of a cart: a shop user (``sub``) or a guest.

    ``id`` is a stable opaque id (computed once): keys, logs and rate limits never carry
    the raw subject. ``issued_at`` is when the owner's token was issued (unix seconds),
    when it says: an owner who held a token before the state store lost its data may
    have had a cart in it.
    """

    kind: str  # "user" | "guest"
    subject: str
    id: str = field(default="", compare=False)
    issued_at: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(f"{self.kind}:{self.subject}".encode()).hexdigest()
        object.__setattr__(self, "id", f"{self.kind[0]}_{digest[:32]}")
