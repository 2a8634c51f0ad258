"""When a skill will reach Proficient (> 0.70) and Mastered (> 0.90) at the student's pace.

The pace comes from the skill's daily mastery series (end-of-day values, one per day, oldest
first, the last one being the day of the forecast). Over the last `window_days` days since
the skill's own progress began (completion, quiz or quality above 0; the jump of its first
day included), the daily gains g_1 .. g_n have mean mu and standard deviation s. Mastery t
days ahead is taken as normal with mean m + mu t and variance s^2 (t + t^2 / n): daily noise
plus the uncertainty of mu itself. Mastery seldom falls, so the first day above a target is
read off that position:

    P(target exceeded within t days) = F((m + mu t - target) / (s sqrt(t + t^2 / n)))

with F Student's t with n - 1 degrees of freedom (s is estimated from n gains). The 80 %
interval is the pair of t where that probability is 0.1 and 0.9; the estimate is the t where
the mean path meets the target. Days are whole days after the last point (the first day at
whose end the value is above the target); an upper bound beyond `horizon_days` is None.

No forecast (None values and a `reason`) when the skill has no progress yet, fewer than
`min_days` daily gains since it began, no positive pace, or a target beyond the horizon.
`at_risk`: below Proficient, with enough data, and either no positive pace or `risk_days`
days or more expected to Proficient. The defaults were checked by `bench/recommend_sim.py`.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from statistics import NormalDist, fmean, stdev

from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.formula import Level
from mastery_engine.core.history import HistoryPoint

PROFICIENT, MASTERED = 0.70, 0.90
TAIL = 0.10  # each side of the 80 % interval
_BISECTIONS = 60
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class ForecastSettings:
    """How much history a forecast needs and uses, and when a skill counts as at risk."""

    min_days: int = 3
    window_days: int = 14
    horizon_days: int = 365
    risk_days: int = 30

    def __post_init__(self) -> None:
        for name in ("min_days", "window_days", "horizon_days", "risk_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise InvalidConfig(f"{name} must be an integer >= 2, got {value!r}", field=name)
        if self.window_days < self.min_days:
            raise InvalidConfig(
                f"window_days ({self.window_days}) must be >= min_days ({self.min_days})",
                field="window_days",
            )


@dataclass(frozen=True, slots=True)
class Estimate:
    """Whole days until a target is exceeded, with an 80 % interval (high None: open-ended)."""

    days: int
    low: int
    high: int | None


REACHED = Estimate(0, 0, 0)


@dataclass(frozen=True, slots=True)
class Pace:
    """Mean and standard deviation of the daily mastery gains over `days` days."""

    mean: float
    stdev: float
    days: int


@dataclass(frozen=True, slots=True)
class Forecast:
    """Days to Proficient and to Mastered (None with `reason` when unknown), and the risk."""

    skill_id: str
    mastery: float
    level: Level
    pace: Pace | None
    to_proficient: Estimate | None
    to_mastered: Estimate | None
    at_risk: bool
    reason: str | None = None


def above(mastery: float, target: float) -> bool:
    """True when mastery is above a level bound, on the formula's rounded percentage."""
    return round(100.0 * mastery, 6) > round(100.0 * target, 6)


def _progressed(point: HistoryPoint) -> bool:
    c = point.components
    return c.completion > 0 or c.quiz > 0 or c.quality > 0


def pace_of(points: Sequence[HistoryPoint], settings: ForecastSettings) -> Pace | str:
    """The recent pace since the skill's progress began, or why there is none."""
    started = next((i for i, p in enumerate(points) if _progressed(p)), None)
    if started is None:
        return "no progress on this skill yet"
    base = max(started - 1, 0, len(points) - 1 - settings.window_days)
    gains = [b.mastery - a.mastery for a, b in pairwise(points[base:])]
    if len(gains) < settings.min_days:
        return f"too little data: {len(gains)} of the {settings.min_days} days a forecast needs"
    return Pace(fmean(gains), stdev(gains), len(gains))


def student_t_quantile(p: float, freedom: int) -> float:
    """Quantile of Student's t (Cornish-Fisher expansion; within 2 % for 2+ degrees)."""
    z = NormalDist().inv_cdf(p)
    v = float(freedom)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def _whole_days(t: float) -> int:
    """The first whole day at whose end a path meeting the target at t is above it."""
    return math.floor(t + _EPSILON) + 1


def _time_at(probability: float, gap: float, pace: Pace, horizon: float) -> float | None:
    """The t where P(target exceeded within t) = `probability`; None beyond the horizon."""
    q = student_t_quantile(probability, pace.days - 1)

    def score(t: float) -> float:  # increases with t
        return (pace.mean * t - gap) / (pace.stdev * math.sqrt(t + t * t / pace.days))

    if score(horizon) < q:
        return None
    low, high = 0.0, horizon
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        low, high = (middle, high) if score(middle) < q else (low, middle)
    return high


def estimate(mastery: float, target: float, pace: Pace, horizon_days: int) -> Estimate | None:
    """Days until `mastery` exceeds `target` at a positive `pace`; None beyond the horizon."""
    if above(mastery, target):
        return REACHED
    gap = target - mastery
    middle = gap / pace.mean
    if middle > horizon_days:
        return None
    days = _whole_days(middle)
    if pace.stdev <= _EPSILON:
        return Estimate(days, days, days)
    low = _time_at(TAIL, gap, pace, horizon_days)
    high = _time_at(1.0 - TAIL, gap, pace, horizon_days)
    return Estimate(
        days,
        min(days, _whole_days(low if low is not None else middle)),
        None if high is None else max(days, _whole_days(high)),
    )


def _towards(mastery: float, target: float, pace: Pace | None, horizon: int) -> Estimate | None:
    if above(mastery, target):
        return REACHED
    return None if pace is None else estimate(mastery, target, pace, horizon)


def forecast(
    skill_id: str, points: Sequence[HistoryPoint], settings: ForecastSettings | None = None
) -> Forecast:
    """Days to Proficient and Mastered for one skill, from its daily series (oldest first)."""
    settings = settings or ForecastSettings()
    if not points:
        return Forecast(skill_id, 0.0, Level.BEGINNER, None, None, None, False, "no history")
    m, level = points[-1].mastery, points[-1].level
    found = pace_of(points, settings)
    pace = found if isinstance(found, Pace) else None
    reason = found if isinstance(found, str) else None
    if pace is not None and pace.mean <= 0:
        reason = f"no progress over the last {pace.days} days"
    moving = pace if pace is not None and pace.mean > 0 else None
    horizon = settings.horizon_days
    proficient = _towards(m, PROFICIENT, moving, horizon)
    mastered = _towards(m, MASTERED, moving, horizon)
    if moving is not None and (proficient is None or mastered is None):
        reason = f"{'Proficient' if proficient is None else 'Mastered'} is beyond {horizon} days"
    below = level in (Level.BEGINNER, Level.LEARNING)
    slow = proficient is None or proficient.days >= settings.risk_days
    at_risk = below and pace is not None and slow
    return Forecast(skill_id, m, level, pace, proficient, mastered, at_risk, reason)
