"""Struggle alerts for one student: repeated errors, low quiz scores, inactivity, falling mastery.

Each rule, with the default `AlertThresholds` (a tenant can change every number):

- ``repeated_error``: among a skill's failed attempts in the last 7 days (the inactivity
  span), i.e. in (as_of - 7 days, as_of], the same `error_type` at least 3 times within
  24 hours (both ends included); one alert per (skill, error type), `since` the first
  failure of its busiest window. The attempts are the skill's window of its latest 10
  failed attempts that name an error type (`recent.RECENT_FAILURES`), so the count is at
  most 10.
- ``low_quiz_scores``: the mean of a skill's last 3 quiz scores (its window of latest
  answers, latest by time then id; `recent.RECENT_ANSWERS` are kept) is below 0.5. Fewer
  than 3 scores: no alert.

Both read bounded windows, not raw events: they cost the same whatever a student's history,
and the thresholds they count to are capped by the windows' sizes.
- ``inactive``: the student's last active UTC day (from the aggregates, which outlive raw
  events) is 7 or more days before `as_of`'s day.
- ``falling_mastery``: a skill's end-of-day mastery is lower than 14 days earlier by 0.05
  or more (both days must be in the series; the last point is the current day).

Only events at or before `as_of` count. Alerts come sorted by kind, then skill id.
"""

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.history import HistoryPoint
from mastery_engine.core.instants import US_PER_DAY, US_PER_SECOND, day_of, day_to_date
from mastery_engine.core.recent import RECENT_ANSWERS, RECENT_FAILURES, Failures, Window, up_to

_NOISE = 1e-9  # mastery values are float sums: a drop of exactly the threshold may come out short


class AlertKind(StrEnum):
    """The four struggle signals."""

    REPEATED_ERROR = "repeated_error"
    LOW_QUIZ_SCORES = "low_quiz_scores"
    INACTIVE = "inactive"
    FALLING_MASTERY = "falling_mastery"


KIND_ORDER = tuple(AlertKind)
_COUNTS = ("repeated_error_count", "low_quiz_last", "inactive_days", "falling_days")
_MAX_COUNT = 366
# What a window can count to: no more failures or scores are kept per skill.
_MAX_OF = {"repeated_error_count": RECENT_FAILURES, "low_quiz_last": RECENT_ANSWERS}


def count_limit(name: str) -> int:
    """The largest value a whole-number threshold may take."""
    return _MAX_OF.get(name, _MAX_COUNT)


