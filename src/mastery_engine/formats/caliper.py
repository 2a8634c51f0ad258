"""Caliper 1.1 and 1.2 envelopes and events (and what real emitters send) mapped onto
canonical events; pure. The type and action decide what an event becomes (`core.records`).

Learner: a Person actor (or a bare IRI); a GradeEvent's assignee; a software actor's session
user (SessionEvent). Student id: the last segment of the learner's IRI. Quiz / exercise: the
attempt's assignable (a GradeEvent's or an Attempt object's), else the object's id. Score:
scoreGiven / maxScore of the generated Score (or a Result's resultScore / maxResultScore),
also under Open edX's `generated.score`. Event id: `id`, else a version-5 UUID of the event.
Time: eventTime, else the time received. Types and actions may be IRIs (last segment counts).
"""

import functools
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from mastery_engine.core.errors import InvalidEvent
from mastery_engine.core.events import MAX_DURATION_S
from mastery_engine.core.records import Treatment
from mastery_engine.formats.mapping import duration_seconds, first_error, instant, last_segment
from mastery_engine.formats.records import (
    Facts,
    Mapped,
    RecordRulesInForce,
    derived_id,
    skipped,
    typed,
)
from mastery_engine.formats.sensor import EVENT_FIELDS, json_type

# (given, maximum): a Score's, then a Caliper 1.1 Result's.
SCORES = (("scoreGiven", "maxScore"), ("resultScore", "maxResultScore"))
VERDICTS = {"true": True, "false": False}
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")
Raw = Mapping[str, Any]  # an event as sent (validated as a `CaliperEvent`)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Entity(_Open):
    """A Caliper entity: an id and a type (Caliper 1.0 writes `@id`, `@type`), and the rest."""

    id: str = Field(min_length=1, validation_alias=AliasChoices("id", "@id"))
    type: str | None = Field(None, validation_alias=AliasChoices("type", "@type"))
    extensions: dict[str, Any] | None = None


class CaliperEvent(_Open):
    """The shape of a Caliper event; the rest is read (and checked) where it is used."""

    id: str | None = None
    type: str = Field(min_length=1, validation_alias=AliasChoices("type", "@type"))
    action: str = Field(min_length=1)
    actor: Entity | str
    object: Entity | str
    eventTime: str | None = Field(None, min_length=1)
    extensions: dict[str, Any] | None = None


@functools.lru_cache(maxsize=1024)
def term(value: str) -> str:
    """A type or action without its namespace (`.../action#Submitted` -> `Submitted`)."""
    return re.split(r"[#/]", value.rstrip("/#"))[-1]


@functools.lru_cache(maxsize=1024)
def activity_kind(kind: str, action: str) -> str:
    """An activity's kind: `AssessmentItemEvent` `Started` -> `assessment_item.started`."""
    stem = _WORD_START.sub("_", kind.removesuffix("Event")).lower()
    return f"{stem}.{action.lower()}" if stem else action.lower()


def _get(value: object, name: str) -> Any:
    """A property of a JSON object (None of anything else); `@id`, `@type` stand for id, type."""
    if type(value) is not dict:  # decoded JSON: exactly a dict (faster than an ABC check)
        return None
    found = value.get(name)
    return value.get(f"@{name}") if found is None and name in ("id", "type") else found


def _type(ref: object) -> str:
    found = _get(ref, "type")
    return term(found) if isinstance(found, str) else ""


def _id_of(ref: object) -> str | None:
    """The id of an entity or a bare IRI; None when it has none."""
    found = ref if isinstance(ref, str) else _get(ref, "id")
    return found if isinstance(found, str) and found else None


def _prop(target: object, name: str) -> tuple[Any, str]:
    """A property of the object, else of its extensions (Open edX), and where it was found."""
    inside = _get(_get(target, "extensions"), name)
    if _get(target, name) is None and inside is not None:
        return inside, f"object.extensions.{name}"
    return _get(target, name), f"object.{name}"


def parse_event(raw: object) -> CaliperEvent:
    """Validate an event's shape, or raise `InvalidEvent` naming the first field at fault."""
    try:
        event = CaliperEvent.model_validate(raw)
    except ValidationError as exc:
        raise first_error(exc.errors()) from None
    if not term(event.type).endswith("Event"):
        message = f"type {event.type!r} is not a Caliper event type (those end in 'Event')"
        raise InvalidEvent(message, field="type")
    return event


def _learner(event: CaliperEvent, raw: Raw, kind: str) -> tuple[object, str]:
    """Who learned, and where the event says so."""
    if kind == "GradeEvent":
        assignee, where = _prop(raw["object"], "assignee")
        if assignee is None:
            message = "a GradeEvent needs object.assignee, its learner (the actor is the grader)"
            raise InvalidEvent(message, field="object.assignee")
        return assignee, where
    actor = event.actor
    if isinstance(actor, str) or actor.type is None or term(actor.type) == "Person":
        return actor.id if isinstance(actor, Entity) else actor, "actor"
    if kind == "SessionEvent":
        if (user := _get(raw.get("session"), "user")) is not None:
            return user, "session.user"
        if _type(raw["object"]) == "Session" and (user := _get(raw["object"], "user")):
            return user, "object.user"
        message = "a software actor's SessionEvent needs session.user (or a Session object's user)"
        raise InvalidEvent(message, field="session.user")
    message = f"actor is a {actor.type}, not a Person, and no learner is named"
    why = "a GradeEvent names its object.assignee, a SessionEvent its session.user"
    raise InvalidEvent(f"{message} ({why})", field="actor")


