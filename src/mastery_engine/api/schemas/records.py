"""The answer of the learning-record routes (xAPI statements, Caliper events): counts and one
result per record, in order."""

from typing import Annotated, Any, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from mastery_engine.service.outcomes import IngestReport, Outcome, Status


class RecordResult(TypedDict):
    """What became of one record."""

    id: str | None
    status: Literal["accepted", "duplicate", "rejected", "skipped"]
    type: NotRequired[Annotated[str, Field(description="The event type it was stored as")]]
    warning: NotRequired[Annotated[str, Field(description="What to map for a better event")]]
    error: NotRequired[Annotated[str, Field(description="Why it was rejected")]]
    field: NotRequired[Annotated[str, Field(description="The field at fault, if one is")]]
    reason: NotRequired[Annotated[str, Field(description="Why it was skipped")]]
    event: NotRequired[
        Annotated[
            dict[str, Any] | None,
            Field(description="With dry_run: the canonical event it maps to (null if none)"),
        ]
    ]


class RecordsResponse(TypedDict):
    """Counts and per-record results, in submission order."""

    accepted: int
    duplicates: int
    rejected: int
    skipped: int
    results: list[RecordResult]


def record_result(outcome: Outcome, dry_run: bool) -> RecordResult:
    """One record's result; `event` only in a dry run."""
    result: RecordResult = {"id": outcome.id, "status": outcome.status.value}
    if outcome.event is not None and outcome.status is not Status.REJECTED:
        result["type"] = outcome.event.type.value
    if outcome.warning is not None:
        result["warning"] = outcome.warning
    if outcome.error is not None:
        result["error"] = outcome.error
    if outcome.field is not None and outcome.status is Status.REJECTED:
        result["field"] = outcome.field
    if outcome.reason is not None:
        result["reason"] = outcome.reason
    if dry_run:
        result["event"] = outcome.event.to_json() if outcome.event is not None else None
    return result


def records_body(report: IngestReport, dry_run: bool = False) -> RecordsResponse:
    """The response of the learning-record routes."""
    return {
        "accepted": report.count(Status.ACCEPTED),
        "duplicates": report.count(Status.DUPLICATE),
        "rejected": report.count(Status.REJECTED),
        "skipped": report.count(Status.SKIPPED),
        "results": [record_result(outcome, dry_run) for outcome in report.results],
    }
