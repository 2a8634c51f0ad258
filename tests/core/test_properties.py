"""Order and re-delivery never change mastery; mastery stays in [0, 1]; history agrees."""

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.formula import FormulaConfig, evaluate
from mastery_engine.core.history import history
from mastery_engine.core.instants import US_PER_SECOND, day_of, end_of_day, format_us
from mastery_engine.service.mastery import MasteryService
from mastery_engine.service.outcomes import StudentMastery
from mastery_engine.stores.memory import MemoryStore
from tests.conftest import NOW, fixed_clock

START = NOW - 40 * 86_400 * US_PER_SECOND
SKILLS = ["basics", "functions", "regex"]


@st.composite
def events(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few dozen events of every type for two students over 40 days."""
    count = draw(st.integers(1, 40))
    out = []
    for i in range(count):
        kind = draw(
            st.sampled_from(
                [
                    "exercise.completed",
                    "quiz.graded",
                    "code.reviewed",
                    "activity",
                    "exercise.attempted",
                ]
            )
        )
        at = START + draw(st.integers(0, 40 * 86_400)) * US_PER_SECOND
        data: dict[str, Any] = {
            "exercise.completed": {"exercise_id": f"e{draw(st.integers(0, 14))}"},
            "exercise.attempted": {"exercise_id": "e1", "passed": draw(st.booleans())},
            "quiz.graded": {"quiz_id": "q", "score": draw(st.floats(0, 1))},
            "code.reviewed": {"submission_id": "s", "quality": draw(st.floats(0, 1))},
            "activity": {"kind": "login"},
        }[kind]
        out.append(
            {
                "id": f"ev-{i}",
                "type": kind,
                "student_id": draw(st.sampled_from(["s1", "s2"])),
                "skill_id": draw(st.sampled_from(SKILLS)),
                "occurred_at": format_us(at),
                "data": data,
            }
        )
    return out


async def _ingest(items: list[dict[str, Any]], as_of: int) -> list[StudentMastery | None]:
    service = MasteryService(
        MemoryStore(), DEFAULT_CURRICULUM, FormulaConfig(), clock=fixed_clock()
    )
    for start in range(0, len(items), 7):
        await service.ingest("t", items[start : start + 7])
    results: list[StudentMastery | None] = []
    for student in ("s1", "s2"):
        students = await service.students("t")
        results.append(await service.mastery("t", student, as_of) if student in students else None)
    return results


def run(items: list[dict[str, Any]], as_of: int) -> list[StudentMastery | None]:
    return asyncio.run(_ingest(items, as_of))


def same(a: list[StudentMastery | None], b: list[StudentMastery | None]) -> bool:
    for x, y in zip(a, b, strict=True):
        if (x is None) != (y is None):
            return False
        if x is None or y is None:
            continue
        for p, q in zip(x.skills, y.skills, strict=True):
            if p.skill_id != q.skill_id or p.level != q.level or abs(p.mastery - q.mastery) > 1e-12:
                return False
    return True


@settings(max_examples=60, deadline=None)
@given(items=events(), order=st.randoms(use_true_random=False), as_of_s=st.integers(0, 41 * 86_400))
def test_any_permutation_and_any_redelivery_gives_identical_mastery(
    items: list[dict[str, Any]], order: Any, as_of_s: int
) -> None:
    as_of = START + as_of_s * US_PER_SECOND
    reference = run(items, as_of)
    shuffled = items + [order.choice(items) for _ in range(len(items) // 2 + 1)]
    order.shuffle(shuffled)
    assert same(reference, run(shuffled, as_of))
    for result in reference:
        for skill in result.skills if result else ():
            assert 0.0 <= skill.mastery <= 1.0


@settings(max_examples=30, deadline=None)
@given(items=events())
def test_history_equals_evaluating_each_day(items: list[dict[str, Any]]) -> None:
    store = MemoryStore()
    service = MasteryService(store, DEFAULT_CURRICULUM, FormulaConfig(), clock=fixed_clock())
    asyncio.run(service.ingest("t", items))
    first, last = day_of(START) - 2, day_of(NOW)
    for student in asyncio.run(store.students("t")):
        aggregates = asyncio.run(store.read("t", student, end_of_day(last)))
        assert aggregates is not None
        for skill in SKILLS:
            points = history(
                aggregates, skill, range(first, last + 1), DEFAULT_CURRICULUM, FormulaConfig()
            )
            for point in points:
                direct = evaluate(
                    aggregates, skill, end_of_day(point.day), DEFAULT_CURRICULUM, FormulaConfig()
                )
                assert abs(point.mastery - direct.mastery) < 1e-12
                assert point.level == direct.level


def reference(items: list[dict[str, Any]], student: str, skill: str, as_of: int) -> float:
    """PRODUCT.md section 2 computed naively from the raw events, with exact exp weights."""
    from mastery_engine.core.instants import parse_rfc3339

    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(item["id"], item)
    mine = [e for e in seen.values() if e["student_id"] == student]
    mine = [(parse_rfc3339(e["occurred_at"], "t"), e) for e in mine]
    mine = [(t, e) for t, e in mine if t <= as_of]
    here = [(t, e) for t, e in mine if e["skill_id"] == skill]
    done = {e["data"]["exercise_id"] for _, e in here if e["type"] == "exercise.completed"}
    completion = min(1.0, len(done) / DEFAULT_CURRICULUM.exercise_count(skill))

    def mean(kind: str, key: str) -> float:
        obs = [(t, e["data"][key]) for t, e in here if e["type"] == kind]
        if not obs:
            return 0.0
        newest = max(t for t, _ in obs)
        weights = [2 ** ((t - newest) / (30 * 86_400 * US_PER_SECOND)) for t, _ in obs]
        return sum(w * s for w, (_, s) in zip(weights, obs, strict=True)) / sum(weights)

    today = day_of(as_of)
    active = {day_of(t) for t, _ in mine} & set(range(today - 13, today + 1))
    return (
        0.4 * completion
        + 0.3 * mean("quiz.graded", "score")
        + 0.2 * mean("code.reviewed", "quality")
        + 0.1 * len(active) / 14
    )


@settings(max_examples=80, deadline=None)
@given(items=events(), as_of_s=st.integers(0, 41 * 86_400))
def test_service_matches_a_naive_reference_at_any_instant(
    items: list[dict[str, Any]], as_of_s: int
) -> None:
    as_of = START + as_of_s * US_PER_SECOND
    results = run(items, as_of)
    for student, result in zip(("s1", "s2"), results, strict=True):
        for skill in result.skills if result else ():
            expected = reference(items, student, skill.skill_id, as_of)
            assert abs(skill.mastery - expected) < 1e-9, (student, skill.skill_id)


@settings(max_examples=150, deadline=None)
@given(
    days=st.dictionaries(
        st.integers(0, 4000),
        st.lists(st.tuples(st.integers(0, 86_399), st.floats(0, 1)), min_size=1, max_size=3),
        max_size=12,
    ),
    half_life=st.sampled_from([1.0, 3.5, 30.0]),
    as_of_day=st.integers(-1, 4001),
    as_of_second=st.integers(0, 86_399),
)
def test_compiled_series_equals_direct_fold(
    days: dict[int, list[tuple[int, float]]], half_life: float, as_of_day: int, as_of_second: int
) -> None:
    from mastery_engine.core.moments import Moments
    from mastery_engine.core.recency import ScoreSeries, recency_mean

    config = FormulaConfig(half_life_days=half_life)
    buckets, tail = {}, None
    as_of = as_of_day * 86_400 * US_PER_SECOND + as_of_second * US_PER_SECOND
    for day, observations in days.items():
        for second, score in observations:
            at = day * 86_400 * US_PER_SECOND + second * US_PER_SECOND
            buckets[day] = buckets.get(day, Moments()) + Moments.of(at, score)
            if day == as_of_day and second > as_of_second:
                tail = (tail or Moments()) + Moments.of(at, score)
    direct = recency_mean(buckets, as_of, config.series, half_life, tail)
    compiled = ScoreSeries.build(buckets, config.series, half_life).mean(as_of, tail)
    assert compiled.n == direct.n
    assert abs(compiled.value - direct.value) < 1e-9
