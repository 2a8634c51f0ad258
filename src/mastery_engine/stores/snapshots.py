"""The latest snapshot of recently read students, each kept with the version it was read at.

Every backend stores a per-student version that each write replaces, so a process can keep
snapshots and check one with a single cheap lookup; several processes share one store safely.
"""

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from mastery_engine.core.aggregates import StudentAggregates, contribution, extended
from mastery_engine.core.events import Event

V = TypeVar("V")
Key = tuple[str, str]
# Per student a batch touched: its version before the batch (None: new) and after it.
Moved = dict[str, tuple[V | None, V]]


class SnapshotCache(Generic[V]):
    """At most `size` snapshots, least recently used evicted first; `size` 0 keeps none."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Key, tuple[V, StudentAggregates]] = OrderedDict()

    def version(self, key: Key) -> V | None:
        """The version a cached snapshot was read at, or None."""
        found = self._entries.get(key)
        return None if found is None else found[0]

    def get(self, key: Key, version: V | None) -> StudentAggregates | None:
        """The cached snapshot if it was read at this version (None: the student is gone)."""
        found = self._entries.get(key)
        if found is None or version is None or found[0] != version:
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: Key, version: V, snapshot: StudentAggregates) -> None:
        """Keep a snapshot read at `version`."""
        if self.size <= 0:
            return
        self._entries[key] = (version, snapshot)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def advance(self, key: Key, was: V | None, now: V, applied: Iterable[Event]) -> None:
        """After a batch moved a student from version `was` to `now`: a snapshot cached at
        `was` becomes the one at `now`, with the batch's new events merged in, so the next
        read needs no fetch. A snapshot at any other version is dropped (it missed a write)."""
        found = self._entries.get(key)
        if found is None:
            return
        if was is None or found[0] != was:
            self.drop(key)
            return
        self._entries[key] = (now, extended(found[1], (contribution(e) for e in applied)))

    def advance_batch(
        self, tenant: str, moved: "Moved[V]", events: Sequence[Event], fresh: Sequence[bool]
    ) -> None:
        """`advance` every student a batch moved, with its events that were applied."""
        applied: dict[str, list[Event]] = {}
        for event, new in zip(events, fresh, strict=True):
            if new:
                applied.setdefault(event.student_id, []).append(event)
        for student, (was, now) in moved.items():
            self.advance((tenant, student), was, now, applied.get(student, ()))

    def drop(self, key: Key) -> None:
        """Forget a student (erased, or known to have changed)."""
        self._entries.pop(key, None)

    def settle(
        self, key: Key, fresh: tuple[V, StudentAggregates] | None, keep: bool
    ) -> StudentAggregates | None:
        """A freshly read snapshot's aggregates, kept when `keep` (None: the student is gone)."""
        if fresh is None:
            self.drop(key)
            return None
        if keep:
            self.put(key, *fresh)
        return fresh[1]
