"""Every backend keeps each skill's latest quiz answers as the in-process fold does."""

import random

from mastery_engine.core.aggregates import contribution, fold
from mastery_engine.core.events import Event, parse_event
from mastery_engine.core.recent import RECENT_ANSWERS, RECENT_FAILURES, Answer, Failure
from mastery_engine.stores import Store
from tests.conftest import NOW, event


def quiz(
    event_id: str, minute: int, score: float, skill: str = "basics", student: str = "s-1"
) -> Event:
    at = f"2026-03-10T10:{minute:02d}:00Z"
    body = event(
        event_id, "quiz.graded", at, student=student, skill=skill, quiz_id="q", score=score
    )
    return parse_event(body, NOW)


async def test_only_the_latest_answers_are_kept_ties_by_event_id(store: Store) -> None:
    answers = [quiz(f"e{i}", i, i / 10) for i in range(8)]
    answers += [quiz("z-tie", 7, 0.25), quiz("a-tie", 7, 0.75)]  # same instant as e7
    await store.apply("t", answers, NOW)
    got = await store.read("t", "s-1", NOW)
    assert got is not None
    window = got.recent["basics"]
    assert len(window) == RECENT_ANSWERS
    assert [a.event_id for a in window] == ["e5", "e6", "a-tie", "e7", "z-tie"]
    assert window[3] == Answer(answers[7].occurred_at, "e7", 0.7)


async def test_windows_do_not_depend_on_batches_order_or_re_deliveries(store: Store) -> None:
    rng = random.Random(7)
    events = [
        quiz(f"e{i:02d}", rng.randrange(60), rng.choice([0.0, 0.5, 1.0]), skill=skill)
        for i, skill in enumerate(["basics", "oop", "loops"] * 6)
    ]
    # Other kinds of event and code reviews never enter a window.
    events.append(
        parse_event(
            event("r1", "code.reviewed", "2026-03-10T11:00:00Z", submission_id="x", quality=1.0),
            NOW,
        )
    )
    delivered = events + rng.sample(events, 8)
    rng.shuffle(delivered)
    for start in range(0, len(delivered), 5):
        await store.apply("t", delivered[start : start + 5], NOW)
    got = await store.read("t", "s-1", NOW)
    want = fold(contribution(e) for e in events)
    assert got is not None
    assert dict(got.recent) == dict(want.recent)
    assert set(got.recent) == {"basics", "oop", "loops"}


async def test_windows_are_per_student_and_tenant_and_erased_with_the_student(
    store: Store,
) -> None:
    await store.apply("t", [quiz("a", 1, 1.0), quiz("b", 2, 0.0, student="s-2")], NOW)
    await store.apply("u", [quiz("a", 3, 0.5)], NOW)
    mine = await store.read("t", "s-1", NOW)
    other = await store.read("u", "s-1", NOW)
    assert mine is not None and other is not None
    assert [a.event_id for a in mine.recent["basics"]] == ["a"]
    assert other.recent["basics"][0].score == 0.5
    await store.delete_student("t", "s-1")
    await store.apply("t", [quiz("c", 4, 0.0)], NOW)
    back = await store.read("t", "s-1", NOW)
    assert back is not None
    assert [a.event_id for a in back.recent["basics"]] == ["c"]


async def test_read_many_carries_the_windows(store: Store) -> None:
    await store.apply("t", [quiz("a", 1, 1.0), quiz("b", 2, 0.0, student="s-2")], NOW)
    first, second, nobody = await store.read_many("t", ["s-1", "s-2", "s-3"], NOW)
    assert first is not None and second is not None and nobody is None
    assert [a.event_id for a in first.recent["basics"]] == ["a"]
    assert [a.event_id for a in second.recent["basics"]] == ["b"]


async def test_ids_with_separators_survive_the_round_trip(store: Store) -> None:
    odd = ["a:b", "x|y", "100%", "sp ace", 'q"uote', "é"]
    await store.apply("t", [quiz(i, n, 0.5) for n, i in enumerate(odd)], NOW)
    got = await store.read("t", "s-1", NOW)
    assert got is not None
    assert [a.event_id for a in got.recent["basics"]] == odd[1:]  # minutes 1..5


def attempt(
    event_id: str, minute: int, error: str | None = "syntax", passed: bool = False, **kw: str
) -> Event:
    at = f"2026-03-10T11:{minute:02d}:00Z"
    data: dict[str, object] = {"exercise_id": "e1", "passed": passed}
    if error is not None:
        data["error_type"] = error
    body = event(event_id, "exercise.attempted", at, skill=kw.get("skill", "basics"), **data)
    return parse_event(body, NOW)


async def test_only_the_latest_failed_attempts_with_an_error_type_are_kept(store: Store) -> None:
    failed = [attempt(f"f{i:02d}", i, error=f"kind {i % 3}") for i in range(14)]
    others = [attempt("ok", 30, passed=True), attempt("no-type", 31, error=None)]
    others.append(attempt("z|tie", 13, error="a:b"))  # same instant as f13, later id
    delivered = failed + others + failed[:4]
    random.Random(3).shuffle(delivered)
    for start in range(0, len(delivered), 6):
        await store.apply("t", delivered[start : start + 6], NOW)
    got = await store.read("t", "s-1", NOW)
    assert got is not None
    window = got.failures["basics"]
    assert len(window) == RECENT_FAILURES
    assert [f.event_id for f in window] == [*(f"f{i:02d}" for i in range(5, 14)), "z|tie"]
    assert window[-1] == Failure(others[-1].occurred_at, "z|tie", "a:b")
    want = fold(contribution(e) for e in delivered)
    assert dict(got.failures) == dict(want.failures)
    assert dict(got.recent) == {}  # attempts are not quiz answers
    await store.delete_student("t", "s-1")
    await store.apply("t", [attempt("again", 40)], NOW)
    back = await store.read("t", "s-1", NOW)
    assert back is not None and [f.event_id for f in back.failures["basics"]] == ["again"]
