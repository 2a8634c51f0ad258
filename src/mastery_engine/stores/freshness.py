"""Which cached snapshots are current without asking the store: from the versions it announces.

A store that announces, on every write, the new version of each student it wrote (the Redis
store publishes them in the same transaction as the write) lets a process answer a read from
its cached snapshot with no round trip: the snapshot is current when the process has listened
since it validated the snapshot and the latest version it heard for the student is the
snapshot's own (or it heard none). The announcement is sent before the write is acknowledged,
and the process reads every announcement already delivered before it answers from the cache,
so a read after an acknowledged write, from any process, sees the write.

Announcements are kept only for students a process caches or is reading or writing just then:
one that arrives while a read is in flight marks the reply that comes back as not current
unless the reply carries the announced version. Losing the announcements (a dropped
connection) forgets every assurance: until listening again, each read asks the store.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterable

Key = tuple[str, str]
Mark = tuple[int, int]  # (listening epoch, announcements taken) when a question was asked
# The store must have answered the listening connection this recently (a ping) for a cached
# snapshot to count as current: a connection cut off without a word (a network partition)
# stops the assurances within this time.
ALIVE_S = 1.5


class Freshness:
    """What a process heard: per student, the latest announced version, and which cached
    snapshots were validated while it listened (with the latest instant of a scored event)."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self._clock = clock
        self._alive_at = -ALIVE_S
        self.listening = False
        self._epoch = 0  # moves on whenever listening starts or stops
        self._count = 0  # announcements taken
        self._heard: dict[Key, tuple[bytes, int]] = {}
        self._trusted: dict[Key, int | None] = {}
        self._pending: Counter[Key] = Counter()

    def started(self) -> None:
        """Listening from now on: what was validated before does not count."""
        self.listening = True
        self._epoch += 1
        self.alive()

    def alive(self) -> None:
        """The store answered the listening connection (its subscription, or a ping)."""
        self._alive_at = self._clock()

    def lost(self) -> None:
        """Announcements may have been missed: nothing cached is known current any more."""
        self.listening = False
        self._epoch += 1
        self._heard.clear()
        self._trusted.clear()

    def begin(self, keys: Iterable[Key]) -> Mark:
        """Before asking the store about these students; the mark to hand to `validated`."""
        self._pending.update(keys)
        return (self._epoch, self._count)

    def end(self, keys: Iterable[Key]) -> None:
        """The store answered about these students (or failed to)."""
        for key in keys:
            left = self._pending[key] - 1
            if left > 0:
                self._pending[key] = left
            else:
                del self._pending[key]

    def heard(self, key: Key, version: bytes) -> None:
        """The store announced a student's new version (b"" when it was erased)."""
        if key in self._trusted or key in self._pending:
            self._count += 1
            self._heard[key] = (version, self._count)

    def validated(self, key: Key, mark: Mark, latest: int | None) -> None:
        """The store answered, for a question asked at `mark`, with the version now cached for
        `key` (or moved it there); `latest` is the latest instant of the student's scored
        events (None: it has none). An announcement heard since `mark` may be newer than the
        answer and stands; an older one is superseded by it."""
        if not self.listening or mark[0] != self._epoch:
            return
        heard = self._heard.get(key)
        if heard is not None and heard[1] <= mark[1]:
            del self._heard[key]
        self._trusted[key] = latest
        if len(self._trusted) > 2 * self.size:
            self._prune()

    def moved(self, key: Key, mark: Mark, scored: Iterable[int]) -> None:
        """A write asked at `mark` moved a trusted snapshot on, adding these scored instants."""
        if key in self._trusted:
            known = self._trusted[key]
            instants = [*scored, *(() if known is None else (known,))]
            self.validated(key, mark, max(instants) if instants else None)

    def current(self, key: Key, version: bytes | None, as_of: int) -> bool:
        """Whether the snapshot cached at `version` answers a read at `as_of` with no round
        trip: it is current, and no scored event of it is later than `as_of` (none of
        `as_of`'s day's events is then left out of its score buckets)."""
        if not self.listening or version is None or key not in self._trusted:
            return False
        if self._clock() - self._alive_at > ALIVE_S:
            return False
        latest = self._trusted[key]
        if latest is not None and latest > as_of:
            return False
        heard = self._heard.get(key)
        return heard is None or heard[0] == version

    def forget(self, key: Key) -> None:
        """The snapshot is no longer cached."""
        self._trusted.pop(key, None)
        if key not in self._pending:
            self._heard.pop(key, None)

    def _prune(self) -> None:
        # Oldest assurances first (dicts keep insertion order); the cache evicts likewise.
        for key in list(self._trusted)[: len(self._trusted) - self.size]:
            self.forget(key)
