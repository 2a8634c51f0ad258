"""xAPI statements (1.0.3, and what real emitters send) mapped onto canonical events; pure.

What a statement becomes is decided by its verb (`core.records`: graded, completed, attempted,
activity, ignore), its result and its skill (`formats.records`).

Student: `actor.account.name`, else the address of `actor.mbox`, else `actor.mbox_sha1sum`,
else the last segment of `actor.openid`. Event id: the statement id, else a version-5 UUID of
the statement. Time: `timestamp`, else `stored`, else the time it was received.
Score: `result.score.scaled` (a negative one counts as 0), else `(raw - min) / (max - min)`;
none when min and max leave an empty range.
"""

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from mastery_engine.core.errors import InvalidEvent
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

CONTEXT_KEYS = ("parent", "grouping", "other", "category")
VERDICTS = {"passed": True, "failed": False}  # verbs that say whether the attempt succeeded
Number = StrictInt | StrictFloat


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Account(_Open):
    """An account on some system."""

    homePage: str | None = None
    name: str = Field(min_length=1)


class Agent(_Open):
    """The learner; one of its identifiers names the student."""

    objectType: Literal["Agent"] | None = None
    mbox: str | None = None
    mbox_sha1sum: str | None = None
    openid: str | None = None
    account: Account | None = None


class Verb(_Open):
    """What the learner did, as an IRI."""

    id: str = Field(min_length=1)


class Target(_Open):
    """The statement's object: an activity (or whatever an emitter sends) with its id."""

    objectType: str | None = None
    id: str | None = None
    definition: dict[str, Any] | None = None


class Score(_Open):
    """A result's score; any of its fields may be missing."""

    scaled: Number | None = None
    raw: Number | None = None
    min: Number | None = None
    max: Number | None = None


class Result(_Open):
    """The measured outcome."""

    score: Score | None = None
    success: bool | None = None
    duration: str | None = None


class Context(_Open):
    """Where the statement happened: its context activities and extensions."""

    contextActivities: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None


class Statement(_Open):
    """An xAPI statement, as far as the mapping reads it."""

    id: str | None = None
    actor: Agent
    verb: Verb
    object: Target
    result: Result | None = None
    context: Context | None = None
    timestamp: str | None = None
    stored: str | None = None


def parse_statement(raw: object) -> Statement:
    """Validate the statement's shape, or raise `InvalidEvent` naming the first field at fault."""
    if not isinstance(raw, dict):
        kind = "null" if raw is None else type(raw).__name__
        raise InvalidEvent(
            f"a statement must be an object with actor, verb and object, got a JSON {kind}"
        )
    try:
        return Statement.model_validate(raw)
    except ValidationError as exc:
        raise first_error(exc.errors()) from None


def student_of(actor: Agent) -> str:
    """The student id an actor carries."""
    if actor.account is not None:
        student, where = actor.account.name, "actor.account.name"
    elif actor.mbox:
        student, where = actor.mbox.removeprefix("mailto:"), "actor.mbox"
    elif actor.mbox_sha1sum:
        student, where = actor.mbox_sha1sum, "actor.mbox_sha1sum"
    elif actor.openid:
        student, where = last_segment(actor.openid), "actor.openid"
    else:
        raise InvalidEvent(
            "actor needs account.name, mbox, mbox_sha1sum or openid to name the student",
            field="actor",
        )
    if "/" in student or not student.strip():
        raise InvalidEvent(f"{where} {student!r} cannot be a student id (no '/')", field=where)
    return student


def scaled_score(result: Result | None) -> float | None:
    """The score in [0, 1]: `scaled` (below 0 counts as 0), else `raw` within `min`..`max`.

    None when there is no score, too little of one to tell (raw without min and max), or an
    empty range (max <= min).
    """
    score = result.score if result is not None else None
    if score is None:
        return None
    if score.min is not None and score.max is not None and score.max <= score.min:
        return None  # an empty range (Open edX's ungraded problems): no score at all
    if score.scaled is not None:
        if score.scaled > 1:
            raise InvalidEvent(
                f"result.score.scaled is {score.scaled:g}; a scaled score is at most 1",
                field="result.score.scaled",
            )
        return max(float(score.scaled), 0.0)
    low, high, raw = score.min, score.max, score.raw
    if raw is None or low is None or high is None or high <= low:
        return None
    if not low <= raw <= high:
        raise InvalidEvent(
            f"result.score.raw {raw:g} is outside min {low:g} .. max {high:g}",
            field="result.score.raw",
        )
    return (raw - low) / (high - low)


def context_ids(context: Context | None) -> Iterator[str]:
    """The ids of the statement's context activities (parent, grouping, other, category)."""
    activities = context.contextActivities if context is not None else None
    for key in CONTEXT_KEYS:
        found = activities.get(key) if activities else None
        for item in found if isinstance(found, list) else [found]:
            if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                yield item["id"]


def map_statement(raw: object, rules: RecordRulesInForce) -> Mapped:
    """The canonical event of one statement, or why it is skipped; `InvalidEvent` if it can
    never be a learner's event."""
    statement = parse_statement(raw)
    verb = statement.verb.id
    name = last_segment(verb)
    treatment = rules.table.verb(verb)
    if treatment is Treatment.IGNORE:
        return skipped(f"verb {verb!r}", "xapi.verbs")
    result, target = statement.result, statement.object
    definition = target.definition or {}
    skill = rules.skill_of(
        target.id,
        context_ids(statement.context),
        statement.context.extensions if statement.context else None,
        definition.get("extensions"),
    )
    success = result.success if result is not None else None
    duration = result.duration if result is not None else None
    facts = Facts(
        event_id=statement.id or derived_id(raw),
        student_id=student_of(statement.actor),
        occurred_at=instant(_time(statement, rules), _time_field(statement)),
        verb=name,
        object_id=target.id,
        skill_id=skill,
        score=scaled_score(result),
        success=VERDICTS.get(name, success),
        duration_s=duration_seconds(duration, "result.duration") if duration else None,
    )
    return typed(facts, treatment, rules)


def _time(statement: Statement, rules: RecordRulesInForce) -> str:
    return statement.timestamp or statement.stored or rules.received_at


def _time_field(statement: Statement) -> str:
    if statement.timestamp:
        return "timestamp"
    return "stored" if statement.stored else "received_at"


def looks_like_statement(doc: object) -> bool:
    """True for a JSON object shaped like an xAPI statement (actor, verb, object)."""
    return isinstance(doc, dict) and {"actor", "verb", "object"} <= doc.keys()
