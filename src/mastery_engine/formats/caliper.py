"""Caliper 1.2 envelopes and events mapped onto canonical events; pure functions, no I/O.

| event, action | event |
| --- | --- |
| GradeEvent Graded | quiz.graded: the attempt's assignee, its assignable, scoreGiven / maxScore |
| AssessmentItemEvent with a generated Score | quiz.graded on the item |
| AssessmentItemEvent Started, Skipped, Completed | activity `assessment_item.<action>` |
| AssignableEvent Completed, Submitted | exercise.completed (exercise = the assignable's id) |
| SessionEvent LoggedIn, LoggedOut, TimedOut | activity `session.<action>` (no skill) |

Student: the last path segment of the person's IRI (`https://example.edu/users/554433` ->
`554433`): the actor, or for a grade the attempt's assignee, or the session's user.
Skill: the `SkillRule` (an `extensions` key of the event, object or assignable, else the
shape of the activity id). Event id: the Caliper event id.
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mastery_engine.core.errors import InvalidEvent
from mastery_engine.formats.mapping import SkillRule, first_error, instant, last_segment

SESSION_ACTIONS = ("LoggedIn", "LoggedOut", "TimedOut")
ITEM_ACTIONS = ("Started", "Skipped", "Completed")
ASSIGNABLE_ACTIONS = ("Completed", "Submitted")
MAPPED = (
    "GradeEvent Graded; AssessmentItemEvent Started, Skipped, Completed;"
    " AssignableEvent Completed, Submitted; SessionEvent LoggedIn, LoggedOut, TimedOut"
)


StrictNumber = Annotated[float, Field(strict=True)] | Annotated[int, Field(strict=True)]

ENVELOPE_FIELDS = "sensor, sendTime, dataVersion and data (a list of events)"
EVENT_FIELDS = "id, type, action, actor, object and eventTime"


class Entity(BaseModel):
    """A Caliper entity, as far as the mapping reads it; others may be thinned to an IRI."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1)
    type: str | None = None
    extensions: dict[str, Any] | None = None
    assignee: "Entity | str | None" = None
    assignable: "Entity | str | None" = None
    user: "Entity | str | None" = None
    scoreGiven: StrictNumber | None = None
    maxScore: StrictNumber | None = None


class CaliperEvent(BaseModel):
    """A Caliper event."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1)
    type: str
    action: str
    actor: Entity | str
    object: Entity | str
    generated: Entity | str | None = None
    eventTime: str
    session: Entity | str | None = None
    extensions: dict[str, Any] | None = None


class Envelope(BaseModel):
    """A Sensor API envelope: who sent it, when, and a list of events (or entities)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    sensor: str
    sendTime: str
    dataVersion: str
    data: list[Any]


def parse_envelope(raw: object) -> Envelope:
    """Validate an envelope, or raise `InvalidEvent` naming the first field at fault."""
    if not isinstance(raw, dict):
        raise InvalidEvent(
            f"body must be a Caliper envelope object with {ENVELOPE_FIELDS},"
            f" got a JSON {type(raw).__name__}"
        )
    try:
        return Envelope.model_validate(raw)
    except ValidationError as exc:
        raise first_error(exc.errors()) from None


def _id(ref: Entity | str | None) -> str | None:
    return ref if isinstance(ref, str) or ref is None else ref.id


def _extensions(ref: Entity | str | None) -> dict[str, Any] | None:
    return ref.extensions if isinstance(ref, Entity) else None


def _session_user(event: CaliperEvent) -> Entity | str | None:
    """The user of the event's session, or of the Session it acts on (a TimedOut)."""
    for session in (event.session, event.object):
        if isinstance(session, Entity) and session.user is not None:
            return session.user
    return None


def _student(event: CaliperEvent) -> str:
    person: Entity | str | None = event.actor
    if event.type == "GradeEvent" and isinstance(event.object, Entity):
        person = event.object.assignee
    elif isinstance(person, Entity) and person.type not in (None, "Person"):
        person = _session_user(event)
    iri = _id(person)
    student = last_segment(iri) if iri else ""
    if not student:
        raise InvalidEvent("no person to name the student (actor, assignee or session user)")
    return student


def _score(generated: Entity | str | None) -> float | None:
    if not isinstance(generated, Entity) or generated.scoreGiven is None:
        return None
    given, most = generated.scoreGiven, generated.maxScore
    if most is None:
        raise InvalidEvent(
            "generated.maxScore is required with scoreGiven (the score is scoreGiven / maxScore)",
            field="generated.maxScore",
        )
    if most <= 0 or not 0 <= given <= most:
        raise InvalidEvent(
            f"generated score {given:g} of {most} does not map onto 0..1 (needs 0 <= given <= max)",
            field="generated.scoreGiven",
        )
    return given / most


def _activity(event: CaliperEvent) -> tuple[str, Entity | str]:
    """The id the skill is read from, and the entity carrying it."""
    target = event.object
    if event.type == "GradeEvent" and isinstance(target, Entity) and target.assignable:
        target = target.assignable
    activity = _id(target)
    assert activity is not None
    return activity, target


def _typed(event: CaliperEvent, activity: str) -> dict[str, Any]:
    kind, action = event.type, event.action
    if kind == "GradeEvent" and action != "Graded":
        raise InvalidEvent(f"{kind} {action} is not mapped; mapped: {MAPPED}", field="action")
    score = _score(event.generated)
    if kind in ("GradeEvent", "AssessmentItemEvent") and score is not None:
        return {"type": "quiz.graded", "data": {"quiz_id": activity, "score": score}}
    if kind == "GradeEvent":
        raise InvalidEvent("a GradeEvent needs a generated Score with scoreGiven and maxScore")
    if kind == "AssessmentItemEvent" and action in ITEM_ACTIONS:
        return {"type": "activity", "data": {"kind": f"assessment_item.{action.lower()}"}}
    if kind == "AssignableEvent" and action in ASSIGNABLE_ACTIONS:
        return {"type": "exercise.completed", "data": {"exercise_id": activity}}
    if kind == "SessionEvent" and action in SESSION_ACTIONS:
        return {"type": "activity", "data": {"kind": f"session.{action.lower()}"}}
    raise InvalidEvent(f"{kind} {action} is not mapped; mapped: {MAPPED}", field="type")


def event_to_canonical(raw: object, rule: SkillRule) -> dict[str, Any]:
    """The canonical event of one Caliper event."""
    if not isinstance(raw, dict):
        raise InvalidEvent(
            f"a Caliper event must be an object with {EVENT_FIELDS},"
            f" got a JSON {type(raw).__name__}"
        )
    try:
        event = CaliperEvent.model_validate(raw)
    except ValidationError as exc:
        raise first_error(exc.errors()) from None
    activity, target = _activity(event)
    typed = _typed(event, activity)
    canonical: dict[str, Any] = {
        "id": event.id,
        "student_id": _student(event),
        "occurred_at": instant(event.eventTime, "eventTime"),
        **typed,
    }
    if event.type == "SessionEvent":
        return canonical
    extensions = (event.extensions, _extensions(event.object), _extensions(target))
    skill = rule.skill_of(activity, *extensions)
    if skill is None:
        raise InvalidEvent(rule.explain(activity), field="object.id")
    return {**canonical, "skill_id": skill}
