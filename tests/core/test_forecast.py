"""Forecasts of days to Proficient and Mastered: too little data, linear progress, risk."""

from typing import Any

import pytest

from mastery_engine.core.aggregates import contribution, fold
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.events import parse_event
from mastery_engine.core.forecast import (
    REACHED,
    Estimate,
    ForecastSettings,
    forecast,
    student_t_quantile,
)
from mastery_engine.core.formula import Components, FormulaConfig, level_of
from mastery_engine.core.history import HistoryPoint, history
from mastery_engine.core.instants import parse_date
from tests.conftest import event

FAR_FUTURE = 2**62
DAY0 = parse_date("2026-03-01", "d")


def series_of(raw: list[dict[str, Any]], last: str = "2026-03-20") -> list[HistoryPoint]:
    """The daily history of basics from 2026-03-01 to `last`, from real events."""
    aggregates = fold(contribution(parse_event(e, FAR_FUTURE)) for e in raw)
    days = range(DAY0, parse_date(last, "d") + 1)
    return history(aggregates, "basics", days, DEFAULT_CURRICULUM, FormulaConfig())


def line(values: list[float]) -> list[HistoryPoint]:
    """A daily series with these mastery values (all carried by the quiz component)."""
    return [
        HistoryPoint(DAY0 + i, v, level_of(v), Components(0.0, v / 0.3, 0.0, 0.0))
        for i, v in enumerate(values)
    ]


def test_no_history_and_no_progress_have_no_forecast() -> None:
    empty = forecast("basics", [])
    assert (empty.to_proficient, empty.to_mastered, empty.reason) == (None, None, "no history")
    idle = forecast("basics", series_of([event("a", "activity", "2026-03-05T08:00:00Z", kind="x")]))
    assert idle.to_proficient is None and idle.pace is None and not idle.at_risk
    assert idle.reason == "no progress on this skill yet"


@pytest.mark.parametrize(
    ("started", "days"), [("2026-03-20", 1), ("2026-03-19", 2)], ids=["1-day", "2-days"]
)
def test_too_little_data_since_the_skill_started(started: str, days: int) -> None:
    raw = [event("c", "exercise.completed", f"{started}T08:00:00Z", exercise_id="e")]
    result = forecast("basics", series_of(raw))
    assert (result.to_proficient, result.to_mastered, result.at_risk) == (None, None, False)
    assert result.reason == f"too little data: {days} of the 3 days a forecast needs"


def test_three_days_are_enough() -> None:
    raw = [event("c", "exercise.completed", "2026-03-18T08:00:00Z", exercise_id="e")]
    assert forecast("basics", series_of(raw)).pace is not None


def test_linear_progress_from_real_events() -> None:
    # Active every day since 03-01 (consistency 1 from 03-14), one exercise a day from
    # 03-16: mastery 0.1 + 0.04 k, k = 1 .. 5 on 03-16 .. 03-20.
    raw = [event(f"a{d}", "activity", f"2026-03-{d:02d}T07:00:00Z", kind="x") for d in range(1, 21)]
    raw += [
        event(f"c{d}", "exercise.completed", f"2026-03-{d:02d}T08:00:00Z", exercise_id=f"e{d}")
        for d in range(16, 21)
    ]
    points = series_of(raw)
    assert [round(p.mastery, 9) for p in points[-6:]] == [0.1, 0.14, 0.18, 0.22, 0.26, 0.3]
    result = forecast("basics", points)
    assert result.pace is not None
    assert result.pace.mean == pytest.approx(0.04) and result.pace.days == 5
    # 0.4 to go at 0.04 a day meets 0.70 after 10 days: above it at the end of day 11.
    assert result.to_proficient == Estimate(11, 11, 11)
    assert result.to_mastered == Estimate(16, 16, 16)
    assert result.reason is None and not result.at_risk


