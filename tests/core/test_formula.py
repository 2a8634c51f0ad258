"""The formula of PRODUCT.md section 2, checked to 1e-6 against values worked out by hand."""

import math

import pytest

from mastery_engine.core.aggregates import contribution, fold
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.events import parse_event
from mastery_engine.core.formula import (
    FormulaConfig,
    Level,
    SkillMastery,
    Weights,
    evaluate,
    level_of,
)
from mastery_engine.core.instants import parse_as_of
from tests.conftest import event

FAR_FUTURE = 2**62


def mastery_of(
    events: list[dict], skill: str, as_of: str, config: FormulaConfig | None = None
) -> SkillMastery:
    """Fold the events (any order) and evaluate one skill at the end of a day or an instant."""
    parsed = [parse_event(e, FAR_FUTURE) for e in events]
    aggregates = fold(contribution(e) for e in parsed)
    return evaluate(
        aggregates, skill, parse_as_of(as_of), DEFAULT_CURRICULUM, config or FormulaConfig()
    )


def completed(n: int, skill: str, at: str, start: int = 0) -> list[dict]:
    return [
        event(f"c{skill}{i}", "exercise.completed", at, skill=skill, exercise_id=f"ex{i}")
        for i in range(start, start + n)
    ]


def test_completion_counts_distinct_exercises_over_the_curriculum_count() -> None:
    events = completed(3, "basics", "2026-03-10T09:00:00Z")
    events.append(event("again", "exercise.completed", "2026-03-11T09:00:00Z", exercise_id="ex0"))
    m = mastery_of(events, "basics", "2026-03-20")
    assert m.components.completion == pytest.approx(3 / 10, abs=1e-12)
    # 2 active days (03-10, 03-11) of the 14 ending 03-20.
    assert m.components.consistency == pytest.approx(2 / 14, abs=1e-12)
    assert m.mastery == pytest.approx(0.4 * 0.3 + 0.1 * 2 / 14, abs=1e-9)
    assert m.level is Level.BEGINNER


def test_completion_is_capped_at_one() -> None:
    m = mastery_of(completed(9, "errors", "2026-03-10T09:00:00Z"), "errors", "2026-03-20")
    assert m.components.completion == 1.0  # 9 of the 8 exercises of `errors`


def test_a_skill_the_curriculum_does_not_know_counts_ten_exercises() -> None:
    m = mastery_of(completed(4, "regex", "2026-03-10T09:00:00Z"), "regex", "2026-03-20")
    assert m.components.completion == pytest.approx(0.4, abs=1e-12)


def test_recency_weight_doubles_every_half_life() -> None:
    quizzes = [
        event("q1", "quiz.graded", "2026-01-01T10:00:00Z", quiz_id="a", score=1.0),
        event("q2", "quiz.graded", "2026-01-31T10:00:00Z", quiz_id="b", score=0.0),
        event("q3", "quiz.graded", "2026-03-02T10:00:00Z", quiz_id="c", score=0.5),
    ]
    # Weights 1, 2, 4 (0, 30 and 60 days): (1*1 + 0*2 + 0.5*4) / 7.
    assert mastery_of(quizzes, "basics", "2026-03-20").components.quiz == pytest.approx(
        3 / 7, abs=1e-9
    )
    # Before the third quiz only the first two count: (1*1 + 0*2) / 3.
    assert mastery_of(quizzes, "basics", "2026-02-15").components.quiz == pytest.approx(
        1 / 3, abs=1e-9
    )


@pytest.mark.parametrize("half_life", [1.0, 7.0, 30.0, 365.0])
def test_recency_weight_within_a_day_for_any_half_life(half_life: float) -> None:
    reviews = [
        event("r1", "code.reviewed", "2026-03-01T00:00:00Z", submission_id="a", quality=0.2),
        event("r2", "code.reviewed", "2026-03-01T18:00:00+00:00", submission_id="b", quality=0.8),
        event("r3", "code.reviewed", "2026-03-03T06:30:00+02:00", submission_id="c", quality=0.5),
    ]
    # Ages relative to r1 in days: 0, 0.75 and 2.1875 (03-03 04:30 UTC).
    w = [2 ** (d / half_life) for d in (0.0, 0.75, 2.1875)]
    expected = (0.2 * w[0] + 0.8 * w[1] + 0.5 * w[2]) / sum(w)
    config = FormulaConfig(half_life_days=half_life)
    m = mastery_of(reviews, "basics", "2026-03-05", config)
    assert m.components.quality == pytest.approx(expected, abs=1e-9)


def test_consistency_window_is_the_fourteen_utc_days_ending_on_as_of() -> None:
    days = ["2026-02-28T12:00:00Z", "2026-03-01T00:00:00Z", "2026-03-14T23:59:59Z"]
    events = [event(f"a{i}", "activity", at, skill=None, kind="login") for i, at in enumerate(days)]
    events.append(event("late", "activity", "2026-03-15T00:00:00Z", skill=None, kind="login"))
    # 02-28 is day D-14 (outside), 03-01 is D-13 (inside), 03-15 is after as_of.
    assert mastery_of(events, "basics", "2026-03-14").components.consistency == pytest.approx(
        2 / 14
    )
    # Any skill's events count, and the event time within the as_of day matters.
    assert mastery_of(
        events, "oop", "2026-03-14T23:59:58Z"
    ).components.consistency == pytest.approx(1 / 14)


