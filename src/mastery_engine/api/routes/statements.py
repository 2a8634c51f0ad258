"""POST /v1/xapi/statements and POST /v1/caliper/events: learning records mapped onto events."""

from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Request

from mastery_engine.api.bodies import decode, read_limited
from mastery_engine.api.deps import IngestTenant, Service, get_service, get_settings
from mastery_engine.api.guards import IngestLimiter
from mastery_engine.api.metrics import Metrics
from mastery_engine.api.responses import FastJSON
from mastery_engine.api.schemas.common import (
    ERROR_RESPONSES,
    IngestResponse,
    batch_schema,
    ingest_body,
    inlined,
)
from mastery_engine.core.errors import InvalidEvent, InvalidRequest
from mastery_engine.core.instants import format_us
from mastery_engine.formats.caliper import (
    ENVELOPE_FIELDS,
    Envelope,
    event_to_canonical,
    parse_envelope,
)
from mastery_engine.formats.intake import ingest_mapped
from mastery_engine.formats.xapi import Statement, statement_to_event
from mastery_engine.wiring import skill_rule

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
        "description": f"A Caliper 1.2 envelope: {ENVELOPE_FIELDS}",
        "content": {"application/json": {"schema": _ENVELOPE}},
    }
}


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
    items: list[Any],
    convert: Callable[[object], dict[str, Any]],
    channel: str,
) -> FastJSON:
    report = await ingest_mapped(get_service(request), tenant, items, convert)
    metrics: Metrics = request.app.state.metrics
    metrics.ingested(channel, report)
    return FastJSON(ingest_body(report))


@router.post(
    "/v1/xapi/statements",
    summary="Ingest xAPI statements (one or an array) as learning events",
    response_model=IngestResponse,
    openapi_extra=XAPI_BODY,
    responses=RESPONSES,
)
async def post_statements(request: Request, service: Service, tenant: IngestTenant) -> FastJSON:
    """Map each statement onto an event (statement id = event id) and apply them as one batch.

    Every statement gets its result, a lone one too: one the mapping cannot take is `rejected`
    with the reason.
    """
    payload = await _payload(request, tenant, _statements)
    settings = get_settings(request)
    rule = skill_rule(settings, settings.xapi_skill_extension)
    convert = partial(statement_to_event, rule=rule, received_at=format_us(service.clock()))
    if isinstance(payload, list):
        return await _ingest(request, tenant, payload, convert, channel="xapi")
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
    return await _ingest(request, tenant, [payload], convert, channel="xapi")


@router.post(
    "/v1/caliper/events",
    summary="Ingest a Caliper 1.2 envelope's events as learning events",
    response_model=IngestResponse,
    openapi_extra=CALIPER_BODY,
    responses=RESPONSES,
)
async def post_caliper(request: Request, tenant: IngestTenant) -> FastJSON:
    """Map each event of the envelope onto a learning event; one result per envelope item."""
    payload = await _payload(request, tenant, _envelope_events)
    envelope = parse_envelope(payload)
    settings = get_settings(request)
    convert = partial(
        event_to_canonical, rule=skill_rule(settings, settings.caliper_skill_extension)
    )
    if not envelope.data:
        raise InvalidEvent("data: the envelope holds no events", field="data")
    return await _ingest(request, tenant, envelope.data, convert, channel="caliper")
