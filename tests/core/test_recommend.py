"""Recommendations: prerequisite gating, the step per component, reviews, deterministic ranks."""

import random
from typing import Any

import pytest

from mastery_engine.core.aggregates import StudentAggregates, contribution, fold
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.events import parse_event
from mastery_engine.core.formula import FormulaConfig, Level, SkillMastery, evaluate_student
from mastery_engine.core.instants import parse_as_of
from mastery_engine.core.memory_model import MemoryParams, days_of, retrievability, skill_memory
from mastery_engine.core.recommend import Action, Recommendation, recommend
from tests.conftest import event

CONFIG = FormulaConfig()
FAR_FUTURE = 2**62
AS_OF = "2026-03-20"
RECENT = "2026-03-18T10:00:00Z"  # inside the 14-day consistency window of AS_OF
OLD = "2026-02-01T10:00:00Z"  # outside it


def done(skill: str, n: int, at: str = RECENT, start: int = 0) -> list[dict[str, Any]]:
    """`n` exercise completions of a skill."""
    return [
        event(f"c-{skill}-{i}", "exercise.completed", at, skill=skill, exercise_id=f"ex{i}")
        for i in range(start, start + n)
    ]


def quiz(skill: str, score: float, at: str = RECENT, tag: str = "") -> dict[str, Any]:
    """One graded quiz."""
    return event(
        f"q-{skill}-{score}-{at}{tag}", "quiz.graded", at, skill=skill, quiz_id="q", score=score
    )


def code(skill: str, quality: float, at: str = RECENT, tag: str = "") -> dict[str, Any]:
    """One reviewed submission."""
    return event(
        f"r-{skill}-{quality}-{at}{tag}",
        "code.reviewed",
        at,
        skill=skill,
        submission_id="s",
        quality=quality,
    )


def proficient(skill: str, exercises: int, score: float = 1.0) -> list[dict[str, Any]]:
    """Every exercise, a quiz and a review at `score`, recently: 0.9 + 0.1 * 1/14 at 1.0."""
    return [*done(skill, exercises), quiz(skill, score), code(skill, score)]


def aggregates_of(events: list[dict[str, Any]]) -> StudentAggregates:
    return fold(contribution(parse_event(e, FAR_FUTURE)) for e in events)


def skills_of(events: list[dict[str, Any]], as_of: str = AS_OF) -> list[SkillMastery]:
    return evaluate_student(aggregates_of(events), parse_as_of(as_of), DEFAULT_CURRICULUM, CONFIG)


def run(
    events: list[dict[str, Any]], reviews: dict[str, float] | None = None, limit: int = 20
) -> list[Recommendation]:
    return recommend(skills_of(events), DEFAULT_CURRICULUM, CONFIG, reviews or {}, limit=limit)


def skills_in(recs: list[Recommendation]) -> list[str]:
    return [r.skill_id for r in recs]


# basics at exactly 0.70: every exercise and a perfect quiz, both outside the window.
AT_070 = [*done("basics", 10, OLD), quiz("basics", 1.0, OLD)]
JUST_ABOVE = [*AT_070, event("a", "activity", RECENT, skill=None, kind="login")]  # + 1/140
JUST_BELOW = [*done("basics", 10, OLD), quiz("basics", 0.99, OLD)]  # 0.697


@pytest.mark.parametrize(
    ("events", "mastery", "gated"),
    [
        (AT_070, 0.70, True),
        (JUST_ABOVE, 0.70 + 0.1 / 14, False),
        (JUST_BELOW, 0.697, True),
        ([], 0.0, True),
    ],
    ids=["exactly-0.70", "just-above", "just-below", "no-events"],
)
def test_a_skill_needs_every_prerequisite_above_070(
    events: list[dict[str, Any]], mastery: float, gated: bool
) -> None:
    basics = skills_of(events)[0]
    assert basics.mastery == pytest.approx(mastery, abs=1e-9)
    recs = run(events)
    assert ("control-flow" not in skills_in(recs)) is gated
    assert "basics" in skills_in(recs)  # below Proficient, so it has a step of its own
    assert not {"data-structures", "functions", "oop"} & set(skills_in(recs))


