"""Struggle alerts: each trigger, its non-trigger just below the threshold, and their config."""

import math
from typing import Any

import pytest

from mastery_engine.core.aggregates import contribution, fold
from mastery_engine.core.alerts import Alert, AlertKind, AlertThresholds, alerts
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.events import Event, parse_event
from mastery_engine.core.formula import FormulaConfig
from mastery_engine.core.history import HistoryPoint, history
from mastery_engine.core.instants import day_of, parse_date, parse_rfc3339
from tests.conftest import event

FAR_FUTURE = 2**62
AS_OF = "2026-03-20T12:00:00Z"


def parsed(raw: list[dict[str, Any]]) -> list[Event]:
    return [parse_event(e, FAR_FUTURE) for e in raw]


def run(
    raw: list[dict[str, Any]],
    as_of: str = AS_OF,
    thresholds: AlertThresholds | None = None,
    series: dict[str, list[HistoryPoint]] | None = None,
) -> list[Alert]:
    events = parsed(raw)
    aggregates = fold(contribution(e) for e in events)
    return alerts(aggregates, series or {}, parse_rfc3339(as_of, "as_of"), thresholds)


def kinds(found: list[Alert]) -> list[tuple[AlertKind, str | None]]:
    return [(a.kind, a.skill_id) for a in found]


def failed(i: int, at: str, error: str = "TypeError", skill: str = "basics") -> dict[str, Any]:
    return event(
        f"f{i}-{skill}-{error}",
        "exercise.attempted",
        at,
        skill=skill,
        exercise_id="ex1",
        passed=False,
        error_type=error,
    )


def quizzes(*scores: float, day: int = 10) -> list[dict[str, Any]]:
    return [
        event(f"q{i}", "quiz.graded", f"2026-03-{day + i:02d}T09:00:00Z", quiz_id="q", score=s)
        for i, s in enumerate(scores)
    ]


THIRD_AT_24H = [
    failed(1, "2026-03-18T10:00:00Z"),
    failed(2, "2026-03-18T22:00:00Z"),
    failed(3, "2026-03-19T10:00:00Z"),
]


@pytest.mark.parametrize(
    ("raw", "fires"),
    [
        (THIRD_AT_24H, True),
        ([*THIRD_AT_24H[:2], failed(3, "2026-03-19T10:00:01Z")], False),  # 24 h + 1 s
        (THIRD_AT_24H[:2], False),  # only twice
        ([*THIRD_AT_24H[:2], failed(3, "2026-03-19T09:00:00Z", "NameError")], False),
        ([*THIRD_AT_24H[:2], failed(3, "2026-03-19T09:00:00Z", skill="oop")], False),
        (
            [
                *THIRD_AT_24H[:2],
                event(
                    "ok",
                    "exercise.attempted",
                    "2026-03-19T09:00:00Z",
                    exercise_id="ex1",
                    passed=True,
                    error_type="TypeError",
                ),
            ],
            False,
        ),  # a passed attempt is no failure
    ],
    ids=["3-within-24h", "3-within-24h-and-1s", "twice", "other-error", "other-skill", "passed"],
)
def test_repeated_error(raw: list[dict[str, Any]], fires: bool) -> None:
    found = run(raw)
    assert ((AlertKind.REPEATED_ERROR, "basics") in kinds(found)) is fires
    if fires:
        alert = found[0]
        assert alert.detail == {"error_type": "TypeError", "count": 3, "hours": 24.0}
        assert alert.since == parse_rfc3339("2026-03-18T10:00:00Z", "t")
        assert "TypeError 3 times within 24 h on basics" in alert.message


def test_repeated_error_only_counts_the_recent_failures() -> None:
    # The last 7 days are (as_of - 7 days, as_of]: the first failure leaves them at 7 days.
    assert run(THIRD_AT_24H, as_of="2026-03-25T09:59:59Z")
    assert not run(THIRD_AT_24H, as_of="2026-03-25T10:00:00Z")
    assert not run(THIRD_AT_24H, as_of="2026-03-19T09:59:59Z")  # the third has not happened


