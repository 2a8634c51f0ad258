"""A student's latest quiz answers per skill: a bounded window whose merge is order-free.

Per student x skill the store keeps the `RECENT_ANSWERS` latest answers, ordered by
`occurred_at` with ties broken by event id. Merging two windows is a set union followed by a
cut to the latest K, which is commutative, associative and idempotent: arrival order and
re-deliveries change nothing, as for every other aggregate. The student's latest K answers
across skills are the latest K of the union of the skill windows (an answer among the K
latest overall is among the K latest of its own skill), so only the skill windows are kept.

Decayed win/fail sums with half-lives of minutes to hours are computed from a window at
prediction time; answers older than the window weigh little at such half-lives, and the
older counts are in the day buckets already.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mastery_engine.core.instants import US_PER_SECOND

RECENT_ANSWERS = 5
US_PER_MINUTE = 60 * US_PER_SECOND


@dataclass(frozen=True, slots=True, order=True)
class Answer:
    """One quiz answer as the window keeps it (fields in the window's order)."""

    occurred_at: int
    event_id: str
    score: float


Window = tuple[Answer, ...]  # oldest first


def latest(answers: Iterable[Answer], k: int = RECENT_ANSWERS) -> Window:
    """The `k` latest distinct answers, oldest first."""
    return tuple(sorted(set(answers))[-k:])


def merged(window: Window, more: Iterable[Answer], k: int = RECENT_ANSWERS) -> Window:
    """The window after adding some answers (in any order, repeats included)."""
    return latest((*window, *more), k)


def up_to(window: Window, as_of: int) -> Window:
    """The answers of a window that occurred at or before `as_of`."""
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