def test_every_prerequisite_must_be_met_not_just_one() -> None:
    events = [*proficient("basics", 10), *proficient("control-flow", 12)]
    events += proficient("functions", 10)
    recs = run(events)
    assert {"data-structures", "files", "errors"} <= set(skills_in(recs))
    assert "oop" not in skills_in(recs)  # data-structures is not yet Proficient
    assert "libraries" not in skills_in(recs)


@pytest.mark.parametrize(
    ("events", "action", "gain", "words"),
    [
        ([], Action.START, 0.4 * 3 / 10, "Start basics with its first 3 exercises"),
        (
            done("basics", 4),
            Action.PRACTICE,
            0.4 * 3 / 10,
            "Complete the next 3 exercises of basics (4 of 10 done)",
        ),
        (
            done("basics", 9),
            Action.PRACTICE,
            0.4 * 1 / 10,
            "Complete the next 1 exercise of basics",
        ),
        # Exercises done: a first quiz (0.3 * readiness 1.0) beats a first review (0.2).
        (done("basics", 10), Action.QUIZ, 0.3, "Take a quiz on basics"),
        # With a quiz at 0.9 a first review adds 0.2; another quiz far less.
        ([*done("basics", 10), quiz("basics", 0.9)], Action.IMPROVE_QUALITY, 0.2, "reviewed"),
    ],
    ids=["start", "practice", "last-exercise", "quiz", "improve-quality"],
)
def test_the_step_on_the_component_that_adds_most(
    events: list[dict[str, Any]], action: Action, gain: float, words: str
) -> None:
    first = run(events)[0]
    assert (first.skill_id, first.action, first.priority) == ("basics", action, 1)
    assert first.expected_gain == pytest.approx(gain, abs=1e-9)
    assert words in first.reason
    assert f"{gain:.2f} mastery" in first.reason


def test_exercises_come_before_a_quiz_even_when_the_quiz_would_add_more() -> None:
    # 9 of 10 done: a first quiz would add 0.3 * 0.9, one more exercise only 0.04.
    first = run(done("basics", 9))[0]
    assert first.action is Action.PRACTICE


def test_a_weak_skill_is_practised_before_each_retest() -> None:
    weak = [*done("basics", 10), quiz("basics", 0.3, tag="a"), quiz("basics", 0.4, tag="b")]
    first = run(weak)[0]
    assert first.action is Action.PRACTICE
    assert "before the next" in first.reason and "scores average 0.35" in first.reason
    assert first.expected_gain > 0  # the gain of the retest it prepares
    # Three exercises beyond the curriculum's ten pay for the second score: retest now.
    retest = run([*weak, *done("basics", 3, start=10)])[0]
    assert retest.action in (Action.QUIZ, Action.IMPROVE_QUALITY)
    assert retest.expected_gain == pytest.approx(first.expected_gain, rel=1e-9)


def test_a_mastered_skill_gets_no_learning_step() -> None:
    events = proficient("basics", 10)
    basics = skills_of(events)[0]
    assert basics.level is Level.MASTERED
    assert "basics" not in skills_in(run(events))


def test_steps_on_skills_below_proficient_rank_before_polishing() -> None:
    # basics Proficient (0.757) with a quiz at 0.5 to improve; control-flow one exercise short.
    events = [*done("basics", 10), quiz("basics", 0.5), code("basics", 1.0)]
    events += done("control-flow", 11)
    recs = run(events)
    assert [(r.skill_id, r.action) for r in recs[:2]] == [
        ("control-flow", Action.PRACTICE),
        ("basics", Action.QUIZ),
    ]
    assert recs[0].expected_gain < recs[1].expected_gain  # the group comes first, not the gain


def test_a_weak_prerequisite_is_strengthened_before_its_dependants() -> None:
    # basics is Proficient on completion and consistency but scores only 0.5.
    events = [*done("basics", 10), quiz("basics", 0.5), code("basics", 0.5)]
    events += [
        event(f"a{d}", "activity", f"2026-03-{d:02d}T08:00:00Z", skill=None, kind="x")
        for d in range(7, 21)
    ]
    basics = skills_of(events)[0]
    assert basics.level is Level.PROFICIENT
    recs = run(events)
    assert recs[0].skill_id == "basics"
    assert "skills after it need it stronger" in recs[0].reason
    assert recs[1].skill_id == "control-flow"  # still offered, after it


