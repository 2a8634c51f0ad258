"""How quickly a student forgets a skill: an FSRS-6 memory model over daily quiz buckets.

Each UTC day with quiz scores of a skill is one review: its mean score becomes a rating
(again / hard / good / easy) and its mean time of day the review time. Replaying those days
in date order gives a stability S (days for retrievability to fall to 90 %) and a difficulty
D; retrievability t days after the last review is the FSRS-6 power curve

    R(t) = (1 + F t / S) ** -d,      F = 0.9 ** (-1 / d) - 1

The buckets are sums, so the state depends only on the set of events, not their order.
Unlike the reference scheduler, elapsed time is fractional: a review later the same day
predicts below 1.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from mastery_engine.core.aggregates import Component, StudentAggregates
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.events import EventType
from mastery_engine.core.instants import US_PER_DAY, day_of
from mastery_engine.core.moments import Moments

# FSRS-6 default parameters (w0 .. w20), as published with the reference scheduler.
FSRS6_DEFAULTS = (
    0.212,
    1.2931,
    2.3065,
    8.2956,
    6.4133,
    0.8334,
    3.0194,
    0.001,
    1.8722,
    0.1666,
    0.796,
    1.4835,
    0.0614,
    0.2629,
    1.6483,
    0.6014,
    1.8729,
    0.5425,
    0.0912,
    0.0658,
    0.1542,
)
MIN_STABILITY = 0.001
MIN_DIFFICULTY, MAX_DIFFICULTY = 1.0, 10.0
AGAIN, HARD, GOOD, EASY = 1, 2, 3, 4
# Quiz score at or above each bound earns that rating; below the first is a lapse.
SCORE_BOUNDS = ((0.9, EASY), (0.7, GOOD), (0.5, HARD))


@dataclass(frozen=True, slots=True)
class MemoryParams:
    """The 21 FSRS-6 weights."""

    w: tuple[float, ...] = FSRS6_DEFAULTS

    @classmethod
    def from_json(cls, raw: object) -> "MemoryParams":
        """Weights from a JSON list; raise `InvalidConfig` saying what is wrong."""
        wanted = f"memory weights must be a list of {len(FSRS6_DEFAULTS)} finite numbers"
        if not isinstance(raw, list) or len(raw) != len(FSRS6_DEFAULTS):
            raise InvalidConfig(f"{wanted}, got {str(raw)[:60]}", field="memory.w")
        if not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in raw
        ):
            raise InvalidConfig(f"{wanted}, got {str(raw)[:60]}", field="memory.w")
        if not 0.0 < raw[-1] <= 1.0:
            raise InvalidConfig(f"the decay (last weight) must be in (0, 1], got {raw[-1]}")
        return cls(tuple(float(v) for v in raw))

    @property
    def decay(self) -> float:
        """The exponent d of the forgetting curve."""
        return self.w[20]

    @property
    def factor(self) -> float:
        """F, chosen so that R(S) = 0.9."""
        return float(0.9 ** (-1.0 / self.decay) - 1.0)


class MemoryState(NamedTuple):
    """Memory of one skill after its last review (times in days since the epoch)."""

    stability: float
    difficulty: float
    last_review: float
    reviews: int


def rating_of_score(score: float) -> int:
    """A quiz score in [0, 1] as an FSRS rating: < 0.5 again, < 0.7 hard, < 0.9 good, else easy."""
    for bound, rating in SCORE_BOUNDS:
        if score >= bound:
            return rating
    return AGAIN


def retrievability(state: MemoryState, at_days: float, params: MemoryParams) -> float:
    """Probability of recalling the skill at `at_days`."""
    elapsed = max(0.0, at_days - state.last_review)
    return float((1.0 + params.factor * elapsed / state.stability) ** -params.decay)


def _initial_difficulty(rating: int, w: tuple[float, ...]) -> float:
    return w[4] - math.exp(w[5] * (rating - 1)) + 1.0


def _next_difficulty(difficulty: float, rating: int, w: tuple[float, ...]) -> float:
    delta = -w[6] * (rating - 3)
    damped = difficulty + (10.0 - difficulty) * delta / 9.0
    reverted = w[7] * _initial_difficulty(EASY, w) + (1.0 - w[7]) * damped
    return min(MAX_DIFFICULTY, max(MIN_DIFFICULTY, reverted))


def _long_term_stability(s: float, d: float, r: float, rating: int, w: tuple[float, ...]) -> float:
    if rating == AGAIN:
        long_term = w[11] * d ** -w[12] * ((s + 1.0) ** w[13] - 1.0) * math.exp((1.0 - r) * w[14])
        return float(min(long_term, s / math.exp(w[17] * w[18])))
    bonus = (w[15] if rating == HARD else 1.0) * (w[16] if rating == EASY else 1.0)
    growth = math.exp(w[8]) * (11.0 - d) * s ** -w[9] * (math.exp((1.0 - r) * w[10]) - 1.0)
    return float(s * (1.0 + growth * bonus))


def _short_term_stability(s: float, rating: int, w: tuple[float, ...]) -> float:
    increase = math.exp(w[17] * (rating - 3 + w[18])) * s ** -w[19]
    if rating > AGAIN:
        increase = max(increase, 1.0)
    return float(s * increase)


def review(
    state: MemoryState | None, at_days: float, rating: int, params: MemoryParams
) -> MemoryState:
    """The memory after a review with `rating` (1 again .. 4 easy) at `at_days`."""
    w = params.w
    if state is None:
        difficulty = min(MAX_DIFFICULTY, max(MIN_DIFFICULTY, _initial_difficulty(rating, w)))
        return MemoryState(max(MIN_STABILITY, w[rating - 1]), difficulty, at_days, 1)
    s, d = state.stability, state.difficulty
    if at_days - state.last_review < 1.0:
        stability = _short_term_stability(s, rating, w)
    else:
        r = retrievability(state, at_days, params)
        stability = _long_term_stability(s, d, r, rating, w)
    return MemoryState(
        max(MIN_STABILITY, stability),
        _next_difficulty(d, rating, w),
        max(at_days, state.last_review),
        state.reviews + 1,
    )


def replay(sessions: Iterable[tuple[float, int]], params: MemoryParams) -> MemoryState | None:
    """The memory after reviews `(at_days, rating)`, taken in time order; None without any."""
    state = None
    for at_days, rating in sorted(sessions):
        state = review(state, at_days, rating, params)
    return state


def _day_review(day: int, moments: Moments) -> tuple[float, int]:
    mean_offset = moments.w[1] / moments.w[0]
    return day + 0.5 + mean_offset, rating_of_score(moments.s[0] / moments.w[0])


def day_reviews(
    aggregates: StudentAggregates, skill_id: str, as_of: int
) -> list[tuple[float, int]]:
    """The skill's reviews `(at_days, rating)` up to `as_of`, one per UTC day with quizzes."""
    last_day = day_of(as_of)
    later = Moments()
    for event in aggregates.tail:
        if (
            event.type is EventType.QUIZ_GRADED
            and event.skill_id == skill_id
            and as_of < event.occurred_at
            and day_of(event.occurred_at) == last_day
            and event.score is not None
        ):
            later = later + Moments.of(event.occurred_at, event.score)
    days: Mapping[int, Moments] = aggregates.scores.get((skill_id, Component.QUIZ), {})
    sessions = []
    for day, moments in days.items():
        kept = moments - later if day == last_day and later.n else moments
        if day <= last_day and kept.n > 0 and kept.w[0] > 0:
            sessions.append(_day_review(day, kept))
    return sorted(sessions)


def skill_memory(
    aggregates: StudentAggregates, skill_id: str, as_of: int, params: MemoryParams
) -> MemoryState | None:
    """The memory of a skill from its daily quiz buckets up to `as_of`; None before any quiz."""
    return replay(day_reviews(aggregates, skill_id, as_of), params)


def days_of(us: int) -> float:
    """An instant as fractional days since the epoch."""
    return us / US_PER_DAY
