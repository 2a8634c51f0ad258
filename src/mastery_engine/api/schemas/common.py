"""Shared parameters, request bodies and errors as documented in OpenAPI; ingestion results.

Each response shape is a TypedDict: FastAPI documents it (`response_model=`), and its builder
returns it, so mypy checks that the dict sent has exactly the documented keys and types.
"""

from typing import Annotated, Any, NotRequired

from fastapi import Path, Query
from pydantic import Field, WithJsonSchema
from typing_extensions import TypedDict

from mastery_engine.formats.contracts import (
    DATE_SCHEMA,
    DATE_TIME_SCHEMA,
    EVENT_MODELS,
    TENANT_SCHEMA,
    URL_ID_SCHEMA,
)
from mastery_engine.service.outcomes import IngestReport, Status
from mastery_engine.settings import Settings

EVENT_EXAMPLE: dict[str, Any] = {
    "id": "7b1e5f0c-quiz-1",
    "type": "quiz.graded",
    "student_id": "s-42",
    "skill_id": "functions",
    "occurred_at": "2026-03-01T10:15:00Z",
    "data": {"quiz_id": "q7", "score": 0.8},
}
MAX_BATCH: int = Settings.model_fields["max_batch_events"].default  # as documented


def inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON Schema with each `$ref` replaced by its definition.

    Inside the OpenAPI document, `#/$defs/...` would resolve against the document's root.
    """
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            rest = {key: value for key, value in node.items() if key != "$ref"}
            return resolve({**definitions[node["$ref"].rsplit("/", 1)[1]], **rest})
        return {key: resolve(value) for key, value in node.items() if key != "$defs"}

    resolved: dict[str, Any] = resolve(schema)
    return resolved


# A lone event: the contract `core.events.parse_event` enforces, from the same models as the
# stream schemas; all of it but what no schema can state: at most 5 minutes ahead of the
# server's clock, and a `tenant_id` (if any) that is the caller's own.
EVENT_SCHEMA: dict[str, Any] = {
    "title": "Event",
    "description": "A learning event; `type` selects the shape of `data`.",
    "oneOf": [inlined(model.model_json_schema()) for model in EVENT_MODELS.values()],
    "examples": [EVENT_EXAMPLE],
}


# POST /dapr/events (`openapi_extra`): Dapr's subscriber contract answers every delivery 200,
# DROP included, so any body (or none) is accepted; the shapes that get SUCCESS are named.
DAPR_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "A CloudEvent 1.0 in structured mode whose `data` is a learning event"
        " (with rawPayload, the bare event). Every delivery is answered 200: SUCCESS (applied"
        " or duplicate), RETRY (store unavailable), or DROP with the reason (anything that can"
        " never be ingested: another JSON value, a broken event, no JSON at all)",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {
                            "title": "CloudEvent",
                            "type": "object",
                            "required": ["specversion", "id", "source", "type", "data"],
                            "properties": {
                                "specversion": {"const": "1.0"},
                                "tenant": TENANT_SCHEMA,
                                "data": EVENT_SCHEMA,
                            },
                        },
                        EVENT_SCHEMA,
                        {"description": "Anything else: answered 200, DROP, with the reason"},
                    ]
                }
            }
        },
    }
}


def batch_schema(item: str) -> dict[str, Any]:
    """An array of up to MAX_BATCH values, each checked on its own with a result of its own."""
    return {
        "type": "array",
        "maxItems": MAX_BATCH,
        "items": {
            "description": f"Any JSON value, checked on its own as {item}: each gets its own"
            " result (`rejected`, with the reason, when it cannot be ingested)"
        },
    }


AS_OF_SCHEMA: dict[str, Any] = {"anyOf": [DATE_SCHEMA, DATE_TIME_SCHEMA]}
AsOf = Annotated[
    str | None,
    Query(description="A date (the end of that UTC day) or an RFC 3339 date-time; default now"),
    WithJsonSchema(AS_OF_SCHEMA),
]
StudentId = Annotated[
    str, Path(description="A student of the caller's tenant"), WithJsonSchema(URL_ID_SCHEMA)
]
SkillId = Annotated[str, Path(description="A skill"), WithJsonSchema(URL_ID_SCHEMA)]


class ErrorOut(TypedDict):
    """Every error: what was wrong and what is allowed, a stable code, the field if any."""

    detail: str
    code: str
    field: str | None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "The body is not JSON",
        401: "No valid Bearer token (see WWW-Authenticate)",
        403: "The caller's roles may not do this",
        404: "Unknown student, skill or class (in this tenant)",
        413: "Body or batch too large",
        422: "A parameter or body breaks the contract",
        429: "The tenant is over its ingestion rate (see Retry-After)",
        503: "The store is unreachable, or analytics are still being computed (see Retry-After)",
    }.items()
}


class EventResult(TypedDict):
    """Outcome of one submitted event."""

    id: str | None
    status: Status
    error: NotRequired[Annotated[str, Field(description="Present only when rejected")]]


class IngestResponse(TypedDict):
    """Counts and per-event results, in submission order."""

    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]


def ingest_body(report: IngestReport) -> IngestResponse:
    """The response of POST /v1/events; `error` only on rejected events."""
    results = []
    for r in report.results:
        item: EventResult = {"id": r.id, "status": r.status}
        if r.error is not None:
            item["error"] = r.error
        results.append(item)
    return {
        "accepted": report.count(Status.ACCEPTED),
        "duplicates": report.count(Status.DUPLICATE),
        "rejected": report.count(Status.REJECTED),
        "results": results,
    }
