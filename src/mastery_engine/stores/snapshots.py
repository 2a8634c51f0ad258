"""The latest snapshot of recently read students, each kept with the version it was read at.

Every backend stores a per-student version that each write replaces, so a process can keep
snapshots and check one with a single cheap lookup; several processes share one store safely.
"""

from collections import OrderedDict
from typing import Generic, TypeVar

from mastery_engine.core.aggregates import StudentAggregates

V = TypeVar("V")
Key = tuple[str, str]


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