def test_no_events_in_the_window_means_zero_consistency() -> None:
    m = mastery_of(completed(2, "basics", "2026-01-10T10:00:00Z"), "basics", "2026-03-01")
    assert m.components.consistency == 0.0
    assert m.components.completion == pytest.approx(0.2)


def test_full_example_worked_by_hand() -> None:
    events = completed(4, "functions", "2026-03-02T08:00:00Z")
    events += [
        event(
            "q1", "quiz.graded", "2026-03-02T10:00:00Z", skill="functions", quiz_id="a", score=0.6
        ),
        event(
            "q2", "quiz.graded", "2026-03-17T10:00:00Z", skill="functions", quiz_id="b", score=0.9
        ),
        event(
            "r1",
            "code.reviewed",
            "2026-03-18T10:00:00Z",
            skill="functions",
            submission_id="s",
            quality=0.7,
        ),
        event("other", "quiz.graded", "2026-03-18T11:00:00Z", skill="oop", quiz_id="c", score=0.1),
    ]
    m = mastery_of(events, "functions", "2026-03-20")
    # C = 4/10; Q = (0.6 * 1 + 0.9 * 2**0.5) / (1 + 2**0.5) (15 days = half a half-life);
    # R = 0.7; S = 2 active days / 14 (03-17 and 03-18; 03-02 is before the window 03-07..03-20).
    q = (0.6 + 0.9 * math.sqrt(2)) / (1 + math.sqrt(2))
    assert q == pytest.approx(0.7757359313, abs=1e-9)
    assert m.components.quiz == pytest.approx(q, abs=1e-9)
    assert m.components.quality == pytest.approx(0.7, abs=1e-12)
    assert m.components.consistency == pytest.approx(2 / 14, abs=1e-12)
    assert m.mastery == pytest.approx(0.16 + 0.3 * q + 0.14 + 0.1 * 2 / 14, abs=1e-9)
    assert m.mastery == pytest.approx(0.5470064937, abs=1e-6)
    assert m.level is Level.LEARNING


def test_levels_on_exact_boundaries_through_the_formula() -> None:
    full = completed(10, "basics", "2026-01-10T10:00:00Z")
    quiz = [event("q", "quiz.graded", "2026-01-10T11:00:00Z", quiz_id="q", score=1.0)]
    review = [event("r", "code.reviewed", "2026-01-10T12:00:00Z", submission_id="r", quality=1.0)]
    # as_of far past the 14-day window, so S = 0 and mastery is 0.4, 0.7, 0.9 exactly
    # (0.4 + 0.3 is 0.7000000000000001 in floating point: the rounding absorbs it).
    at = "2026-03-01"
    assert mastery_of(full, "basics", at).level is Level.BEGINNER
    assert mastery_of(full + quiz, "basics", at).level is Level.LEARNING
    assert mastery_of(full + quiz + review, "basics", at).level is Level.PROFICIENT
    assert mastery_of(full + quiz + review, "basics", "2026-01-10").level is Level.MASTERED


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (0.0, Level.BEGINNER),
        (0.4, Level.BEGINNER),
        (0.4 + 1e-9, Level.BEGINNER),
        (0.400001, Level.LEARNING),
        (0.7000000000000001, Level.LEARNING),
        (0.700001, Level.PROFICIENT),
        (0.9, Level.PROFICIENT),
        (0.9000000000000001, Level.PROFICIENT),
        (0.900001, Level.MASTERED),
        (1.0, Level.MASTERED),
    ],
)
def test_level_boundaries(value: float, level: Level) -> None:
    assert level_of(value) is level


def test_as_of_in_the_past_excludes_later_events() -> None:
    events = [
        event("q1", "quiz.graded", "2026-03-01T10:00:00Z", quiz_id="a", score=1.0),
        event("c1", "exercise.completed", "2026-03-02T10:00:00Z", exercise_id="e1"),
        event("q2", "quiz.graded", "2026-03-10T10:00:00Z", quiz_id="b", score=0.0),
    ]
    before = mastery_of(events, "basics", "2026-03-01")
    assert (before.components.quiz, before.components.completion) == (1.0, 0.0)
    assert before.mastery == pytest.approx(0.3 + 0.1 / 14, abs=1e-12)
    after = mastery_of(events, "basics", "2026-03-10")
    assert after.components.completion == pytest.approx(0.1)
    assert after.components.quiz == pytest.approx(1 / (1 + 2 ** (9 / 30)), abs=1e-9)


@pytest.mark.parametrize(
    "weights",
    [
        (0.5, 0.3, 0.2, 0.1),
        (-0.1, 0.5, 0.5, 0.1),
        (0.25, 0.25, 0.25, 0.2),
        (math.nan, 0.5, 0.3, 0.2),
    ],
)
def test_weights_must_be_non_negative_and_sum_to_one(weights: tuple[float, ...]) -> None:
    with pytest.raises(InvalidConfig, match="weight"):
        Weights(*weights)


def test_custom_weights_apply() -> None:
    config = FormulaConfig(Weights(1.0, 0.0, 0.0, 0.0))
    m = mastery_of(completed(5, "basics", "2026-03-10T10:00:00Z"), "basics", "2026-03-20", config)
    assert m.mastery == pytest.approx(0.5)


def test_half_life_below_one_day_is_refused() -> None:
    with pytest.raises(InvalidConfig, match="half_life_days"):
        FormulaConfig(half_life_days=0.5)
