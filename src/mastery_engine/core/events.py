"""The canonical learning event and its validation, shared by every ingestion channel."""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mastery_engine.core.errors import InvalidEvent, InvalidRequest
from mastery_engine.core.instants import US_PER_SECOND, format_us, parse_rfc3339

DEFAULT_MAX_FUTURE_US = 300 * US_PER_SECOND
MAX_DURATION_S = 366 * 86_400

# The one id rule: event ids, the ids inside events, class rosters, path parameters, and the
# `pattern` of every id in the OpenAPI document and the JSON Schemas (which take these patterns
# as they are: the escapes read the same in Python, ECMA-262 and Rust regular expressions).
# An id is 1-256 characters, not only whitespace, and none of these invisible characters:
# C0 controls, DEL and C1 controls, the soft hyphen, the Arabic letter mark, the Mongolian
# vowel separator, zero-width and bidi marks, line and paragraph separators and bidi
# embeddings, word joiner to the deprecated format characters, the byte order mark, the
# interlinear annotation controls and the noncharacters U+FFFE and U+FFFF.
MAX_ID_LENGTH = 256
_BARRED = (
    r"\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
    r"\ufff9-\ufffb\ufffe\uffff"
)
_BLANK = r" \xa0\u1680\u2000-\u200a\u202f\u205f\u3000"  # whitespace (str.isspace) not barred
# Always `fullmatch`: with `match`, a `$` would also accept a final newline.
ID_PATTERN = re.compile(rf"[{_BLANK}]*[^{_BARRED}{_BLANK}][^{_BARRED}]*")
URL_ID_PATTERN = re.compile(rf"[{_BLANK}]*[^{_BARRED}{_BLANK}/][^{_BARRED}/]*")  # no '/'
_BARRED_CHARACTER = re.compile(rf"[{_BARRED}]")


def _ranges(character_class: str) -> str:
    """A character class's escapes as `U+0000-U+001F, U+007F`, for messages."""
    bounds = re.findall(r"\\[xu]([0-9a-f]+)(?:-\\[xu]([0-9a-f]+))?", character_class)
    return ", ".join("-".join(f"U+{int(c, 16):04X}" for c in pair if c) for pair in bounds)


BARRED_RANGES = _ranges(_BARRED)
# Lone surrogates are not Unicode text: JSON decoders and URLs never produce them, and
# regular expression engines that read UTF-8 cannot even name them, so they stay out of the
# patterns and are refused here.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class EventType(StrEnum):
    """The five event types of the contract."""

    EXERCISE_COMPLETED = "exercise.completed"
    EXERCISE_ATTEMPTED = "exercise.attempted"
    QUIZ_GRADED = "quiz.graded"
    CODE_REVIEWED = "code.reviewed"
    ACTIVITY = "activity"


ALLOWED_TYPES = ", ".join(t.value for t in EventType)
_TYPES = {t.value: t for t in EventType}


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


def _show(value: object) -> str:
    """A short, always printable rendering of a rejected value."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**18:
        return "a very large integer"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _character_problem(value: str, path: str) -> str | None:
    """What makes an id's characters unusable, or None when they are fine."""
    found = _SURROGATE.search(value)
    if found is not None:
        return (
            f"{path} must be printable Unicode text: U+{ord(found.group()):04X} at position"
            f" {found.start()} is a lone surrogate"
        )
    found = _BARRED_CHARACTER.search(value)
    if found is not None:
        return (
            f"{path} must be printable text, without control characters or invisible marks:"
            f" U+{ord(found.group()):04X} at position {found.start()} is one (barred:"
            f" {BARRED_RANGES})"
        )
    return None


def id_problem(value: object, path: str, *, in_url: bool = True) -> str | None:
    """What makes `value` unusable as an id (None when it is fine): the one rule for ids."""
    if not isinstance(value, str) or not value:
        return f"{path} must be a non-empty string, got {_show(value)}"
    if len(value) > MAX_ID_LENGTH:
        return f"{path} is longer than {MAX_ID_LENGTH} characters ({len(value)})"
    pattern = URL_ID_PATTERN if in_url else ID_PATTERN
    if pattern.fullmatch(value) is not None and (value.isascii() or not _SURROGATE.search(value)):
        return None
    problem = _character_problem(value, path)
    if problem is not None:
        return problem
    if in_url and "/" in value:
        return f"{path} must not contain '/' (it is part of URLs)"
    return f"{path} must be a non-empty string, not only whitespace, got {_show(value)}"


