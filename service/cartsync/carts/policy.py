"""The cart domain's own settings: timings and lifetimes, in the domain's terms.

The composition root (``app.py``) builds this from the environment's settings; the
domain never reads configuration itself.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_S = 86400


@dataclass(frozen=True, slots=True)
class CartPolicy:
    lease_ttl_s: float = 30.0  # a cart's lease: longer than any one upstream call
    lease_wait_s: float = 20.0  # how long a read waits for a writer's snapshot
    write_timeout_s: float = 30.0  # a write not settled by then is answered "pending"
    reconcile_grace_s: float = 30.0  # a lost request may still be running this long
    linger_s: float = 0.0  # a turn waits this long for more operations to join it
    snapshot_freshness_s: float = 30.0  # older snapshots are served and refreshed
    products_ttl_s: float = 60.0
    cart_ttl_s: int = 30 * DAY_S  # an idle user's cart binding
    guest_cart_ttl_s: int = 7 * DAY_S  # an idle guest's
    handoff_ttl_s: int = 300  # a checkout link's life (it carries the cart's secret)
    shutdown_lane_grace_s: float = 5.0  # a turn's worst case at the measured latency
    state_loss_window_s: int = 86400  # carts made this long after a loss are marked lost
    state_check_s: float = 0.5  # how often a replica reads the dataset's marker

    def owner_ttl_s(self, kind: str) -> int:
        return self.guest_cart_ttl_s if kind == "guest" else self.cart_ttl_s
