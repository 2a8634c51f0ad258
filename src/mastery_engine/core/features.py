"""The next-answer model's inputs, from a student's aggregates as of an instant.

In the spirit of PFA and Best-LR (Gervet et al., 2020):

- a bias (the skill's difficulty) and a flag for a skill never quizzed before;
- log(1 + wins) and log(1 + fails) on the skill, and over every skill of the student;
- the same counts recency-weighted: an observation at time t weighs v ** p, with
  v = (t - first) / (as_of - first) and `first` the first event of the skill (or of the
  student), so what happened lately counts most, whatever the pace of the student;
- (version 2) what happened in the last minutes and hours: log(1 + decayed wins / fails),
  each answer weighing 2 ** -(age / half-life), on the skill (half-lives 2 and 10 minutes,
  from the skill's window of latest answers) and over the student (5 minutes, 30 minutes,
  2 hours, from the student's latest answers across skills); see `recent`, and
  docs/research/next-answer-features.md for how the set and half-lives were chosen.

A win is the score, a fail 1 - score. The counts come from the quiz day buckets: the
weighted sums are exact from their power moments, since (c + x) ** p expands into
C(p, j) c ** (p - j) x ** j. Cost: O(days with quizzes) plus O(K) for the decayed sums.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mastery_engine.core.aggregates import Component, ScoreKey, StudentAggregates
from mastery_engine.core.events import EventType
from mastery_engine.core.instants import US_PER_DAY, day_of
from mastery_engine.core.moments import Moments
from mastery_engine.core.recent import Window, across, decayed

V1_FEATURES = (
    "bias",
    "skill_new",
    "skill_wins",
    "skill_fails",
    "student_wins",
    "student_fails",
    "skill_recent_wins",
    "skill_recent_fails",
    "student_recent_wins",
    "student_recent_fails",
)
SKILL_HALF_LIVES = (("2m", 2.0), ("10m", 10.0))  # (name, minutes)
STUDENT_HALF_LIVES = (("5m", 5.0), ("30m", 30.0), ("2h", 120.0))
FEATURES = (
    *V1_FEATURES,
    *(f"skill_decay_{name}_{side}" for name, _ in SKILL_HALF_LIVES for side in ("wins", "fails")),
    *(
        f"student_decay_{name}_{side}"
        for name, _ in STUDENT_HALF_LIVES
        for side in ("wins", "fails")
    ),
)
DEFAULT_POWER = 2
MAX_POWER = 4  # higher powers lose precision on buckets only minutes long


@dataclass(frozen=True, slots=True)
class Tally:
    """Wins and fails of some quiz observations, plain and recency-weighted."""

    count: int = 0
    wins: float = 0.0
    fails: float = 0.0
    recent_wins: float = 0.0
    recent_fails: float = 0.0


def _tally(buckets: Sequence[tuple[int, Moments]], as_of: int, first: int, power: int) -> Tally:
    """The counts of (day, moments) buckets, weighting each observation by v ** power."""
    span = (as_of - first) / US_PER_DAY
    count, wins, weight, weighted_wins = 0, 0.0, 0.0, 0.0
    for day, moments in buckets:
        count += moments.n
        wins += moments.s[0]
        if span <= 0:  # everything happened at `as_of`: all equally recent
            weight, weighted_wins = weight + moments.n, weighted_wins + moments.s[0]
            continue
        # The bucket's noon, in days after `first`; observations sit at c + x.
        c = ((day * US_PER_DAY + US_PER_DAY // 2) - first) / US_PER_DAY
        terms = [math.comb(power, j) * c ** (power - j) for j in range(power + 1)]
        weight += sum(t * w for t, w in zip(terms, moments.w, strict=False)) / span**power
        weighted_wins += sum(t * s for t, s in zip(terms, moments.s, strict=False)) / span**power
    return Tally(
        count,
        max(wins, 0.0),
        max(count - wins, 0.0),
        max(weighted_wins, 0.0),
        max(weight - weighted_wins, 0.0),
    )


def _later(aggregates: StudentAggregates, as_of: int) -> dict[str, Moments]:
    """Per skill, the quiz observations of `as_of`'s day that came after it (the tail)."""
    later: dict[str, Moments] = {}
    for event in aggregates.tail:
        score = event.score
        if (
            event.type is EventType.QUIZ_GRADED
            and event.skill_id is not None
            and score is not None
            and as_of < event.occurred_at
            and day_of(event.occurred_at) == day_of(as_of)
        ):
            moments = Moments.of(event.occurred_at, score)
            later[event.skill_id] = later.get(event.skill_id, Moments()) + moments
    return later


