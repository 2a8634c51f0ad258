"""A student's latest quiz answers and failed attempts per skill: bounded windows whose merge
is order-free.

Per student x skill the store keeps the `RECENT_ANSWERS` latest quiz answers and the
`RECENT_FAILURES` latest failed attempts that name an error type, each ordered by
`occurred_at` with ties broken by event id. Merging two windows is a set union followed by a
cut to the latest K, which is commutative, associative and idempotent: arrival order and
re-deliveries change nothing, as for every other aggregate. The student's latest K answers
across skills are the latest K of the union of the skill windows (an answer among the K
latest overall is among the K latest of its own skill), so only the skill windows are kept.

Decayed win/fail sums with half-lives of minutes to hours are computed from a window at
prediction time; answers older than the window weigh little at such half-lives, and the
older counts are in the day buckets already. The struggle rules (repeated errors, low quiz
scores) read the same windows instead of every kept raw event.
"""

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from mastery_engine.core.instants import US_PER_SECOND

RECENT_ANSWERS = 5
RECENT_FAILURES = 10
US_PER_MINUTE = 60 * US_PER_SECOND


@dataclass(frozen=True, slots=True, order=True)
class Answer:
    """One quiz answer as the window keeps it (fields in the window's order)."""

    occurred_at: int
    event_id: str
    score: float


@dataclass(frozen=True, slots=True, order=True)
class Failure:
    """One failed attempt with an error type, as the window keeps it."""

    occurred_at: int
    event_id: str
    error_type: str


Window = tuple[Answer, ...]  # oldest first
Failures = tuple[Failure, ...]  # oldest first
M = TypeVar("M", Answer, Failure)


def latest(marks: Iterable[M], k: int = RECENT_ANSWERS) -> tuple[M, ...]:
    """The `k` latest distinct marks, oldest first."""
    return tuple(sorted(set(marks))[-k:])


def merged(window: tuple[M, ...], more: Iterable[M], k: int = RECENT_ANSWERS) -> tuple[M, ...]:
    """The window after adding some marks (in any order, repeats included)."""
    return latest(itertools.chain(window, more), k)


def up_to(window: tuple[M, ...], as_of: int) -> tuple[M, ...]:
    """The marks of a window that occurred at or before `as_of`."""
    if not window or window[-1].occurred_at <= as_of:
        return window
    return tuple(a for a in window if a.occurred_at <= as_of)


def across(windows: Mapping[str, Window], as_of: int, k: int = RECENT_ANSWERS) -> Window:
    """The student's latest `k` answers at or before `as_of`, over every skill."""
    return latest((a for w in windows.values() for a in up_to(w, as_of)), k)


def decayed(window: Window, as_of: int, half_life_minutes: float) -> tuple[float, float]:
    """(wins, fails) of the answers up to `as_of`, each weighing 2 ** -(age / half-life)."""
    rate = math.log(2.0) / (half_life_minutes * US_PER_MINUTE)
    kept = up_to(window, as_of)
    weights = [math.exp(-(as_of - a.occurred_at) * rate) for a in kept]
    wins = math.fsum(w * a.score for w, a in zip(weights, kept, strict=True))
    fails = math.fsum(w * (1.0 - a.score) for w, a in zip(weights, kept, strict=True))
    return wins, fails
