"""Per-day aggregates of a student's events. Every merge is a sum, a min or a union.

Scores are kept per student x skill x UTC day as power moments (see `moments`), so the
half-life can change without recomputing anything, and the buckets stay plain sums.
"""

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, TypeVar

from mastery_engine.core.events import Event, EventType
from mastery_engine.core.instants import day_of
from mastery_engine.core.moments import DayBuckets, Moments
from mastery_engine.core.recent import (
    RECENT_FAILURES,
    Answer,
    Failure,
    Failures,
    Window,
    merged,
)

SCORE_DAYS = ("score days",)  # memo key


class Component(StrEnum):
    """The four components of the mastery formula."""

    COMPLETION = "completion"
    QUIZ = "quiz"
    QUALITY = "quality"
    CONSISTENCY = "consistency"


SCORE_COMPONENTS = {
    EventType.QUIZ_GRADED: Component.QUIZ,
    EventType.CODE_REVIEWED: Component.QUALITY,
}


@dataclass(frozen=True, slots=True)
class ScoreDelta:
    """Adds one observation to `(skill, component, day)`."""

    skill_id: str
    component: Component
    day: int
    moments: Moments


@dataclass(frozen=True, slots=True)
class CompletionDelta:
    """Records an exercise as completed; the earliest completion time wins."""

    skill_id: str
    exercise_id: str
    first_at: int