@pytest.mark.parametrize(
    ("scores", "fires"),
    [
        ((0.4, 0.5, 0.5), True),  # mean 0.4667
        ((0.5, 0.5, 0.5), False),  # mean exactly 0.5 is not below
        ((0.5, 0.5, 0.49), True),
        ((0.0, 0.0), False),  # fewer than three
        ((0.0, 0.9, 0.6, 0.7), False),  # the last three average 0.733
        ((0.9, 0.3, 0.4, 0.5), True),  # the last three average 0.4
    ],
)
def test_low_quiz_scores(scores: tuple[float, ...], fires: bool) -> None:
    found = run(quizzes(*scores))
    assert ((AlertKind.LOW_QUIZ_SCORES, "basics") in kinds(found)) is fires
    if fires:
        last = list(scores[-3:])
        assert found[0].detail["scores"] == last
        assert found[0].detail["mean"] == pytest.approx(math.fsum(last) / 3)


def test_low_quiz_scores_ignore_quizzes_after_as_of() -> None:
    raw = quizzes(0.1, 0.1, 0.1, day=18)
    assert not run(raw, as_of="2026-03-20T08:59:59Z")  # the third is at 09:00
    assert kinds(run(raw)) == [(AlertKind.LOW_QUIZ_SCORES, "basics")]


@pytest.mark.parametrize(
    ("last_active", "fires"),
    [
        ("2026-03-13T23:59:59Z", True),
        ("2026-03-14T00:00:00Z", False),
        ("2026-03-01T08:00:00Z", True),
    ],
)
def test_inactive_after_seven_whole_days(last_active: str, fires: bool) -> None:
    found = run([event("a", "activity", last_active, skill=None, kind="login")])
    assert (kinds(found) == [(AlertKind.INACTIVE, None)]) is fires
    if fires:
        last_day = day_of(parse_rfc3339(last_active, "t"))
        assert found[0].detail["days"] == day_of(parse_rfc3339(AS_OF, "t")) - last_day
        assert found[0].since == (last_day + 1) * 86_400_000_000


def falling_series() -> list[HistoryPoint]:
    """basics: a perfect quiz and review early on, then a poor quiz: mastery falls."""
    raw = [
        event("q1", "quiz.graded", "2026-03-01T09:00:00Z", quiz_id="a", score=1.0),
        event("r1", "code.reviewed", "2026-03-01T09:00:00Z", submission_id="s", quality=1.0),
        event("q2", "quiz.graded", "2026-03-18T09:00:00Z", quiz_id="b", score=0.2),
    ]
    aggregates = fold(contribution(e) for e in parsed(raw))
    days = range(parse_date("2026-03-01", "d"), parse_date("2026-03-20", "d") + 1)
    return history(aggregates, "basics", days, DEFAULT_CURRICULUM, FormulaConfig())


def test_falling_mastery_at_and_just_below_the_threshold() -> None:
    series = falling_series()
    drop = series[-15].mastery - series[-1].mastery  # 14 days earlier
    assert drop > 0.05
    at = AlertThresholds(falling_drop=drop)
    found = run([], series={"basics": series}, thresholds=at)
    assert kinds(found) == [(AlertKind.FALLING_MASTERY, "basics")]
    assert found[0].detail == {"from": series[-15].mastery, "to": series[-1].mastery, "days": 14}
    above = AlertThresholds(falling_drop=drop + 0.001)
    assert not run([], series={"basics": series}, thresholds=above)
    assert kinds(run([], series={"basics": series})) == [(AlertKind.FALLING_MASTERY, "basics")]


def test_falling_mastery_needs_the_day_fourteen_days_earlier() -> None:
    series = falling_series()
    assert not run([], series={"basics": series[-14:]})  # only 13 days back
    assert not run([], series={"basics": []})