def _buckets(
    aggregates: StudentAggregates, key: ScoreKey, as_of: int, later: Mapping[str, Moments]
) -> list[tuple[int, Moments]]:
    """The skill's quiz buckets up to `as_of` (its own day without the tail)."""
    last_day = day_of(as_of)
    found = []
    for day, moments in aggregates.scores.get(key, {}).items():
        if day < last_day:
            found.append((day, moments))
        elif day == last_day:
            kept = moments - later[key[0]] if key[0] in later else moments
            if kept.n > 0:
                found.append((day, kept))
    return found


def _student_tally(aggregates: StudentAggregates, as_of: int, power: int) -> Tally:
    """Counts over every skill of the student, computed once per snapshot and instant."""
    # One entry, for the latest instant: a cached snapshot is asked about a new instant on
    # every request, and keeping them all would grow without bound.
    memo_key = ("prediction.student", power)
    found: tuple[int, Tally] | None = aggregates.memo.get(memo_key)
    if found is not None and found[0] == as_of:
        return found[1]
    starts = [at for at in aggregates.active.values() if at <= as_of]
    tally = Tally()
    if starts:
        later = _later(aggregates, as_of)
        buckets = [
            bucket
            for key in aggregates.scores
            if key[1] is Component.QUIZ
            for bucket in _buckets(aggregates, key, as_of, later)
        ]
        tally = _tally(buckets, as_of, min(starts), power)
    aggregates.memo[memo_key] = (as_of, tally)
    return tally


def _decays(window: Window, as_of: int, half_lives: tuple[tuple[str, float], ...]) -> list[float]:
    """log(1 + decayed wins), log(1 + decayed fails) for each half-life, in FEATURES order."""
    found = []
    for _, minutes in half_lives:
        wins, fails = decayed(window, as_of, minutes)
        found += [math.log1p(wins), math.log1p(fails)]
    return found


def _student_decays(aggregates: StudentAggregates, as_of: int) -> list[float]:
    """The student's decayed sums, computed once per snapshot and instant (as the tally)."""
    memo_key = "prediction.student_decays"
    found: tuple[int, list[float]] | None = aggregates.memo.get(memo_key)
    if found is not None and found[0] == as_of:
        return found[1]
    values = _decays(across(aggregates.recent, as_of), as_of, STUDENT_HALF_LIVES)
    aggregates.memo[memo_key] = (as_of, values)
    return values


NO_DECAYS = [0.0] * (2 * (len(SKILL_HALF_LIVES) + len(STUDENT_HALF_LIVES)))


def features(
    aggregates: StudentAggregates | None, skill_id: str, as_of: int, power: int = DEFAULT_POWER
) -> tuple[float, ...]:
    """The model's inputs, in the order of FEATURES, from events at or before `as_of`."""
    skill, student = Tally(), Tally()
    decays = NO_DECAYS
    if aggregates is not None:
        first = aggregates.skills.get(skill_id)
        if first is not None and first <= as_of:
            key = (skill_id, Component.QUIZ)
            buckets = _buckets(aggregates, key, as_of, _later(aggregates, as_of))
            skill = _tally(buckets, as_of, first, power)
        student = _student_tally(aggregates, as_of, power)
        window = aggregates.recent.get(skill_id, ())
        decays = _decays(window, as_of, SKILL_HALF_LIVES) + _student_decays(aggregates, as_of)
    log = math.log1p
    return (
        1.0,
        1.0 if skill.count == 0 else 0.0,
        log(skill.wins),
        log(skill.fails),
        log(student.wins),
        log(student.fails),
        log(skill.recent_wins),
        log(skill.recent_fails),
        log(student.recent_wins),
        log(student.recent_fails),
        *decays,
    )
