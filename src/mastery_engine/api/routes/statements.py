"""POST /v1/xapi/statements and POST /v1/caliper/events: learning records mapped onto events.

Each record is mapped with the deployment's skill rules and the tenant's curriculum and
verb / action tables; `?dry_run=true` answers what each record maps to and stores nothing.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from mastery_engine.api.bodies import decode, read_limited
from mastery_engine.api.deps import IngestTenant, get_service, get_settings
from mastery_engine.api.guards import IngestLimiter
from mastery_engine.api.metrics import Metrics
from mastery_engine.api.responses import FastJSON
from mastery_engine.api.schemas.common import ERROR_RESPONSES, batch_schema, inlined
from mastery_engine.api.schemas.records import RecordsResponse, records_body
from mastery_engine.core.errors import InvalidEvent, InvalidRequest
from mastery_engine.core.instants import format_us
from mastery_engine.formats.caliper import map_caliper_event
from mastery_engine.formats.intake import ingest_records
from mastery_engine.formats.records import Mapped, RecordRulesInForce
from mastery_engine.formats.sensor import ENVELOPE_FIELDS, Envelope, caliper_items
from mastery_engine.formats.xapi import Statement, map_statement
from mastery_engine.wiring import decode_rules

router = APIRouter(tags=["learning records"], responses=ERROR_RESPONSES)
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Body is not JSON"},
    413: {"description": "More than 1,000 records or 1 MiB"},
    422: {"description": "The body is not a statement, an array or an envelope"},
}
# What makes a JSON object a statement: the fields the mapping cannot do without. The rest
# (a mapped verb, a student, a skill, the event contract) is checked statement by statement,
# as it depends on the deployment's settings, the tenant and relations between fields.
STATEMENT_FIELDS = tuple(
    name for name, field in Statement.model_fields.items() if field.is_required()
)
STATEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(STATEMENT_FIELDS),
    "description": "One xAPI 1.0.3 statement; mapped onto an event, it gets its result",
}
XAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One xAPI 1.0.3 statement or an array of statements",
        "content": {
            "application/json": {
                "schema": {"oneOf": [STATEMENT_SCHEMA, batch_schema("a statement")]}
            }
        },
    }
}
_ENVELOPE = inlined(Envelope.model_json_schema())
_ENVELOPE["properties"]["data"] |= {
    **batch_schema("a Caliper event"),
    "minItems": 1,
}
CALIPER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"A Caliper 1.1 or 1.2 envelope ({ENVELOPE_FIELDS}) or one event",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _ENVELOPE,
                        {
                            "type": "object",
                            "required": ["type", "action", "actor", "object", "eventTime"],
                            "description": "One Caliper event",
                        },
                    ]
                }
            }
        },
    }
}
DryRun = Annotated[
    bool,
    Query(description="Answer what each record maps to (`event`) and store nothing"),
]


def _statements(payload: Any) -> int:
    return len(payload) if isinstance(payload, list) else 1


def _envelope_events(payload: Any) -> int:
    events = payload.get("data") if isinstance(payload, dict) else None
    return max(1, len(events)) if isinstance(events, list) else 1


async def _payload(request: Request, tenant: str, records: Callable[[Any], int]) -> Any:
    """The decoded body, once the tenant's rate limit had room for its records."""
    payload = decode(await read_limited(request, get_settings(request).max_body_bytes))
    limiter: IngestLimiter = request.app.state.limiter
    await limiter.spend(tenant, records(payload))
    return payload


async def _ingest(
    request: Request,
    tenant: str,
    records: list[Any],
    mapping: Callable[[Any, RecordRulesInForce], Mapped],
    channel: str,
    dry_run: bool,
) -> FastJSON:
    service = get_service(request)
    rules, now = await service.rules(tenant), format_us(service.clock())
    in_force = decode_rules(get_settings(request)).in_force(channel, rules, now)
    time_field = "eventTime" if channel == "caliper" else "timestamp"
    report = await ingest_records(
        service,
        tenant,
        records,
        lambda raw: mapping(raw, in_force),
        time_field=time_field,
        dry_run=dry_run,
    )
    if not dry_run:
        metrics: Metrics = request.app.state.metrics
        metrics.ingested(channel, report)
    return FastJSON(records_body(report, dry_run))


@router.post(
    "/v1/xapi/statements",
    summary="Ingest xAPI statements (one or an array) as learning events",
    response_model=RecordsResponse,
    openapi_extra=XAPI_BODY,
    responses=RESPONSES,
)
async def post_statements(
    request: Request, tenant: IngestTenant, dry_run: DryRun = False
) -> FastJSON:
    """Map each statement onto an event (statement id = event id) and apply them as one batch.

    Every statement gets its result, a lone one too: `accepted` (with the event type),
    `duplicate`, `skipped` (with the reason: enrolment, bookkeeping) or `rejected` (with
    the error).
    """
    payload = await _payload(request, tenant, _statements)
    if isinstance(payload, list):
        return await _ingest(request, tenant, payload, map_statement, "xapi", dry_run)
    if not isinstance(payload, dict):
        raise InvalidRequest(
            f"body must be a statement object or an array of statements, got a JSON"
            f" {type(payload).__name__}"
        )
    missing = [name for name in STATEMENT_FIELDS if name not in payload]
    if missing:
        raise InvalidEvent(
            f"a statement needs {', '.join(STATEMENT_FIELDS)}; missing: {', '.join(missing)}",
            field=missing[0],
        )
    return await _ingest(request, tenant, [payload], map_statement, "xapi", dry_run)


@router.post(
    "/v1/caliper/events",
    summary="Ingest Caliper 1.1 / 1.2 events (an envelope or one event) as learning events",
    response_model=RecordsResponse,
    openapi_extra=CALIPER_BODY,
    responses=RESPONSES,
)
async def post_caliper(request: Request, tenant: IngestTenant, dry_run: DryRun = False) -> FastJSON:
    """Map each event onto a learning event; one result per envelope item (an entity in the
    envelope's data is `skipped`)."""
    payload = await _payload(request, tenant, _envelope_events)
    events = caliper_items(payload)
    return await _ingest(request, tenant, events, map_caliper_event, "caliper", dry_run)
