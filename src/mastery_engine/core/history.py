"""Daily mastery series, folded incrementally (one pass over the buckets, not one per day)."""

import math
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from mastery_engine.core.aggregates import Component, StudentAggregates
from mastery_engine.core.curriculum import Curriculum
from mastery_engine.core.formula import Components, FormulaConfig, Level, combine, level_of
from mastery_engine.core.instants import end_of_day
from mastery_engine.core.moments import Moments, weighted


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """Mastery of a skill at the end of one UTC day."""

    day: int
    mastery: float
    level: Level
    components: Components


def _means(
    days: Mapping[int, Moments], first: int, last: int, cfg: FormulaConfig
) -> Iterator[float]:
    """The recency-weighted mean at the end of each day from `first` to `last`."""
    buckets = [bucket for bucket in weighted(days, cfg.series) if bucket[0] <= last]
    num = den = 0.0
    ref: int | None = None
    i = 0
    for day in range(first, last + 1):
        while i < len(buckets) and buckets[i][0] <= day:
            bucket_day, _, w, s = buckets[i]
            if ref is not None:
                # Rescale to the newest bucket so weights never overflow or underflow.
                scale = math.pow(2.0, (ref - bucket_day) / cfg.half_life_days)
                num, den = num * scale, den * scale
            ref = bucket_day
            den += w
            num += s
            i += 1
        yield num / den if ref is not None and den > 0 else 0.0


def history(
    aggregates: StudentAggregates,
    skill_id: str,
    days: range,
    curriculum: Curriculum,
    config: FormulaConfig,
) -> list[HistoryPoint]:
    """Mastery at the end of each UTC day of `days` (a step-1 range of day numbers)."""
    first_day, last_day = days.start, days.stop - 1
    exercises = curriculum.exercise_count(skill_id)
    firsts = sorted(aggregates.completions.get(skill_id, {}).values())
    quiz, quality = (
        _means(aggregates.scores.get((skill_id, c), {}), first_day, last_day, config)
        for c in (Component.QUIZ, Component.QUALITY)
    )
    window = config.window_days
    points = []
    for day, q, r in zip(range(first_day, last_day + 1), quiz, quality, strict=True):
        completed = bisect_right(firsts, end_of_day(day))
        active = sum(1 for d in range(day - window + 1, day + 1) if d in aggregates.active)
        components = Components(min(1.0, completed / exercises), q, r, active / window)
        mastery = combine(components, config.weights)
        points.append(HistoryPoint(day, mastery, level_of(mastery), components))
    return points
