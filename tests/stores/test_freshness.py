"""When a cached snapshot is known current from the store's announcements (`stores.freshness`).

Each case is an interleaving a process meets: an announcement heard before, during or after a
read's round trip, a lost subscription, a student's scored events later than the read.
"""

from mastery_engine.stores.freshness import ALIVE_S, Freshness

K = ("t", "s1")
V1, V2 = b"v1", b"v2"


def listening() -> Freshness:
    fresh = Freshness(size=10)
    fresh.started()
    return fresh


def read(fresh: Freshness, latest: int | None = None) -> None:
    """A round trip that answered with the version now cached."""
    mark = fresh.begin([K])
    fresh.end([K])
    fresh.validated(K, mark, latest)


def test_nothing_is_current_before_listening_or_validation() -> None:
    fresh = Freshness(size=10)
    read(fresh)
    assert not fresh.current(K, V1, 100)
    fresh.started()
    assert not fresh.current(K, V1, 100)  # validated before listening: does not count
    read(fresh)
    assert fresh.current(K, V1, 100)
    assert not fresh.current(K, None, 100)


def test_an_announced_version_decides() -> None:
    fresh = listening()
    read(fresh)
    fresh.heard(K, V2)
    assert not fresh.current(K, V1, 100)
    assert fresh.current(K, V2, 100)  # the cache moved on to the announced version
    fresh.heard(K, b"")  # erased
    assert not fresh.current(K, V2, 100)


def test_an_announcement_during_a_read_outlives_its_answer() -> None:
    fresh = listening()
    mark = fresh.begin([K])
    fresh.heard(K, V2)  # a write after the read ran: its answer (v1) is already stale
    fresh.end([K])
    fresh.validated(K, mark, None)
    assert not fresh.current(K, V1, 100)
    assert fresh.current(K, V2, 100)
    read(fresh)  # a later read that answers v1 (the write applied nothing) supersedes it
    assert fresh.current(K, V1, 100)


def test_announcements_of_students_not_cached_or_asked_for_are_not_kept() -> None:
    fresh = listening()
    fresh.heard(K, V2)
    read(fresh)
    assert fresh.current(K, V1, 100)


def test_losing_the_subscription_forgets_every_assurance() -> None:
    fresh = listening()
    read(fresh)
    mark = fresh.begin([K])
    fresh.lost()
    fresh.end([K])
    fresh.validated(K, mark, None)
    assert not fresh.current(K, V1, 100)
    fresh.started()
    fresh.validated(K, mark, None)  # asked before listening again: does not count
    assert not fresh.current(K, V1, 100)
    read(fresh)
    assert fresh.current(K, V1, 100)


def test_a_scored_event_later_than_the_read_needs_the_store() -> None:
    fresh = listening()
    read(fresh, latest=150)
    assert not fresh.current(K, V1, 100)  # its tail is the store's to give
    assert fresh.current(K, V1, 150)
    mark = fresh.begin([K])
    fresh.end([K])
    fresh.moved(K, mark, [170, 120])
    assert not fresh.current(K, V1, 160)
    assert fresh.current(K, V1, 170)


def test_a_write_moves_only_a_trusted_snapshot() -> None:
    fresh = listening()
    mark = fresh.begin([K])
    fresh.end([K])
    fresh.moved(K, mark, [10])
    assert not fresh.current(K, V1, 100)  # never validated: its latest instant is unknown
    read(fresh)
    mark = fresh.begin([K])
    fresh.end([K])
    fresh.moved(K, mark, [])
    assert fresh.current(K, V1, 100)


def test_assurances_are_bounded() -> None:
    fresh = listening()
    for i in range(50):
        mark = fresh.begin([("t", str(i))])
        fresh.end([("t", str(i))])
        fresh.validated(("t", str(i)), mark, None)
    assert fresh.current(("t", "49"), V1, 0)
    assert not fresh.current(("t", "0"), V1, 0)  # the oldest were let go


def test_a_silent_connection_stops_the_assurances() -> None:
    now = [0.0]
    fresh = Freshness(size=10, clock=lambda: now[0])
    fresh.started()
    read(fresh)
    now[0] = ALIVE_S - 0.1
    assert fresh.current(K, V1, 100)
    now[0] = ALIVE_S + 0.1  # no answer to a ping for that long: perhaps cut off
    assert not fresh.current(K, V1, 100)
    fresh.alive()
    assert fresh.current(K, V1, 100)
