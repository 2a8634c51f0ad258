"""The canonical learning event and its validation, shared by every ingestion channel."""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mastery_engine.core.errors import InvalidEvent, InvalidRequest
from mastery_engine.core.instants import US_PER_SECOND, format_us, parse_rfc3339

MAX_ID_LENGTH = 256
DEFAULT_MAX_FUTURE_US = 300 * US_PER_SECOND


class EventType(StrEnum):
    """The five event types of the contract."""

    EXERCISE_COMPLETED = "exercise.completed"
    EXERCISE_ATTEMPTED = "exercise.attempted"
    QUIZ_GRADED = "quiz.graded"
    CODE_REVIEWED = "code.reviewed"
    ACTIVITY = "activity"


ALLOWED_TYPES = ", ".join(t.value for t in EventType)


@dataclass(frozen=True, slots=True)
class Event:
    """A validated learning event; `occurred_at` is UTC microseconds since the epoch."""

    id: str
    type: EventType
    student_id: str
    skill_id: str | None
    occurred_at: int
    data: Mapping[str, Any]

    @property
    def score(self) -> float | None:
        """The quiz score or code quality this event carries, if any."""
        if self.type is EventType.QUIZ_GRADED:
            return float(self.data["score"])
        if self.type is EventType.CODE_REVIEWED:
            return float(self.data["quality"])
        return None

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON object of this event."""
        return {
            "id": self.id,
            "type": self.type.value,
            "student_id": self.student_id,
            "skill_id": self.skill_id,
            "occurred_at": format_us(self.occurred_at),
            "data": dict(self.data),
        }


def _text(obj: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidEvent(f"{path} is required (a non-empty string)", field=path)
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(f"{path} must be a non-empty string, got {value!r}", field=path)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidEvent(f"{path} is longer than {MAX_ID_LENGTH} characters", field=path)
    return value


def _unit_score(obj: Mapping[str, Any], key: str, path: str) -> float:
    value = obj.get(key)
    if value is None:
        raise InvalidEvent(f"{path} is required (a number in [0, 1])", field=path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent(f"{path} must be a number in [0, 1], got {value!r}", field=path)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InvalidEvent(f"{path} must be in [0, 1], got {value!r}", field=path)
    return float(value)


def _check_completed(data: Mapping[str, Any]) -> None:
    _text(data, "exercise_id", "data.exercise_id")


def _check_attempted(data: Mapping[str, Any]) -> None:
    _text(data, "exercise_id", "data.exercise_id")
    passed = data.get("passed")
    if not isinstance(passed, bool):
        raise InvalidEvent(
            f"data.passed is required and must be true or false, got {passed!r}",
            field="data.passed",
        )
    _text(data, "error_type", "data.error_type", required=False)


def _check_quiz(data: Mapping[str, Any]) -> None:
    _text(data, "quiz_id", "data.quiz_id")
    _unit_score(data, "score", "data.score")


def _check_review(data: Mapping[str, Any]) -> None:
    _text(data, "submission_id", "data.submission_id")
    _unit_score(data, "quality", "data.quality")


def _check_activity(data: Mapping[str, Any]) -> None:
    _text(data, "kind", "data.kind")
    duration = data.get("duration_s")
    if duration is None:
        return
    if isinstance(duration, bool) or not isinstance(duration, int | float):
        raise InvalidEvent(
            f"data.duration_s must be a number of seconds >= 0, got {duration!r}",
            field="data.duration_s",
        )
    if not math.isfinite(duration) or duration < 0:
        raise InvalidEvent(
            f"data.duration_s must be >= 0, got {duration!r}", field="data.duration_s"
        )


_DATA_CHECKS: dict[EventType, Callable[[Mapping[str, Any]], None]] = {
    EventType.EXERCISE_COMPLETED: _check_completed,
    EventType.EXERCISE_ATTEMPTED: _check_attempted,
    EventType.QUIZ_GRADED: _check_quiz,
    EventType.CODE_REVIEWED: _check_review,
    EventType.ACTIVITY: _check_activity,
}


def _event_type(raw: Mapping[str, Any]) -> EventType:
    value = raw.get("type")
    if value is None:
        raise InvalidEvent(f"type is required, one of: {ALLOWED_TYPES}", field="type")
    try:
        return EventType(value)
    except ValueError:
        raise InvalidEvent(
            f"type {value!r} is unknown; allowed: {ALLOWED_TYPES}", field="type"
        ) from None


def _occurred_at(raw: Mapping[str, Any], now_us: int, max_future_us: int) -> int:
    value = raw.get("occurred_at")
    if value is None:
        raise InvalidEvent("occurred_at is required (RFC 3339 with offset)", field="occurred_at")
    if not isinstance(value, str):
        raise InvalidEvent(
            f"occurred_at must be an RFC 3339 string, got {value!r}", field="occurred_at"
        )
    try:
        us = parse_rfc3339(value, "occurred_at")
    except InvalidRequest as exc:
        raise InvalidEvent(exc.message, field="occurred_at") from None
    if us > now_us + max_future_us:
        raise InvalidEvent(
            f"occurred_at {value} is more than {max_future_us // US_PER_SECOND} s in the future"
            f" (server time {format_us(now_us)})",
            field="occurred_at",
        )
    return us


def parse_event(raw: object, now_us: int, max_future_us: int = DEFAULT_MAX_FUTURE_US) -> Event:
    """Validate a decoded JSON value against the event contract, or raise `InvalidEvent`."""
    if not isinstance(raw, Mapping):
        raise InvalidEvent(f"an event must be a JSON object, got {type(raw).__name__}")
    event_id = _text(raw, "id", "id")
    event_type = _event_type(raw)
    student_id = _text(raw, "student_id", "student_id")
    skill_id = _text(raw, "skill_id", "skill_id", required=event_type is not EventType.ACTIVITY)
    occurred_at = _occurred_at(raw, now_us, max_future_us)
    data = raw.get("data")
    if not isinstance(data, Mapping):
        raise InvalidEvent(
            f"data is required and must be a JSON object for {event_type.value}", field="data"
        )
    _DATA_CHECKS[event_type](data)
    assert event_id is not None and student_id is not None
    return Event(event_id, event_type, student_id, skill_id, occurred_at, dict(data))


def restore_event(raw: Mapping[str, Any]) -> Event:
    """Rebuild an event a store kept (already validated when it was ingested)."""
    return parse_event(raw, now_us=2**62)
