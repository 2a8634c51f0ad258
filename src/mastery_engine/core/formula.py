"""The mastery formula of the product contract, its levels and its configuration."""

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from mastery_engine.core.aggregates import SCORE_COMPONENTS, Component, StudentAggregates
from mastery_engine.core.curriculum import Curriculum
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.instants import day_of
from mastery_engine.core.moments import MOMENTS, Moments
from mastery_engine.core.recency import NO_SCORES, RecencyMean, ScoreSeries

MIN_HALF_LIFE_DAYS = 1.0


class Level(StrEnum):
    """Mastery levels, on p = round(100 * mastery, 6)."""

    BEGINNER = "Beginner"
    LEARNING = "Learning"
    PROFICIENT = "Proficient"
    MASTERED = "Mastered"


LEVEL_CEILINGS = ((40.0, Level.BEGINNER), (70.0, Level.LEARNING), (90.0, Level.PROFICIENT))


def level_of(mastery: float) -> Level:
    """The level of a mastery value: p <= 40 Beginner, <= 70 Learning, <= 90 Proficient."""
    p = round(100.0 * mastery, 6)
    for ceiling, level in LEVEL_CEILINGS:
        if p <= ceiling:
            return level
    return Level.MASTERED


@dataclass(frozen=True, slots=True)
class Weights:
    """Weights of the four components; non-negative and summing to 1."""

    completion: float = 0.4
    quiz: float = 0.3
    quality: float = 0.2
    consistency: float = 0.1

    def __post_init__(self) -> None:
        for name in Component:
            value = getattr(self, name.value)
            if not math.isfinite(value) or value < 0:
                raise InvalidConfig(
                    f"weight {name.value} must be a non-negative number, got {value!r}",
                    field=f"weights.{name.value}",
                )
        total = sum(getattr(self, name.value) for name in Component)
        if abs(total - 1.0) > 1e-9:
            raise InvalidConfig(f"weights must sum to 1, they sum to {total:g}", field="weights")

    def of(self, component: Component) -> float:
        """The weight of one component."""
        return float(getattr(self, component.value))


@dataclass(frozen=True, slots=True)
class FormulaConfig:
    """Tunable parts of the formula; the defaults are the product contract."""

    weights: Weights = field(default_factory=Weights)
    half_life_days: float = 30.0
    window_days: int = 14
    series: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not math.isfinite(self.half_life_days) or self.half_life_days < MIN_HALF_LIFE_DAYS:
            raise InvalidConfig(
                f"half_life_days must be >= {MIN_HALF_LIFE_DAYS:g}, got {self.half_life_days!r}",
                field="half_life_days",
            )
        if not 1 <= self.window_days <= 366:
            raise InvalidConfig(
                f"window_days must be between 1 and 366, got {self.window_days!r}",
                field="window_days",
            )
        # Coefficients (a**k / k!) turning moments into recency weights within a day.
        a = math.log(2.0) / self.half_life_days
        series = tuple(a**k / math.factorial(k) for k in range(MOMENTS))
        object.__setattr__(self, "series", series)


class Components(NamedTuple):
    """The four component values, each in [0, 1]."""

    completion: float
    quiz: float
    quality: float
    consistency: float

    def of(self, component: Component) -> float:
        """The value of one component."""
        return float(getattr(self, component.value))


class Evidence(NamedTuple):
    """The counts behind the components, for explanations."""

    completed: int
    exercises: int
    quiz: RecencyMean
    quality: RecencyMean
    active_days: int
    window_days: int
    active_on_as_of: bool


class SkillMastery(NamedTuple):
    """Mastery of one skill at one instant."""

    skill_id: str
    as_of: int
    mastery: float
    level: Level
    components: Components
    evidence: Evidence


def combine(components: Components, weights: Weights) -> float:
    """The weighted sum, clamped to [0, 1] against floating-point noise."""
    total = (
        weights.completion * components.completion
        + weights.quiz * components.quiz
        + weights.quality * components.quality
        + weights.consistency * components.consistency
    )
    return min(1.0, max(0.0, total))


