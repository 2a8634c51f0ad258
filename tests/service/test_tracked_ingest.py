"""Which mastery moves a batch announces: the skills its events name, a new level or >= 0.05."""

import asyncio
from typing import Any

import pytest

from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.errors import StoreUnavailable
from mastery_engine.core.formula import FormulaConfig, Level
from mastery_engine.service.mastery import MasteryService
from mastery_engine.service.outcomes import Status, TrackedIngest
from mastery_engine.stores.memory import MemoryStore
from tests.conftest import event, fixed_clock

DAY = "2026-03-20T"  # the fixed clock's day (NOW is 12:00 UTC)
S = 0.1 / 14  # one active day of consistency, weighted


def ingest(service: MasteryService, *events: dict[str, Any]) -> TrackedIngest:
    return asyncio.run(service.ingest_tracked("t", list(events)))


def moves(tracked: TrackedIngest) -> list[tuple[str, str, float, float, Level, Level]]:
    return [
        (c.student_id, c.skill_id, c.old_mastery, c.new_mastery, c.old_level, c.new_level)
        for c in tracked.changes
    ]


@pytest.fixture
def service() -> MasteryService:
    return MasteryService(MemoryStore(), DEFAULT_CURRICULUM, FormulaConfig(), clock=fixed_clock())


def test_a_first_score_is_a_move_from_zero(service: MasteryService) -> None:
    quiz = event("q1", "quiz.graded", f"{DAY}09:00:00Z", skill="functions", quiz_id="q", score=0.8)

    found = moves(ingest(service, quiz))

    assert found == [
        ("s-1", "functions", 0.0, pytest.approx(0.3 * 0.8 + S), Level.BEGINNER, Level.BEGINNER)
    ]
    assert moves(ingest(service, quiz)) == []  # a re-delivery moves nothing


def test_small_moves_are_quiet_and_a_new_level_is_announced(service: MasteryService) -> None:
    done = [
        event(f"c{i}", "exercise.completed", f"{DAY}08:{i:02d}:00Z", exercise_id=f"e{i}")
        for i in range(9)
    ]
    assert len(ingest(service, *done).changes) == 1  # 0 -> 0.36 + S on basics
    one_more = event("c9", "exercise.completed", f"{DAY}09:00:00Z", exercise_id="e9")
    weak_quiz = event("q1", "quiz.graded", f"{DAY}10:00:00Z", quiz_id="q", score=0.1)

    assert moves(ingest(service, weak_quiz)) == []  # +0.03, still Beginner
    crossed = moves(ingest(service, one_more))  # +0.04 only, but 0.3967 -> 0.4367

    assert crossed == [
        (
            "s-1",
            "basics",
            pytest.approx(0.36 + 0.03 + S),
            pytest.approx(0.40 + 0.03 + S),
            Level.BEGINNER,
            Level.LEARNING,
        )
    ]


def test_only_the_skills_and_students_named_by_accepted_events(service: MasteryService) -> None:
    batch = [
        event("a", "quiz.graded", f"{DAY}09:00:00Z", skill="oop", quiz_id="q", score=1.0),
        event("b", "code.reviewed", f"{DAY}09:00:00Z", student="s-2", submission_id="r", quality=1),
        event("bad", "quiz.graded", f"{DAY}09:00:00Z", student="s-3", quiz_id="q", score=2.0),
        event("act", "activity", f"{DAY}09:00:00Z", student="s-4", skill=None, kind="study"),
    ]

    found = {(c.student_id, c.skill_id) for c in ingest(service, *batch).changes}

    assert found == {("s-1", "oop"), ("s-2", "basics")}


class AnswerLost(MemoryStore):
    """Applies the first batch, then fails as a store that answers after the caller's
    deadline looks to the caller (seen with a frozen Redis: the batch lands on waking)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = False

    async def apply(self, tenant: str, events: Any, ingested_at: int) -> list[bool]:
        applied = await super().apply(tenant, events, ingested_at)
        if not self.lost:
            self.lost = True
            raise StoreUnavailable("the store did not answer apply within 2 s")
        return applied


def test_an_interrupted_batch_retried_against_its_baseline_loses_no_move() -> None:
    quiz = event("q1", "quiz.graded", f"{DAY}09:00:00Z", skill="functions", quiz_id="q", score=0.8)
    clean = MasteryService(MemoryStore(), DEFAULT_CURRICULUM, FormulaConfig(), clock=fixed_clock())
    expected = moves(ingest(clean, quiz))
    store = AnswerLost()
    service = MasteryService(store, DEFAULT_CURRICULUM, FormulaConfig(), clock=fixed_clock())

    async def as_the_consumer_does() -> TrackedIngest:
        baseline = await service.baseline("t", [quiz])
        with pytest.raises(StoreUnavailable):
            await service.ingest_tracked("t", [quiz], baseline=baseline)
        return await service.ingest_tracked("t", [quiz], baseline=baseline, interrupted=True)

    retried = asyncio.run(as_the_consumer_does())

    assert retried.report.results[0].status is Status.DUPLICATE  # it had landed
    assert moves(retried) == expected != []
    assert {e.id for e in retried.applied} == {"q1"}
    assert moves(ingest(service, quiz)) == []  # a later re-delivery still moves nothing
