"""Every way an event can break the contract gets a specific message naming the field."""

from typing import Any

import pytest

from mastery_engine.core.errors import InvalidEvent
from mastery_engine.core.events import EventType, parse_event
from mastery_engine.core.instants import format_us, parse_rfc3339
from tests.conftest import NOW, event

GOOD = event("e1", "quiz.graded", "2026-03-20T10:00:00Z", quiz_id="q", score=0.5)


def with_(**changes: Any) -> dict[str, Any]:
    body = {**GOOD, "data": dict(GOOD["data"])}
    for key, value in changes.items():
        if key.startswith("data_"):
            body["data"][key[5:]] = value
        elif value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (with_(occurred_at="2026-03-20T10:00:00"), "occurred_at", "no UTC offset"),
        (with_(occurred_at="2026-03-20 10:00"), "occurred_at", "no UTC offset"),
        (with_(occurred_at="yesterday"), "occurred_at", "RFC 3339"),
        (with_(occurred_at="2026-03-20"), "occurred_at", "RFC 3339"),
        (with_(occurred_at="2026-02-30T10:00:00Z"), "occurred_at", "not a valid"),
        (with_(occurred_at=1710000000), "occurred_at", "RFC 3339 string"),
        (with_(occurred_at="2026-03-20T12:05:01Z"), "occurred_at", "in the future"),
        (with_(data_score=1.01), "data.score", "[0, 1]"),
        (with_(data_score=-0.1), "data.score", "[0, 1]"),
        (with_(data_score="0.5"), "data.score", "number"),
        (with_(data_score=True), "data.score", "number"),
        (with_(data_score=float("nan")), "data.score", "[0, 1]"),
        (with_(type="quiz.passed"), "type", "unknown"),
        (with_(type=...), "type", "required"),
        (with_(id=...), "id", "required"),
        (with_(id=""), "id", "non-empty"),
        (with_(id=7), "id", "string"),
        (with_(student_id=...), "student_id", "required"),
        (with_(skill_id=...), "skill_id", "required"),
        (with_(skill_id=["functions"]), "skill_id", "string"),
        (with_(data=...), "data", "JSON object"),
        (with_(data=[1]), "data", "JSON object"),
        (with_(data_quiz_id=None), "data.quiz_id", "required"),
        (with_(id="x" * 257), "id", "longer than 256"),
    ],
)
def test_invalid_event_names_the_field(body: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(body, NOW)
    assert caught.value.field == field
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (event("a", "exercise.completed", "2026-03-20T10:00:00Z"), "data.exercise_id"),
        (event("a", "exercise.attempted", "2026-03-20T10:00:00Z", exercise_id="x"), "data.passed"),
        (
            event("a", "exercise.attempted", "2026-03-20T10:00:00Z", exercise_id="x", passed=1),
            "data.passed",
        ),
        (event("a", "code.reviewed", "2026-03-20T10:00:00Z", submission_id="s"), "data.quality"),
        (event("a", "code.reviewed", "2026-03-20T10:00:00Z", quality=0.5), "data.submission_id"),
        (event("a", "activity", "2026-03-20T10:00:00Z", skill=None), "data.kind"),
        (
            event("a", "activity", "2026-03-20T10:00:00Z", skill=None, kind="x", duration_s=-1),
            "data.duration_s",
        ),
    ],
)
def test_each_type_requires_its_data(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(body, NOW)
    assert caught.value.field == field


@pytest.mark.parametrize("raw", [None, 3, "event", [GOOD]])
def test_an_event_must_be_an_object(raw: object) -> None:
    with pytest.raises(InvalidEvent, match="JSON object"):
        parse_event(raw, NOW)


def test_valid_events_of_every_type() -> None:
    at = "2026-03-20T13:00:00+02:00"
    bodies = [
        event("1", "exercise.completed", at, exercise_id="e"),
        event("2", "exercise.attempted", at, exercise_id="e", passed=False, error_type="TypeError"),
        event("3", "quiz.graded", at, quiz_id="q", score=1),
        event("4", "code.reviewed", at, submission_id="s", quality=0.0),
        event("5", "activity", at, skill=None, kind="login"),
        event("6", "activity", at, kind="video", duration_s=30),
    ]
    parsed = [parse_event(b, NOW) for b in bodies]
    assert [p.type for p in parsed] == [*EventType, EventType.ACTIVITY]
    assert {p.occurred_at for p in parsed} == {parse_rfc3339("2026-03-20T11:00:00Z", "t")}
    assert parsed[4].skill_id is None


def test_five_minutes_in_the_future_is_still_accepted() -> None:
    parsed = parse_event(with_(occurred_at="2026-03-20T12:05:00Z"), NOW)
    assert format_us(parsed.occurred_at) == "2026-03-20T12:05:00Z"


def test_fractional_seconds_and_lowercase_z() -> None:
    parsed = parse_event(with_(occurred_at="2026-03-20t10:00:00.123456789z"), NOW)
    assert format_us(parsed.occurred_at) == "2026-03-20T10:00:00.123456Z"


def test_round_trip_through_json() -> None:
    parsed = parse_event(GOOD, NOW)
    assert parse_event(parsed.to_json(), NOW) == parsed