@dataclass(frozen=True, slots=True)
class _Student:
    """What every skill of one student shares at one instant."""

    tails: dict[tuple[str, Component], Moments]
    active_days: int
    active_today: bool

    @classmethod
    def at(cls, aggregates: StudentAggregates, as_of: int, window_days: int) -> "_Student":
        today = day_of(as_of)
        tails: dict[tuple[str, Component], Moments] = {}
        for event in aggregates.tail:
            component = SCORE_COMPONENTS.get(event.type)
            if component is None or event.skill_id is None or event.score is None:
                continue
            if as_of < event.occurred_at and day_of(event.occurred_at) == today:
                key = (event.skill_id, component)
                tails[key] = tails.get(key, Moments()) + Moments.of(event.occurred_at, event.score)
        days = _sorted(aggregates, ("active",), aggregates.active)
        # Only `as_of`'s own day can hold its first event after `as_of`.
        active_today = aggregates.active.get(today, as_of + 1) <= as_of
        in_window = bisect_right(days, today) - bisect_right(days, today - window_days)
        late_today = today in aggregates.active and not active_today
        return cls(tails, in_window - late_today, active_today)


def _sorted(
    aggregates: StudentAggregates, key: tuple[str, ...], values: Iterable[int]
) -> list[int]:
    """`values` sorted, computed once per snapshot, for counting with a binary search."""
    found: list[int] | None = aggregates.memo.get(key)
    if found is None:
        found = aggregates.memo[key] = sorted(values)
    return found


def _series(
    aggregates: StudentAggregates, skill_id: str, component: Component, config: FormulaConfig
) -> ScoreSeries:
    """The compiled score series of a snapshot, built once per half-life."""
    days = aggregates.scores.get((skill_id, component))
    if days is None:
        return NO_SCORES
    key = (skill_id, component, config.half_life_days)
    series: ScoreSeries | None = aggregates.memo.get(key)
    if series is None:
        series = ScoreSeries.build(days, config.series, config.half_life_days)
        aggregates.memo[key] = series
    return series


def _evaluate(
    aggregates: StudentAggregates,
    student: _Student,
    skill_id: str,
    as_of: int,
    rules: tuple[Curriculum, FormulaConfig],
) -> SkillMastery:
    curriculum, config = rules
    exercises = curriculum.exercise_count(skill_id)
    done = aggregates.completions.get(skill_id, {})
    completed = bisect_right(_sorted(aggregates, ("done", skill_id), done.values()), as_of)
    tails = student.tails
    quiz = _series(aggregates, skill_id, Component.QUIZ, config).mean(
        as_of, tails.get((skill_id, Component.QUIZ)) if tails else None
    )
    quality = _series(aggregates, skill_id, Component.QUALITY, config).mean(
        as_of, tails.get((skill_id, Component.QUALITY)) if tails else None
    )
    components = Components(
        completion=min(1.0, completed / exercises),
        quiz=quiz.value,
        quality=quality.value,
        consistency=student.active_days / config.window_days,
    )
    mastery = combine(components, config.weights)
    evidence = Evidence(
        completed,
        exercises,
        quiz,
        quality,
        student.active_days,
        config.window_days,
        student.active_today,
    )
    return SkillMastery(skill_id, as_of, mastery, level_of(mastery), components, evidence)


def evaluate(
    aggregates: StudentAggregates,
    skill_id: str,
    as_of: int,
    curriculum: Curriculum,
    config: FormulaConfig,
) -> SkillMastery:
    """Mastery of one skill using only events with occurred_at <= as_of."""
    student = _Student.at(aggregates, as_of, config.window_days)
    return _evaluate(aggregates, student, skill_id, as_of, (curriculum, config))


def evaluate_student(
    aggregates: StudentAggregates, as_of: int, curriculum: Curriculum, config: FormulaConfig
) -> list[SkillMastery]:
    """Every curriculum skill, then any other skill the student has events for."""
    extra = sorted(aggregates.skill_ids(as_of) - set(curriculum.skill_ids))
    student = _Student.at(aggregates, as_of, config.window_days)
    rules = (curriculum, config)
    return [
        _evaluate(aggregates, student, skill, as_of, rules)
        for skill in (*curriculum.skill_ids, *extra)
    ]
