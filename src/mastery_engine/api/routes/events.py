"""POST /v1/events: one event or a batch, with per-event results."""

from typing import Any

from fastapi import APIRouter, Request

from mastery_engine.api.bodies import decode, read_limited
from mastery_engine.api.deps import IngestTenant, Service, get_settings
from mastery_engine.api.guards import IngestLimiter
from mastery_engine.api.metrics import Metrics
from mastery_engine.api.responses import FastJSON
from mastery_engine.api.schemas.common import (
    ERROR_RESPONSES,
    EVENT_SCHEMA,
    IngestResponse,
    batch_schema,
    ingest_body,
)
from mastery_engine.core.errors import InvalidEvent, InvalidRequest

router = APIRouter(tags=["events"], responses=ERROR_RESPONSES)

BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One event (a 422 when it breaks the contract), or an array of events"
        " (each gets its own result)",
        "content": {
            "application/json": {"schema": {"oneOf": [EVENT_SCHEMA, batch_schema("an event")]}}
        },
    }
}


@router.post(
    "/v1/events",
    summary="Ingest one event or a batch of up to 1,000",
    response_model=IngestResponse,
    openapi_extra=BODY_DOC,
)
async def post_events(request: Request, service: Service, tenant: IngestTenant) -> FastJSON:
    """Validate and apply events; duplicates (same id in this tenant) change nothing."""
    payload = decode(await read_limited(request, get_settings(request).max_body_bytes))
    limiter: IngestLimiter = request.app.state.limiter
    await limiter.spend(tenant, len(payload) if isinstance(payload, list) else 1)
    metrics: Metrics = request.app.state.metrics
    if isinstance(payload, dict):
        report = await service.ingest(tenant, [payload])
        metrics.ingested("http", report)
        only = report.results[0]
        if only.error is not None:
            raise InvalidEvent(only.error, field=only.field)
        return FastJSON(ingest_body(report))
    if isinstance(payload, list):
        report = await service.ingest(tenant, payload)
        metrics.ingested("http", report)
        return FastJSON(ingest_body(report))
    raise InvalidRequest(
        f"body must be an event object or an array of up to {service.max_batch} event objects,"
        f" got a JSON {type(payload).__name__}"
    )
