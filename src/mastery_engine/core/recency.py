"""Recency-weighted means over day buckets of score moments.

`recency_mean` folds the buckets directly; `ScoreSeries` compiles them once into prefix
sums, so a snapshot answers any `as_of` with a binary search. Both give the same value.
"""

import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from operator import mul
from typing import NamedTuple

from mastery_engine.core.instants import day_of
from mastery_engine.core.moments import Moments, day_offset, weighted

# Below this a prefix's weights have underflowed; fold those buckets directly instead.
TINY = 1e-290


class RecencyMean(NamedTuple):
    """A recency-weighted mean as numerator and denominator relative to `ref_day`."""

    n: int
    num: float
    den: float
    ref_day: int

    @property
    def value(self) -> float:
        """The mean; 0 when there is no observation."""
        return self.num / self.den if self.n > 0 and self.den > 0 else 0.0

    def adding(self, at_us: int, score: float, half_life_days: float) -> float:
        """The mean if one more observation `score` arrived at `at_us`."""
        day = day_of(at_us)
        ref = max(self.ref_day, day) if self.n > 0 else day
        # Rescale to the newer reference so no weight can overflow; old ones may underflow to 0.
        scale = math.pow(2.0, (self.ref_day - ref) / half_life_days)
        weight = math.pow(2.0, (day - ref + day_offset(at_us)) / half_life_days)
        return (self.num * scale + weight * score) / (self.den * scale + weight)


def recency_mean(
    days: Mapping[int, Moments],
    as_of: int,
    series: tuple[float, ...],
    half_life_days: float,
    tail: Moments | None = None,
) -> RecencyMean:
    """Fold day buckets up to `as_of`, taking `tail` (later the same day) out again."""
    last_day = day_of(as_of)
    kept = []
    for day, moments in days.items():
        if day > last_day:
            continue
        if tail is not None and day == last_day:
            moments = moments - tail  # noqa: PLW2901 - the as_of day loses its later events
        if moments.n > 0:
            kept.append((day, moments))
    if not kept:
        return RecencyMean(0, 0.0, 0.0, last_day)
    ref = max(day for day, _ in kept)
    n, num, den = 0, 0.0, 0.0
    for day, moments in kept:
        factor = 1.0 if day == ref else math.pow(2.0, (day - ref) / half_life_days)
        n += moments.n
        den += factor * sum(map(mul, series, moments.w))
        num += factor * sum(map(mul, series, moments.s))
    return RecencyMean(n, num, den, ref)


@dataclass(frozen=True, slots=True)
class ScoreSeries:
    """Prefix sums of one skill-component's buckets, weights relative to the newest day."""

    buckets: Mapping[int, Moments]
    series: tuple[float, ...]
    half_life_days: float
    days: tuple[int, ...]
    counts: tuple[int, ...]
    nums: tuple[float, ...]
    dens: tuple[float, ...]

    @classmethod
    def build(
        cls, buckets: Mapping[int, Moments], series: tuple[float, ...], half_life_days: float
    ) -> "ScoreSeries":
        """Compile the buckets for one half-life (its in-day series coefficients)."""
        ordered = list(weighted(buckets, series))
        ref = ordered[-1][0] if ordered else 0
        counts, nums, dens = [0], [0.0], [0.0]
        for day, n, den, num in ordered:
            factor = math.pow(2.0, (day - ref) / half_life_days)
            counts.append(counts[-1] + n)
            nums.append(nums[-1] + factor * num)
            dens.append(dens[-1] + factor * den)
        days = tuple(d for d, _, _, _ in ordered)
        return cls(buckets, series, half_life_days, days, tuple(counts), tuple(nums), tuple(dens))

    def mean(self, as_of: int, tail: Moments | None = None) -> RecencyMean:
        """The mean of every observation up to `as_of` (`tail`: that day's later ones)."""
        last_day = day_of(as_of)
        k = bisect_right(self.days, last_day)
        if k == 0:
            return RecencyMean(0, 0.0, 0.0, last_day)
        if (tail is not None and self.days[k - 1] == last_day) or self.dens[k] < TINY:
            return recency_mean(self.buckets, as_of, self.series, self.half_life_days, tail)
        return RecencyMean(self.counts[k], self.nums[k], self.dens[k], self.days[-1])


# The series of a skill and component without any bucket: every `as_of` has no observation,
# whatever the half-life, so all snapshots share it instead of each compiling its own.
NO_SCORES = ScoreSeries.build({}, (), 1.0)