def student_of(event: CaliperEvent, raw: Raw, kind: str) -> str:
    """The student id of the event's learner: the last segment of the learner's IRI."""
    person, where = _learner(event, raw, kind)
    iri = _id_of(person)
    if iri is None:
        raise InvalidEvent(f"{where} must be a Person entity or its IRI", field=where)
    student = last_segment(iri)
    if not student.strip() or "/" in student:
        raise InvalidEvent(f"{where} {iri!r} does not end in a student id", field=where)
    return student


def _number(value: object, where: str) -> float | None:
    """A number, or a numeric string (as Canvas sends some); None when absent."""
    if value is None:
        return None
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidEvent(f"{where} is {value!r}; it must be a finite number", field=where)
    return float(value)


def scaled_score(generated: object) -> float | None:
    """The generated score in [0, 1] (given / maximum); None when there is no score."""
    inner = _get(generated, "score")
    wrapped = isinstance(inner, Mapping)
    entity, at = (inner, "generated.score") if wrapped else (generated, "generated")
    for given_key, most_key in SCORES:
        given_at, most_at = f"{at}.{given_key}", f"{at}.{most_key}"
        given = _number(_get(entity, given_key), given_at)
        if given is None:
            continue
        most = _number(_get(entity, most_key), most_at)
        if most is None or most <= 0:
            shown = "missing" if most is None else f"{most:g}"
            message = f"{most_at} is {shown}; the score is {given_key} / {most_key} (above 0)"
            raise InvalidEvent(message, field=most_at)
        if not 0 <= given <= most:
            message = f"{given_at} {given:g} is outside 0 .. {most_key} {most:g}"
            raise InvalidEvent(message, field=given_at)
        return given / most
    return None


def success_of(generated: object) -> bool | None:
    """The generated score's success flag, when it is unambiguously true or false."""
    for entity in (_get(generated, "score"), generated):
        for value in (_get(_get(entity, "extensions"), "success"), _get(entity, "success")):
            if isinstance(value, bool):
                return value
            if value is not None:
                return VERDICTS.get(value.strip().lower()) if isinstance(value, str) else None
    return None


def _duration(raw: Raw) -> float | None:
    """Time spent, from the object's or target's ISO 8601 duration; a bad one is left out."""
    for ref in (raw["object"], raw.get("target")):
        value = _get(ref, "duration")
        # A media object's duration is the length of the recording, not time spent on it.
        if not isinstance(value, str) or _type(ref).endswith("Object"):
            continue
        try:
            seconds = duration_seconds(value, "duration")
        except InvalidEvent:
            continue
        if seconds <= MAX_DURATION_S:
            return seconds
    return None


def context_ids(raw: Raw, assignable: object) -> Iterator[str]:
    """The object's isPartOf (and the one above it), the assignable and the event's group."""
    target = raw["object"]
    parents = [_get(target, "isPartOf"), _get(_get(target, "extensions"), "isPartOf")]
    above = [_get(parent, "isPartOf") for parent in parents]
    for ref in (*parents, assignable, raw.get("group"), *above):
        if (found := _id_of(ref)) is not None:
            yield found


def _subject(raw: Raw, kind: str, rules: RecordRulesInForce) -> tuple[str | None, str | None]:
    """The quiz or exercise id and its skill; none for a session (no course material)."""
    if kind == "SessionEvent":
        return None, None
    target = raw["object"]
    assignable = _prop(target, "assignable")[0]
    activity = _id_of(target)
    if kind == "GradeEvent" or _type(target) == "Attempt":
        activity = _id_of(assignable) or activity
    extensions = (raw.get("extensions"), _get(target, "extensions"), _get(assignable, "extensions"))
    return activity, rules.skill_of(activity, context_ids(raw, assignable), *extensions)


def map_caliper_event(raw: object, rules: RecordRulesInForce) -> Mapped:
    """One envelope item's event, or why it is skipped; `InvalidEvent` if it can be none."""
    if not isinstance(raw, dict):
        message = f"a Caliper event must be an object with {EVENT_FIELDS}"
        raise InvalidEvent(f"{message}, got a JSON {json_type(raw)}")
    if _type(raw) and not _type(raw).endswith("Event") and "action" not in raw:
        # Envelopes may describe entities next to their events (Caliper's `data`).
        return Mapped(None, skipped=f"a {_type(raw)} entity is not an event")
    event = parse_event(raw)
    kind, action = term(event.type), term(event.action)
    treatment = rules.table.action(kind, action)
    if treatment is Treatment.IGNORE:
        return skipped(f"action '{kind}.{action}'", "caliper.actions")
    student = student_of(event, raw, kind)
    activity, skill = _subject(raw, kind, rules)
    at = event.eventTime or rules.received_at
    facts = Facts(
        event_id=event.id or derived_id(raw),
        student_id=student,
        occurred_at=instant(at, "eventTime" if event.eventTime else "received_at"),
        verb=activity_kind(kind, action),
        object_id=activity,
        skill_id=skill,
        score=scaled_score(raw.get("generated")),
        success=success_of(raw.get("generated")),
        duration_s=_duration(raw),
    )
    return typed(facts, treatment, rules)