def _text(
    obj: Mapping[str, Any], key: str, path: str, *, required: bool = True, in_url: bool = False
) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise InvalidEvent(f"{path} is required (a non-empty string)", field=path)
        return None
    problem = id_problem(value, path, in_url=in_url)
    if problem is not None:
        raise InvalidEvent(problem, field=path)
    return str(value)


def _number(obj: Mapping[str, Any], key: str, path: str, low: float, high: float) -> float:
    value = obj.get(key)
    allowed = f"a number in [{low:g}, {high:g}]"
    if value is None:
        raise InvalidEvent(f"{path} is required ({allowed})", field=path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent(f"{path} must be {allowed}, got {_show(value)}", field=path)
    # Compare before converting: a huge JSON integer would overflow float().
    if not (low <= value <= high):  # also False for NaN
        raise InvalidEvent(f"{path} must be in [{low:g}, {high:g}], got {_show(value)}", field=path)
    return float(value)


Data = dict[str, Any]


def _completed(data: Mapping[str, Any]) -> Data:
    return {"exercise_id": _text(data, "exercise_id", "data.exercise_id")}


def _attempted(data: Mapping[str, Any]) -> Data:
    exercise = _text(data, "exercise_id", "data.exercise_id")
    passed = data.get("passed")
    if not isinstance(passed, bool):
        raise InvalidEvent(
            f"data.passed is required and must be true or false, got {_show(passed)}",
            field="data.passed",
        )
    error_type = _text(data, "error_type", "data.error_type", required=False)
    out: Data = {"exercise_id": exercise, "passed": passed}
    return out if error_type is None else {**out, "error_type": error_type}


def _quiz(data: Mapping[str, Any]) -> Data:
    quiz = _text(data, "quiz_id", "data.quiz_id")
    return {"quiz_id": quiz, "score": _number(data, "score", "data.score", 0.0, 1.0)}


def _review(data: Mapping[str, Any]) -> Data:
    submission = _text(data, "submission_id", "data.submission_id")
    return {"submission_id": submission, "quality": _number(data, "quality", "data.quality", 0, 1)}


def _activity(data: Mapping[str, Any]) -> Data:
    out: Data = {"kind": _text(data, "kind", "data.kind")}
    if data.get("duration_s") is not None:
        out["duration_s"] = _number(data, "duration_s", "data.duration_s", 0, MAX_DURATION_S)
    return out


# Each reads the contract's fields of its type; other keys in `data` are not kept.
_DATA: dict[EventType, Callable[[Mapping[str, Any]], Data]] = {
    EventType.EXERCISE_COMPLETED: _completed,
    EventType.EXERCISE_ATTEMPTED: _attempted,
    EventType.QUIZ_GRADED: _quiz,
    EventType.CODE_REVIEWED: _review,
    EventType.ACTIVITY: _activity,
}


def _event_type(raw: Mapping[str, Any]) -> EventType:
    value = raw.get("type")
    if value is None:
        raise InvalidEvent(f"type is required, one of: {ALLOWED_TYPES}", field="type")
    if isinstance(value, str) and value in _TYPES:
        return _TYPES[value]
    raise InvalidEvent(f"type {_show(value)} is unknown; allowed: {ALLOWED_TYPES}", field="type")


def _occurred_at(raw: Mapping[str, Any], now_us: int, max_future_us: int) -> int:
    value = raw.get("occurred_at")
    if value is None:
        raise InvalidEvent("occurred_at is required (RFC 3339 with offset)", field="occurred_at")
    if not isinstance(value, str):
        raise InvalidEvent(
            f"occurred_at must be an RFC 3339 string, got {_show(value)}", field="occurred_at"
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
    student_id = _text(raw, "student_id", "student_id", in_url=True)
    skill_id = _text(
        raw, "skill_id", "skill_id", required=event_type is not EventType.ACTIVITY, in_url=True
    )
    occurred_at = _occurred_at(raw, now_us, max_future_us)
    data = raw.get("data")
    if not isinstance(data, Mapping):
        raise InvalidEvent(
            f"data is required and must be a JSON object for {event_type.value}", field="data"
        )
    canonical = _DATA[event_type](data)
    assert event_id is not None and student_id is not None
    return Event(event_id, event_type, student_id, skill_id, occurred_at, canonical)


def restore_event(raw: Mapping[str, Any], occurred_at: int) -> Event:
    """Rebuild an event a store kept; it was validated when it was ingested."""
    return Event(
        raw["id"],
        _TYPES[raw["type"]],
        raw["student_id"],
        raw.get("skill_id"),
        occurred_at,
        raw["data"],
    )


def printable_id(raw: object) -> str | None:
    """The `id` an item carries, when it can be echoed back."""
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value.isprintable() else None
