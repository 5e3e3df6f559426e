"""Per-replica copies of encoded snapshots, so a hot read costs no Redis round trip.

Entries are replaced only by newer versions of the same epoch; a change announced by
any replica drops older copies; a gap in the announcements drops everything.
"""

from __future__ import annotations

from collections import OrderedDict

from .ports.state import Change, Snapshot


def is_newer(candidate: Snapshot, current: Snapshot) -> bool:
    return candidate.epoch != current.epoch or candidate.version >= current.version


class NearCache:
    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._entries: OrderedDict[str, Snapshot] = OrderedDict()
        self._owners: OrderedDict[str, str] = OrderedDict()

    def get(self, cart_id: str) -> Snapshot | None:
        return self._entries.get(cart_id)

    def put(self, cart_id: str, snapshot: Snapshot) -> None:
        current = self._entries.get(cart_id)
        if current is None or is_newer(snapshot, current):
            self._entries[cart_id] = snapshot
            self._entries.move_to_end(cart_id)
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def apply(self, change: Change | None) -> None:
        if change is None:
            self._entries.clear()
            return
        current = self._entries.get(change.cart_id)
        if current is not None and (
            current.epoch != change.epoch or current.version < change.version
        ):
            del self._entries[change.cart_id]

    def drop_everything(self) -> set[str]:
        """The state store lost its data: nothing kept here can be trusted. Returns the
        owners this replica knew."""
        owners = set(self._owners)
        self._entries.clear()
        self._owners.clear()
        return owners

    def cart_of(self, owner_id: str) -> str | None:
        return self._owners.get(owner_id)

    def forget_owner(self, owner_id: str) -> None:
        self._owners.pop(owner_id, None)

    def remember_owner(self, owner_id: str, cart_id: str) -> None:
        self._owners[owner_id] = cart_id
        if len(self._owners) > self._size:
            self._owners.popitem(last=False)
