"""The messages of the event streams as pydantic models: their JSON Schemas are generated here.

The event models document the contract that `core.events.parse_event` enforces (the service
validates; these describe). `MasteryChanged` also builds the messages the consumer publishes.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mastery_engine.core.alerts import Alert
from mastery_engine.core.changes import MasteryChange
from mastery_engine.core.instants import format_us

Text = Annotated[
    str,
    Field(min_length=1, max_length=256, pattern=r"^[^\u0000-\u001f\u007f]+$"),
]
PathText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        pattern=r"^[^/\u0000-\u001f\u007f]+$",
        description="Printable text without '/' (it appears in URLs)",
    ),
]
Instant = Annotated[
    str, Field(description="RFC 3339 with an offset", json_schema_extra={"format": "date-time"})
]
Unit = Annotated[float, Field(ge=0, le=1)]
TenantId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
LevelName = Literal["Beginner", "Learning", "Proficient", "Mastered"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: Text = Field(description="Idempotency key, unique per tenant")
    student_id: PathText
    occurred_at: Instant = Field(description="RFC 3339 with an offset; at most 5 min ahead")
    tenant_id: TenantId | None = Field(
        None, description="Broker deliveries only: the tenant, when no `tenant` header names it"
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
    duration_s: Annotated[float, Field(ge=0, le=366 * 86_400)] | None = None


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
    as_of: Instant = Field(description="The instant both values were evaluated at")


class StruggleDetected(BaseModel):
    """struggle.detected: a batch made a student's struggle alert fire (repeated errors, low
    quiz scores); time-driven alerts (inactivity, falling mastery) are read, not announced."""

    type: Literal["struggle.detected"] = "struggle.detected"
    tenant: TenantId
    student_id: PathText
    skill_id: PathText | None
    kind: Literal["repeated_error", "low_quiz_scores"]
    message: str
    since: Instant = Field(description="When the condition began")
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
    failed_at: Instant = Field(alias="dlq.failed_at")
    tenant: TenantId | None = Field(None, description="The original tenant header, if any")


class DeadLetter(BaseModel):
    """A message that can never be ingested: its key and value unchanged, the reason in headers."""

    key: str | None = Field(description="The original key (the student id)")
    headers: DeadLetterHeaders
    value: str = Field(description="The original value, byte for byte")