@dataclass(frozen=True, slots=True)
class ActivityDelta:
    """Marks a UTC day active; the earliest event time of the day wins."""

    day: int
    first_at: int


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one event adds to the aggregates of its student."""

    activity: ActivityDelta
    skill_id: str | None = None
    score: ScoreDelta | None = None
    completion: CompletionDelta | None = None
    answer: Answer | None = None  # a quiz answer, for the skill's window of latest answers
    failure: Failure | None = None  # a failed attempt with an error type, for its window


def scored(event: Event) -> bool:
    """Whether an event adds to a score bucket (a quiz or review event with skill and score)."""
    return event.type in SCORE_COMPONENTS and event.skill_id is not None and event.score is not None


def scored_instants(events: Iterable[Event]) -> list[int]:
    """When each scored event of these occurred."""
    return [event.occurred_at for event in events if scored(event)]


def contribution(event: Event) -> Contribution:
    """The aggregate changes an event causes (independent of any other event)."""
    activity = ActivityDelta(day_of(event.occurred_at), event.occurred_at)
    if scored(event):
        component = SCORE_COMPONENTS[event.type]
        assert event.skill_id is not None and event.score is not None
        moments = Moments.of(event.occurred_at, event.score)
        delta = ScoreDelta(event.skill_id, component, day_of(event.occurred_at), moments)
        answer = None
        if component is Component.QUIZ:
            answer = Answer(event.occurred_at, event.id, event.score)
        return Contribution(activity, event.skill_id, score=delta, answer=answer)
    if event.type is EventType.EXERCISE_ATTEMPTED and event.skill_id is not None:
        error = event.data.get("error_type")
        if event.data.get("passed") is False and isinstance(error, str):
            failure = Failure(event.occurred_at, event.id, error)
            return Contribution(activity, event.skill_id, failure=failure)
    if event.type is EventType.EXERCISE_COMPLETED and event.skill_id is not None:
        done = CompletionDelta(event.skill_id, str(event.data["exercise_id"]), event.occurred_at)
        return Contribution(activity, event.skill_id, completion=done)
    return Contribution(activity, event.skill_id)


ScoreKey = tuple[str, Component]
_K = TypeVar("_K")


@dataclass(frozen=True)
class StudentAggregates:
    """Everything the formula needs about one student, as a store returns it.

    `scores` holds each skill and component's buckets by day: `DayBuckets` (compact, for
    the snapshot caches) when read back from a database, plain dicts from `AggregateBuilder`.
    `tail` holds the raw events of the `as_of` day that occurred after `as_of`: they are in
    that day's buckets and are taken out again when the formula is evaluated mid-day.
    `recent` holds each skill's window of latest quiz answers, `failures` its window of
    latest failed attempts (see `recent`).
    """

    scores: Mapping[ScoreKey, Mapping[int, Moments]] = field(default_factory=dict)
    completions: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    active: Mapping[int, int] = field(default_factory=dict)
    skills: Mapping[str, int] = field(default_factory=dict)
    tail: tuple[Event, ...] = ()
    recent: Mapping[str, Window] = field(default_factory=dict)
    failures: Mapping[str, Failures] = field(default_factory=dict)
    # Derived values the formula computes once per snapshot (shared by `with_tail` copies).
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_empty(self) -> bool:
        """True when the student has no event at all in these aggregates."""
        return not self.active

    def scores_on(self, day: int) -> bool:
        """True when some quiz or review bucket falls on this UTC day."""
        days: array[int] | None = self.memo.get(SCORE_DAYS)
        if days is None:
            every = {d for buckets in self.scores.values() for d in buckets}
            days = self.memo[SCORE_DAYS] = array("q", sorted(every))
        i = bisect_left(days, day)
        return i < len(days) and days[i] == day

    def with_tail(self, tail: tuple[Event, ...]) -> "StudentAggregates":
        """The same snapshot with the raw events that follow a mid-day `as_of`."""
        return replace(self, tail=tail) if tail or self.tail else self

    def skill_ids(self, as_of: int) -> set[str]:
        """Skills with at least one event at or before `as_of`."""
        return {skill for skill, first_at in self.skills.items() if first_at <= as_of}


class AggregateBuilder:
    """Mutable aggregates of one student; `add` is commutative and `freeze` snapshots."""

    def __init__(self) -> None:
        self.scores: dict[ScoreKey, dict[int, Moments]] = {}
        self.completions: dict[str, dict[str, int]] = {}
        self.active: dict[int, int] = {}
        self.skills: dict[str, int] = {}
        self.recent: dict[str, Window] = {}
        self.failures: dict[str, Failures] = {}

    def add(self, item: Contribution) -> None:
        """Merge one contribution: sums for scores, minimum times for everything else."""
        _keep_min(self.active, item.activity.day, item.activity.first_at)
        if item.skill_id is not None:
            _keep_min(self.skills, item.skill_id, item.activity.first_at)
        if item.score is not None:
            days = self.scores.setdefault((item.score.skill_id, item.score.component), {})
            days[item.score.day] = days.get(item.score.day, Moments()) + item.score.moments
        if item.completion is not None:
            done = self.completions.setdefault(item.completion.skill_id, {})
            _keep_min(done, item.completion.exercise_id, item.completion.first_at)
        if item.answer is not None and item.skill_id is not None:
            self.recent[item.skill_id] = merged(self.recent.get(item.skill_id, ()), [item.answer])
        if item.failure is not None and item.skill_id is not None:
            known = self.failures.get(item.skill_id, ())
            self.failures[item.skill_id] = merged(known, [item.failure], RECENT_FAILURES)

    def freeze(self) -> StudentAggregates:
        """An immutable snapshot (copies, so later `add` calls do not show through)."""
        return StudentAggregates(
            {key: dict(days) for key, days in self.scores.items()},
            {skill: dict(done) for skill, done in self.completions.items()},
            dict(self.active),
            dict(self.skills),
            recent=dict(self.recent),
            failures=dict(self.failures),
        )


def _keep_min(target: dict[_K, int], key: _K, value: int) -> None:
    current = target.get(key)
    if current is None or value < current:
        target[key] = value


def fold(contributions: Iterable[Contribution]) -> StudentAggregates:
    """Aggregates of a sequence of contributions, in any order."""
    builder = AggregateBuilder()
    for item in contributions:
        builder.add(item)
    return builder.freeze()


def extended(base: StudentAggregates, items: Iterable[Contribution]) -> StudentAggregates:
    """`base` with more contributions merged in, as a store holds it after applying them.

    Each bucket is base + the contributions' own sum, the order a store adds them in, so the
    result is bit for bit what reading the store back gives. Untouched parts are shared.
    """
    delta = fold(items)
    scores = dict(base.scores)
    for key, days in delta.scores.items():
        known = scores.get(key, {})
        packed = known if isinstance(known, DayBuckets) else DayBuckets.of(known)
        scores[key] = packed.plus(days)
    completions = dict(base.completions)
    for skill, done in delta.completions.items():
        completions[skill] = _min_merged(completions.get(skill, {}), done)
    recent = dict(base.recent)
    for skill, window in delta.recent.items():
        recent[skill] = merged(recent.get(skill, ()), window)
    failures = dict(base.failures)
    for skill, failed in delta.failures.items():
        failures[skill] = merged(failures.get(skill, ()), failed, RECENT_FAILURES)
    return StudentAggregates(
        scores,
        completions,
        _min_merged(base.active, delta.active),
        _min_merged(base.skills, delta.skills),
        recent=recent,
        failures=failures,
    )


def _min_merged(base: Mapping[_K, int], more: Mapping[_K, int]) -> dict[_K, int]:
    merged = dict(base)
    for key, value in more.items():
        _keep_min(merged, key, value)
    return merged