def test_alerts_come_sorted_by_kind_then_skill() -> None:
    raw = [*quizzes(0.1, 0.1, 0.1, day=1), *THIRD_AT_24H]
    raw = [*raw, *(failed(i, "2026-03-18T11:00:00Z", skill="oop") for i in range(3))]
    found = run(raw, as_of="2026-03-27T12:00:00Z")
    assert kinds(found) == [
        (AlertKind.LOW_QUIZ_SCORES, "basics"),
        (AlertKind.INACTIVE, None),
    ]
    found = run(raw, series={"basics": falling_series()})
    assert kinds(found) == [
        (AlertKind.REPEATED_ERROR, "basics"),
        (AlertKind.REPEATED_ERROR, "oop"),
        (AlertKind.LOW_QUIZ_SCORES, "basics"),
        (AlertKind.FALLING_MASTERY, "basics"),
    ]


def test_no_events_no_alerts() -> None:
    assert run([]) == []


def test_thresholds_round_trip_through_json() -> None:
    defaults = AlertThresholds()
    assert defaults.to_json() == {
        "repeated_error_count": 3,
        "repeated_error_hours": 24.0,
        "low_quiz_last": 3,
        "low_quiz_below": 0.5,
        "inactive_days": 7,
        "falling_days": 14,
        "falling_drop": 0.05,
    }
    assert AlertThresholds.from_json(defaults.to_json()) == defaults
    assert AlertThresholds.from_json({}) == defaults
    custom = AlertThresholds.from_json({"inactive_days": 3, "low_quiz_below": 1})
    assert (custom.inactive_days, custom.low_quiz_below) == (3, 1.0)
    assert AlertThresholds.from_json(custom.to_json()) == custom


def test_tenant_thresholds_change_what_fires() -> None:
    raw = [event("a", "activity", "2026-03-16T08:00:00Z", skill=None, kind="login")]
    assert not run(raw)
    assert run(raw, thresholds=AlertThresholds.from_json({"inactive_days": 4}))


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ([], "alerts", "must be a JSON object"),
        ({"inactive": 7}, "inactive", "unknown alert thresholds ['inactive']; allowed:"),
        ({"repeated_error_count": 0}, "repeated_error_count", "whole number from 1 to 10"),
        # The windows keep 10 failed attempts and 5 answers per skill: no more can be counted.
        ({"repeated_error_count": 11}, "repeated_error_count", "from 1 to 10, got 11"),
        ({"low_quiz_last": 2.5}, "low_quiz_last", "whole number from 1 to 5, got 2.5"),
        ({"low_quiz_last": 6}, "low_quiz_last", "whole number from 1 to 5, got 6"),
        ({"inactive_days": True}, "inactive_days", "got True"),
        ({"falling_days": 400}, "falling_days", "whole number from 1 to 366"),
        ({"repeated_error_hours": 0}, "repeated_error_hours", "hours in (0, 8784]"),
        ({"repeated_error_hours": "24"}, "repeated_error_hours", "got '24'"),
        ({"low_quiz_below": 1.5}, "low_quiz_below", "in (0, 1], got 1.5"),
        ({"falling_drop": 0}, "falling_drop", "in (0, 1]"),
        ({"falling_drop": float("nan")}, "falling_drop", "got nan"),
    ],
)
def test_invalid_thresholds_say_what_is_wrong(document: object, field: str, words: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        AlertThresholds.from_json(document)
    assert caught.value.field == field
    assert words in caught.value.message


def test_a_stored_configuration_with_larger_counts_still_loads_at_the_windows_sizes() -> None:
    old = {"repeated_error_count": 40, "low_quiz_last": 12, "inactive_days": 30}
    loaded = AlertThresholds.from_json(old, stored=True)
    assert (loaded.repeated_error_count, loaded.low_quiz_last) == (10, 5)
    assert loaded.inactive_days == 30
    with pytest.raises(InvalidConfig):
        AlertThresholds.from_json(old)  # a new document is refused, saying the limits