def test_review_due_when_recall_falls_below_the_desired_retention() -> None:
    # Mastered months ago, quizzed once: its memory has faded by now.
    events = [*proficient("basics", 10), event("a", "activity", "2026-06-19T08:00:00Z", kind="x")]
    aggregates = aggregates_of(events)
    as_of = parse_as_of("2026-06-20")
    state = skill_memory(aggregates, "basics", as_of, MemoryParams())
    assert state is not None
    recall = retrievability(state, days_of(as_of), MemoryParams())
    assert recall < 0.9
    skills = evaluate_student(aggregates, as_of, DEFAULT_CURRICULUM, CONFIG)
    recs = recommend(skills, DEFAULT_CURRICULUM, CONFIG, {"basics": recall})
    review = next(r for r in recs if r.action is Action.REVIEW)
    assert review.skill_id == "basics"
    assert skills[0].level is Level.MASTERED  # included even though Mastered
    assert review.expected_gain == pytest.approx(0.3 * skills[0].components.quiz * (1 - recall))
    assert "recall has faded" in review.reason


@pytest.mark.parametrize(
    ("recall", "due"), [(0.5, True), (0.899999, True), (0.9, False), (0.95, False)]
)
def test_review_threshold_is_strict(recall: float, due: bool) -> None:
    recs = run(proficient("basics", 10), {"basics": recall})
    assert any(r.action is Action.REVIEW for r in recs) is due


def test_reviews_rank_by_urgency() -> None:
    events = [*proficient("basics", 10), *proficient("control-flow", 12)]
    recs = run(events, {"basics": 0.8, "control-flow": 0.6})
    reviews = [r for r in recs if r.action is Action.REVIEW]
    assert skills_in(reviews) == ["control-flow", "basics"]


def test_review_of_a_gated_skill_is_not_recommended() -> None:
    # control-flow was learnt, but basics is below 0.70 now: never recommend it.
    events = [*done("basics", 10, OLD), *proficient("control-flow", 12)]
    assert "control-flow" not in skills_in(run(events, {"control-flow": 0.5}))


def test_ties_break_by_curriculum_order_then_skill_id() -> None:
    events = [*proficient("basics", 10), *proficient("control-flow", 12)]
    events += proficient("functions", 10)
    # Unknown skills count 10 exercises; "async" sorts before "regex".
    events += [*done("regex", 1), *done("async", 1)]
    recs = run(events)
    starts = [(r.skill_id, round(r.expected_gain, 9)) for r in recs if r.action is Action.START]
    # files and errors both have 8 exercises: the same gain, curriculum order.
    assert starts[:2] == [("files", 0.15), ("errors", 0.15)]
    practice = [r.skill_id for r in recs if r.skill_id in ("regex", "async")]
    assert practice == ["async", "regex"]
    assert [r.priority for r in recs] == list(range(1, len(recs) + 1))


def test_the_order_of_the_input_does_not_matter() -> None:
    events = [*proficient("basics", 10), *proficient("control-flow", 12), *done("regex", 2)]
    skills = skills_of(events)
    expected = recommend(skills, DEFAULT_CURRICULUM, CONFIG, {"basics": 0.7}, limit=20)
    shuffled = list(skills)
    random.Random(3).shuffle(shuffled)
    assert recommend(shuffled, DEFAULT_CURRICULUM, CONFIG, {"basics": 0.7}, limit=20) == expected


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_limit(limit: int) -> None:
    events = [*proficient("basics", 10), *proficient("control-flow", 12)]
    recs = run(events, {"basics": 0.5, "control-flow": 0.5}, limit=limit)
    assert len(recs) == limit
    assert [r.priority for r in recs] == list(range(1, limit + 1))


def test_actions_are_the_five_of_the_contract() -> None:
    assert {a.value for a in Action} == {"start", "practice", "quiz", "improve-quality", "review"}
