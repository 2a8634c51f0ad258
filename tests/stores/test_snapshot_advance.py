"""A store's cached snapshots move on with each batch it applies: what a read then answers
equals, bit for bit, what a fresh process reads from the same store."""

import random

import pytest

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.events import Event, parse_event
from mastery_engine.stores import Store, open_store
from mastery_engine.stores.snapshots import SnapshotCache
from tests.backends import SHARED_BACKENDS
from tests.conftest import NOW, event

KINDS = ["quiz.graded", "code.reviewed", "exercise.completed", "activity", "exercise.attempted"]


def random_events(rng: random.Random, count: int) -> list[Event]:
    """Events of every kind for three students over a few days, many on the same buckets."""
    found = []
    for i in range(count):
        kind = rng.choice(KINDS)
        at = f"2026-03-{rng.randint(10, 19)}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"
        data: dict[str, object] = {
            "quiz.graded": {"quiz_id": "q", "score": rng.random()},
            "code.reviewed": {"submission_id": "s", "quality": rng.random()},
            "exercise.completed": {"exercise_id": f"e{rng.randint(0, 5)}"},
            "activity": {"kind": "video"},
            "exercise.attempted": {"exercise_id": "e1", "passed": False, "error_type": "x"},
        }[kind]
        body = event(
            f"ev{i}",
            kind,
            at,
            student=rng.choice(["s1", "s2", "s3"]),
            skill=rng.choice(["basics", "loops"]),
            **data,
        )
        found.append(parse_event(body, NOW))
    return found


def same(a: StudentAggregates | None, b: StudentAggregates | None) -> bool:
    assert a is not None and b is not None
    scores = {k: dict(v.items()) for k, v in a.scores.items()} == {
        k: dict(v.items()) for k, v in b.scores.items()
    }
    rest = (a.completions, a.active, a.skills, a.recent, a.failures) == (
        b.completions,
        b.active,
        b.skills,
        b.recent,
        b.failures,
    )
    return scores and rest


@pytest.mark.parametrize("backend", SHARED_BACKENDS)
async def test_reads_after_each_batch_equal_a_fresh_process_s(backend_url: str) -> None:
    rng = random.Random(11)
    events = random_events(rng, 120)
    delivered = events + rng.sample(events, 30)
    rng.shuffle(delivered)
    writer = await open_store(backend_url)
    try:
        for start in range(0, len(delivered), 15):
            for student in ("s1", "s2", "s3"):  # every student cached before the batch
                await writer.read("t", student, NOW)
            await writer.apply("t", delivered[start : start + 15], NOW)
            fresh: Store = await open_store(backend_url)
            try:
                for student in ("s1", "s2", "s3"):
                    mine, theirs = (
                        await writer.read("t", student, NOW),
                        await fresh.read("t", student, NOW),
                    )
                    if theirs is None:
                        assert mine is None
                        continue
                    assert same(mine, theirs), student
            finally:
                await fresh.close()
    finally:
        await writer.close()


def test_a_snapshot_at_another_version_is_dropped_not_advanced() -> None:
    cache: SnapshotCache[int] = SnapshotCache(10)
    cache.put(("t", "s"), 3, StudentAggregates())
    cache.advance(("t", "s"), 2, 5, [])  # another writer moved it from 2: ours missed a write
    assert cache.version(("t", "s")) is None
    cache.put(("t", "s"), 3, StudentAggregates())
    cache.advance(("t", "s"), 3, 5, [])
    assert cache.version(("t", "s")) == 5
    cache.advance(("t", "other"), None, 1, [])  # nothing cached: nothing to do
    assert cache.version(("t", "other")) is None