_FRACTIONS = ("low_quiz_below", "falling_drop")


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    """When each alert fires; validated on construction, so a bad tenant setting never lands."""

    repeated_error_count: int = 3
    repeated_error_hours: float = 24.0
    low_quiz_last: int = 3
    low_quiz_below: float = 0.5
    inactive_days: int = 7
    falling_days: int = 14
    falling_drop: float = 0.05

    def __post_init__(self) -> None:
        for name in _COUNTS:
            value, most = getattr(self, name), count_limit(name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
                raise InvalidConfig(
                    f"{name} must be a whole number from 1 to {most}, got {value!r}", field=name
                )
        hours = self.repeated_error_hours
        if not _number(hours) or not 0 < hours <= 24 * 366:
            raise InvalidConfig(
                f"repeated_error_hours must be a number of hours in (0, 8784], got {hours!r}",
                field="repeated_error_hours",
            )
        for name in _FRACTIONS:
            value = getattr(self, name)
            if not _number(value) or not 0 < value <= 1:
                raise InvalidConfig(f"{name} must be a number in (0, 1], got {value!r}", field=name)

    @classmethod
    def from_json(cls, document: object, *, stored: bool = False) -> "AlertThresholds":
        """Thresholds from a JSON object; absent keys keep their defaults, unknown keys fail.

        A `stored` document was saved when counts up to 366 were allowed: a count above what
        its window keeps is read as that window's size, so an older tenant keeps working.
        """
        if not isinstance(document, Mapping):
            raise InvalidConfig("alert thresholds must be a JSON object", field="alerts")
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(str(key) for key in set(document) - set(allowed))
        if unknown:
            raise InvalidConfig(
                f"unknown alert thresholds {unknown}; allowed: {', '.join(allowed)}",
                field=unknown[0],
            )
        values = dict(document)
        for name in (*_FRACTIONS, "repeated_error_hours"):
            if isinstance(values.get(name), int) and not isinstance(values[name], bool):
                values[name] = float(values[name])
        for name in _COUNTS:  # JSON does not tell 3.0 from 3 (nor does JSON Schema)
            value = values.get(name)
            if isinstance(value, float) and value.is_integer() and 1 <= value <= _MAX_COUNT:
                values[name] = value = int(value)
            if stored and isinstance(value, int) and name in _MAX_OF:
                values[name] = min(value, _MAX_OF[name])
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """Every threshold, as `from_json` reads it."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, slots=True)
class Alert:
    """One struggle signal: what, on which skill (None: the whole student), since when."""

    kind: AlertKind
    skill_id: str | None
    message: str
    since: int
    detail: Mapping[str, Any]


def _busiest(times: list[int], span: int) -> tuple[int, int]:
    """(count, first instant) of the window of length `span` holding most of sorted `times`."""
    best, first, start = 0, times[0], 0
    for end, at in enumerate(times):
        while at - times[start] > span:
            start += 1
        if end - start + 1 > best:
            best, first = end - start + 1, times[start]
    return best, first


def repeated_errors(
    failures: Mapping[str, Failures], as_of: int, t: AlertThresholds
) -> list[Alert]:
    """Skills where one error type recurred `repeated_error_count` times within the window."""
    span = round(t.repeated_error_hours * 3600 * US_PER_SECOND)
    recent = as_of - t.inactive_days * US_PER_DAY
    times: dict[tuple[str, str], list[int]] = defaultdict(list)
    for skill, window in failures.items():
        for f in window:
            if recent < f.occurred_at <= as_of:
                times[skill, f.error_type].append(f.occurred_at)
    found = []
    for (skill, error), at in sorted(times.items()):
        count, first = _busiest(sorted(at), span)
        if count >= t.repeated_error_count:
            message = f"{error} {count} times within {t.repeated_error_hours:g} h on {skill}"
            detail = {"error_type": error, "count": count, "hours": t.repeated_error_hours}
            found.append(Alert(AlertKind.REPEATED_ERROR, skill, message, first, detail))
    return found


def low_quiz_scores(recent: Mapping[str, Window], as_of: int, t: AlertThresholds) -> list[Alert]:
    """Skills whose last `low_quiz_last` quiz scores average below `low_quiz_below`."""
    found = []
    for skill, window in sorted(recent.items()):
        last = up_to(window, as_of)[-t.low_quiz_last :]
        if len(last) < t.low_quiz_last:
            continue
        mean = math.fsum(a.score for a in last) / len(last)
        if mean < t.low_quiz_below:
            message = f"last {len(last)} quiz scores on {skill} average {mean:.2f}"
            detail = {"scores": [a.score for a in last], "mean": mean}
            found.append(
                Alert(AlertKind.LOW_QUIZ_SCORES, skill, message, last[0].occurred_at, detail)
            )
    return found


def event_alerts(aggregates: StudentAggregates, as_of: int, t: AlertThresholds) -> list[Alert]:
    """The alerts events make fire (repeated errors, low quiz scores), from the windows."""
    return [
        *repeated_errors(aggregates.failures, as_of, t),
        *low_quiz_scores(aggregates.recent, as_of, t),
    ]


def inactivity(aggregates: StudentAggregates, as_of: int, t: AlertThresholds) -> list[Alert]:
    """The student has had no event for `inactive_days` whole days or more."""
    active = [day for day, first_at in aggregates.active.items() if first_at <= as_of]
    if not active:
        return []
    last = max(active)
    idle = day_of(as_of) - last
    if idle < t.inactive_days:
        return []
    message = f"no activity for {idle} days (last active {day_to_date(last).isoformat()})"
    detail = {"days": idle, "last_active": day_to_date(last).isoformat()}
    return [Alert(AlertKind.INACTIVE, None, message, (last + 1) * US_PER_DAY, detail)]


def falling_mastery(
    series: Mapping[str, Sequence[HistoryPoint]], t: AlertThresholds
) -> list[Alert]:
    """Skills whose mastery now is `falling_drop` or more below `falling_days` days earlier."""
    found = []
    for skill, points in sorted(series.items()):
        if not points:
            continue
        now = points[-1]
        then = next((p for p in points if p.day == now.day - t.falling_days), None)
        if then is None or then.mastery - now.mastery < t.falling_drop - _NOISE:
            continue
        drop = then.mastery - now.mastery
        message = (
            f"mastery of {skill} fell {drop:.2f} in {t.falling_days} days"
            f" ({then.mastery:.2f} to {now.mastery:.2f})"
        )
        detail = {"from": then.mastery, "to": now.mastery, "days": t.falling_days}
        since = then.day * US_PER_DAY + US_PER_DAY
        found.append(Alert(AlertKind.FALLING_MASTERY, skill, message, since, detail))
    return found


def alerts(
    aggregates: StudentAggregates,
    series: Mapping[str, Sequence[HistoryPoint]],
    as_of: int,
    thresholds: AlertThresholds | None = None,
) -> list[Alert]:
    """Every struggle alert of one student at `as_of`, sorted by kind then skill."""
    t = thresholds or AlertThresholds()
    found = [
        *event_alerts(aggregates, as_of, t),
        *inactivity(aggregates, as_of, t),
        *falling_mastery(series, t),
    ]
    return sorted(found, key=lambda a: (KIND_ORDER.index(a.kind), a.skill_id or "", a.since))
