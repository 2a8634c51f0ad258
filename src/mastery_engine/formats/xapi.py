"""xAPI 1.0.3 statements mapped onto canonical events; pure functions, no I/O.

| verb | with | event |
| --- | --- | --- |
| completed | - | exercise.completed (exercise = activity id) |
| answered, scored, passed, failed | result.score | quiz.graded (quiz = activity id) |
| answered, passed, failed | no score; result.success or the verb | exercise.attempted |
| progressed, experienced | - | activity (kind = the verb; duration from result.duration) |

Student: `actor.account.name`, else the address of `actor.mbox`, else `actor.mbox_sha1sum`.
Skill: the `SkillRule` (an extension in `context.extensions` or the activity definition's
`extensions`, else the shape of the activity id). Event id: the statement id.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mastery_engine.core.errors import InvalidEvent
from mastery_engine.formats.mapping import SkillRule, duration_seconds, first_error, instant

VERB_BASES = ("http://adlnet.gov/expapi/verbs/", "https://w3id.org/xapi/adl/verbs/")
SCORED = ("answered", "scored", "passed", "failed")
SESSIONS = ("progressed", "experienced")
VERBS = ("completed", *SCORED, *SESSIONS)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Account(_Open):
    """An account on some system."""

    homePage: str | None = None
    name: str = Field(min_length=1)


class Agent(_Open):
    """The learner; exactly one identifier is expected."""

    objectType: Literal["Agent"] | None = None
    name: str | None = None
    mbox: str | None = None
    mbox_sha1sum: str | None = None
    openid: str | None = None
    account: Account | None = None


class Verb(_Open):
    """What the learner did, as an IRI."""

    id: str = Field(min_length=1)


class Definition(_Open):
    """The activity's metadata; only its extensions matter here."""

    extensions: dict[str, Any] | None = None


class Activity(_Open):
    """The statement's object; only activities map onto events."""

    objectType: Literal["Activity"] | None = None
    id: str = Field(min_length=1)
    definition: Definition | None = None


class Score(_Open):
    """A result's score."""

    scaled: float | None = Field(None, ge=-1, le=1)
    raw: float | None = None
    min: float | None = None
    max: float | None = None


class Result(_Open):
    """The measured outcome."""

    score: Score | None = None
    success: bool | None = None
    completion: bool | None = None
    duration: str | None = None


class Context(_Open):
    """Context; only its extensions matter here."""

    extensions: dict[str, Any] | None = None


class Statement(_Open):
    """An xAPI statement, as far as the mapping reads it."""

    id: str | None = None
    actor: Agent
    verb: Verb
    object: Activity
    result: Result | None = None
    context: Context | None = None
    timestamp: str | None = None


def parse_statement(raw: object) -> Statement:
    """Validate the statement's shape, or raise `InvalidEvent` naming the first field at fault."""
    try:
        return Statement.model_validate(raw)
    except ValidationError as exc:
        raise first_error(exc.errors()) from None


def verb_name(verb_id: str) -> str:
    """`http://adlnet.gov/expapi/verbs/answered` -> `answered`, for the verbs that map."""
    for base in VERB_BASES:
        name = verb_id.removeprefix(base)
        if name != verb_id and name in VERBS:
            return name
    raise InvalidEvent(
        f"verb {verb_id!r} is not mapped; allowed: {', '.join(VERBS)} (as {VERB_BASES[0]}<verb>)",
        field="verb.id",
    )


def student_of(actor: Agent) -> str:
    """The student id an actor carries."""
    if actor.account is not None:
        student, where = actor.account.name, "actor.account.name"
    elif actor.mbox:
        student, where = actor.mbox.removeprefix("mailto:"), "actor.mbox"
    elif actor.mbox_sha1sum:
        student, where = actor.mbox_sha1sum, "actor.mbox_sha1sum"
    else:
        raise InvalidEvent(
            "actor needs account.name, mbox or mbox_sha1sum to name the student", field="actor"
        )
    if "/" in student or not student.strip():
        raise InvalidEvent(f"{where} {student!r} cannot be a student id (no '/')", field=where)
    return student


def scaled_score(result: Result | None) -> float | None:
    """The score in [0, 1]: `scaled`, else `raw` within `min`..`max`; None when absent."""
    score = result.score if result is not None else None
    if score is None:
        return None
    if score.scaled is not None:
        if score.scaled < 0:
            raise InvalidEvent(
                f"result.score.scaled is {score.scaled:g}; only 0..1 maps onto a score",
                field="result.score.scaled",
            )
        return score.scaled
    low, high, raw = score.min, score.max, score.raw
    if raw is not None and low is not None and high is not None and low <= raw <= high != low:
        return (raw - low) / (high - low)
    raise InvalidEvent(
        "result.score needs scaled (0..1), or raw within min < max", field="result.score"
    )


def _typed(verb: str, statement: Statement) -> dict[str, Any]:
    activity, result = statement.object.id, statement.result
    if verb == "completed":
        return {"type": "exercise.completed", "data": {"exercise_id": activity}}
    if verb in SESSIONS:
        data: dict[str, Any] = {"kind": verb}
        if result is not None and result.duration is not None:
            data["duration_s"] = duration_seconds(result.duration, "result.duration")
        return {"type": "activity", "data": data}
    score = scaled_score(result)
    if score is not None:
        return {"type": "quiz.graded", "data": {"quiz_id": activity, "score": score}}
    success = result.success if result is not None else None
    passed = {"passed": True, "failed": False}.get(verb, success)
    if passed is None:
        raise InvalidEvent(
            f"a statement {verb!r} needs result.score or result.success", field="result"
        )
    return {"type": "exercise.attempted", "data": {"exercise_id": activity, "passed": passed}}


def statement_to_event(raw: object, rule: SkillRule, received_at: str) -> dict[str, Any]:
    """The canonical event of one statement; `received_at` stands in for a missing timestamp."""
    statement = parse_statement(raw)
    if statement.id is None:
        raise InvalidEvent(
            "id is required: it is the event id that makes re-sends safe", field="id"
        )
    verb = verb_name(statement.verb.id)
    definition = statement.object.definition
    skill = rule.skill_of(
        statement.object.id,
        statement.context.extensions if statement.context else None,
        definition.extensions if definition else None,
    )
    if skill is None and verb not in SESSIONS:
        raise InvalidEvent(rule.explain(statement.object.id), field="object.id")
    event: dict[str, Any] = {
        "id": statement.id,
        "student_id": student_of(statement.actor),
        "occurred_at": instant(statement.timestamp or received_at, "timestamp"),
        **_typed(verb, statement),
    }
    return event if skill is None else {**event, "skill_id": skill}


def looks_like_statement(doc: object) -> bool:
    """True for a JSON object shaped like an xAPI statement (actor, verb, object)."""
    return isinstance(doc, dict) and {"actor", "verb", "object"} <= doc.keys()