@pytest.mark.parametrize(
    ("step", "count", "proficient", "mastered"),
    [
        (0.04, 5, 13, 18),  # at 0.20: 12.5 and 17.5 days to go
        (0.06, 4, 8, 12),  # at 0.24: 7.67 days, and 0.90 met after exactly 11: above on 12
        (0.1, 3, 5, 7),  # at 0.30: 0.70 met after exactly 4 days, 0.90 after 6
    ],
)
def test_linear_progress_values(step: float, count: int, proficient: int, mastered: int) -> None:
    result = forecast("basics", line([k * step for k in range(count + 1)]))
    assert result.mastery == pytest.approx(count * step)
    assert result.to_proficient == Estimate(proficient, proficient, proficient)
    assert result.to_mastered == Estimate(mastered, mastered, mastered)


def test_noisy_progress_has_an_interval_around_the_estimate() -> None:
    values = [0.0]
    for k in range(14):
        values.append(values[-1] + (0.01 if k % 2 else 0.03))
    result = forecast("basics", line(values))
    estimate = result.to_proficient
    assert estimate is not None and estimate.high is not None
    assert result.pace is not None and result.pace.mean == pytest.approx(0.02)
    assert estimate.days == 22  # 0.42 to go at 0.02 a day: 0.70 met after 21 days
    assert estimate.low < estimate.days < estimate.high


def test_reached_levels_need_no_pace() -> None:
    proficient = forecast("basics", line([0.75]))
    assert proficient.to_proficient == REACHED and proficient.to_mastered is None
    assert not proficient.at_risk
    mastered = forecast("basics", line([0.95]))
    assert (mastered.to_proficient, mastered.to_mastered) == (REACHED, REACHED)
    # Exactly 0.70 is not Proficient yet.
    assert forecast("basics", line([0.7])).to_proficient is None


def test_no_progress_is_at_risk() -> None:
    result = forecast("basics", line([0.3] * 6))
    assert result.to_proficient is None and result.at_risk
    assert result.reason == "no progress over the last 5 days"
    falling = forecast("basics", line([0.4, 0.38, 0.36, 0.34]))
    assert falling.at_risk and falling.reason == "no progress over the last 3 days"


@pytest.mark.parametrize(
    ("step", "at_risk"), [(0.4 / 28.5, False), (0.4 / 29.5, True), (0.4 / 40, True)]
)
def test_at_risk_when_proficient_is_thirty_days_away_or_more(step: float, at_risk: bool) -> None:
    points = line([0.3 - (3 - k) * step for k in range(4)])  # under way before the series
    result = forecast("basics", points)
    assert result.to_proficient is not None
    assert result.at_risk is at_risk
    assert (result.to_proficient.days >= 30) is at_risk


def test_beyond_the_horizon() -> None:
    result = forecast("basics", line([0.1, 0.1001, 0.1002, 0.1003]))
    assert result.to_proficient is None and result.at_risk
    assert result.reason == "Proficient is beyond 365 days"


def test_only_the_recent_window_sets_the_pace() -> None:
    # Fast at first, then slow: the last 14 days alone make the pace.
    fast = [0.0, *(0.01 * k for k in range(1, 11))]
    slow = [fast[-1] + 0.001 * k for k in range(1, 15)]
    result = forecast("basics", line([*fast, *slow]))
    assert result.pace is not None and result.pace.mean == pytest.approx(0.001)
    assert result.pace.days == 14


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"min_days": 1}, "min_days"),
        ({"window_days": 2, "min_days": 3}, "window_days"),
        ({"risk_days": True}, "risk_days"),
        ({"horizon_days": 10.0}, "horizon_days"),
    ],
)
def test_settings_are_validated(settings: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        ForecastSettings(**settings)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("freedom", "exact"), [(2, 1.885618), (4, 1.533206), (13, 1.350171), (60, 1.295821)]
)
def test_student_t_quantile(freedom: int, exact: float) -> None:
    assert student_t_quantile(0.9, freedom) == pytest.approx(exact, rel=0.02)
    assert student_t_quantile(0.1, freedom) == pytest.approx(-exact, rel=0.02)
