"""The messages of the event streams as pydantic models: their JSON Schemas are generated here.

The event models document the contract that `core.events.parse_event` enforces (the service
validates; these describe). `MasteryChanged` also builds the messages the consumer publishes.
"""

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from mastery_engine.core.access import TENANT_PATTERN
from mastery_engine.core.alerts import Alert
from mastery_engine.core.changes import MasteryChange
from mastery_engine.core.events import (
    BARRED_RANGES,
    ID_PATTERN,
    MAX_DURATION_S,
    MAX_ID_LENGTH,
    URL_ID_PATTERN,
)
from mastery_engine.core.instants import (
    DATE_PATTERN,
    DATE_TIME_PATTERN,
    FIRST_DATE,
    LAST_DATE,
    format_us,
)


def json_pattern(rule: re.Pattern[str]) -> str:
    """A rule the service applies with `fullmatch`, as a JSON Schema `pattern` (ECMA-262)."""
    return f"^(?:{rule.pattern})$"


# The JSON Schemas of the core's rules, for these models and the OpenAPI document alike.
ID_RULE = (
    f"1-{MAX_ID_LENGTH} characters, not only whitespace, no control or invisible characters"
    f" ({BARRED_RANGES})"
)
ID_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_ID_LENGTH,
    "pattern": json_pattern(ID_PATTERN),
    "description": ID_RULE,
}
URL_ID_SCHEMA: dict[str, Any] = {
    **ID_SCHEMA,
    "pattern": json_pattern(URL_ID_PATTERN),
    "description": f"{ID_RULE}, no '/' (it appears in URLs)",
}
DATE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "pattern": json_pattern(DATE_PATTERN),
    "description": f"YYYY-MM-DD, from {FIRST_DATE} to {LAST_DATE}",
    "examples": ["2026-03-01"],
}
DATE_TIME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": json_pattern(DATE_TIME_PATTERN),
    "description": f"RFC 3339 with an offset ('Z' or +hh:mm), dated {FIRST_DATE} to {LAST_DATE}",
    "examples": ["2026-03-01T10:15:00Z"],
}
TENANT_SCHEMA: dict[str, Any] = {"type": "string", "pattern": json_pattern(TENANT_PATTERN)}

Text = Annotated[str, WithJsonSchema(ID_SCHEMA)]
PathText = Annotated[str, WithJsonSchema(URL_ID_SCHEMA)]
Instant = Annotated[str, WithJsonSchema(DATE_TIME_SCHEMA)]
# What the service writes: UTC, which the written-date range of an input can put a day outside.
UtcInstant = Annotated[
    str, Field(description="RFC 3339 in UTC", json_schema_extra={"format": "date-time"})
]
Unit = Annotated[float, Field(ge=0, le=1)]
TenantId = Annotated[str, WithJsonSchema(TENANT_SCHEMA)]
LevelName = Literal["Beginner", "Learning", "Proficient", "Mastered"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: Text = Field(description=f"Idempotency key, unique per tenant: {ID_RULE}")
    student_id: PathText
    occurred_at: Instant = Field(
        description="RFC 3339 with an offset, dated 1970-01-01 to 8999-12-31, and at most"
        " 5 minutes after the server's clock (a rule no schema can state)"
    )
    tenant_id: TenantId | SkipJsonSchema[None] = Field(
        None,
        description="The caller's own tenant, if any (the service refuses any other); on a"
        " broker, the tenant when no `tenant` header names it",
    )


class ExerciseData(BaseModel):
    """An exercise completed."""

    exercise_id: Text


class AttemptData(BaseModel):
    """An exercise attempted."""

    exercise_id: Text
    passed: bool
    error_type: Text | None = None


class QuizData(BaseModel):
    """A graded quiz."""

    quiz_id: Text
    score: Unit


class ReviewData(BaseModel):
    """A reviewed submission."""

    submission_id: Text
    quality: Unit


class ActivityData(BaseModel):
    """Any other activity (a study session, a login)."""

    kind: Text
    duration_s: Annotated[float, Field(ge=0, le=MAX_DURATION_S)] | None = None


class ExerciseCompleted(_Event):
    """exercise.completed: feeds completion (distinct exercises) and consistency."""

    type: Literal["exercise.completed"]
    skill_id: PathText
    data: ExerciseData


class ExerciseAttempted(_Event):
    """exercise.attempted: feeds consistency and struggle detection."""

    type: Literal["exercise.attempted"]
    skill_id: PathText
    data: AttemptData


class QuizGraded(_Event):
    """quiz.graded: feeds the quiz component and consistency."""

    type: Literal["quiz.graded"]
    skill_id: PathText
    data: QuizData


class CodeReviewed(_Event):
    """code.reviewed: feeds the quality component and consistency."""

    type: Literal["code.reviewed"]
    skill_id: PathText
    data: ReviewData


class Activity(_Event):
    """activity: feeds consistency; the skill is optional."""

    type: Literal["activity"]
    skill_id: PathText | None = None
    data: ActivityData


EVENT_MODELS: dict[str, type[_Event]] = {
    "exercise.completed": ExerciseCompleted,
    "exercise.attempted": ExerciseAttempted,
    "quiz.graded": QuizGraded,
    "code.reviewed": CodeReviewed,
    "activity": Activity,
}


class MasteryChanged(BaseModel):
    """mastery.changed: a skill's level changed, or its mastery moved by the threshold or more."""

    type: Literal["mastery.changed"] = "mastery.changed"
    tenant: TenantId
    student_id: PathText
    skill_id: PathText
    old_mastery: Unit
    new_mastery: Unit
    old_level: LevelName
    new_level: LevelName
    as_of: UtcInstant = Field(description="The instant both values were evaluated at")


class StruggleDetected(BaseModel):
    """struggle.detected: a batch made a student's struggle alert fire (repeated errors, low
    quiz scores); time-driven alerts (inactivity, falling mastery) are read, not announced."""

    type: Literal["struggle.detected"] = "struggle.detected"
    tenant: TenantId
    student_id: PathText
    skill_id: PathText | None
    kind: Literal["repeated_error", "low_quiz_scores"]
    message: str
    since: UtcInstant = Field(description="When the condition began")
    detail: dict[str, Any]


def struggle_message(tenant: str, student_id: str, alert: Alert) -> dict[str, Any]:
    """The value of a struggle.detected message."""
    return StruggleDetected(
        tenant=tenant,
        student_id=student_id,
        skill_id=alert.skill_id,
        kind=alert.kind.value,
        message=alert.message,
        since=format_us(alert.since),
        detail=dict(alert.detail),
    ).model_dump(mode="json")


def change_message(tenant: str, change: MasteryChange) -> dict[str, Any]:
    """The value of a mastery.changed message."""
    return MasteryChanged(
        tenant=tenant,
        student_id=change.student_id,
        skill_id=change.skill_id,
        old_mastery=change.old_mastery,
        new_mastery=change.new_mastery,
        old_level=change.old_level.value,
        new_level=change.new_level.value,
        as_of=format_us(change.as_of),
    ).model_dump(mode="json")


Digits = Annotated[str, Field(pattern=r"^[0-9]+$")]


class DeadLetterHeaders(BaseModel):
    """Headers of a dead letter (UTF-8 values); the original headers, such as `tenant`, stay."""

    model_config = ConfigDict(populate_by_name=True)

    reason: Literal["invalid_json", "invalid_event", "unmappable", "invalid_tenant"] = Field(
        alias="dlq.reason"
    )
    error: str = Field(alias="dlq.error", description="What is wrong and what is allowed")
    field: str | None = Field(None, alias="dlq.field", description="The field at fault")
    event_id: str | None = Field(None, alias="dlq.event_id")
    source_topic: str = Field(alias="dlq.source.topic")
    source_partition: Digits = Field(alias="dlq.source.partition")
    source_offset: Digits = Field(alias="dlq.source.offset")
    failed_at: UtcInstant = Field(alias="dlq.failed_at")
    tenant: TenantId | None = Field(None, description="The original tenant header, if any")


class DeadLetter(BaseModel):
    """A message that can never be ingested: its key and value unchanged, the reason in headers."""

    key: str | None = Field(description="The original key (the student id)")
    headers: DeadLetterHeaders
    value: str = Field(description="The original value, byte for byte")
