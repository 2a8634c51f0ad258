"""Dapr pub/sub: GET /dapr/subscribe and the route Dapr delivers CloudEvents to.

The tenant of a delivery is the CloudEvent's `tenant` extension attribute (else the event's
`tenant_id`, else MASTERY_KAFKA_DEFAULT_TENANT). That is trusted only because the channel is
authenticated: the sidecar is the only caller, and it proves itself with the app token
(MASTERY_DAPR_APP_TOKEN, Dapr's APP_API_TOKEN, sent as `dapr-api-token`). With authentication
on and no app token configured, `create_app` leaves these routes out (404).
"""

from typing import Any

from fastapi import APIRouter, Request

from mastery_engine.api.bodies import read_limited
from mastery_engine.api.deps import AppSettings, DaprSidecar, Service
from mastery_engine.api.metrics import Metrics
from mastery_engine.api.schemas.common import DAPR_BODY, ERROR_RESPONSES
from mastery_engine.api.schemas.operations import DaprAnswer
from mastery_engine.sources.dapr import deliver, subscriptions
from mastery_engine.wiring import decode_rules

router = APIRouter(tags=["dapr"], responses=ERROR_RESPONSES, dependencies=[DaprSidecar])
EVENTS_ROUTE = "/dapr/events"


@router.get("/dapr/subscribe", summary="Dapr programmatic subscription")
async def subscribe(settings: AppSettings) -> list[dict[str, Any]]:
    """The topic Dapr should deliver, through which pub/sub component, to which route."""
    return subscriptions(settings.dapr_pubsub, settings.kafka_topic, EVENTS_ROUTE)


@router.post(
    EVENTS_ROUTE,
    summary="A CloudEvent delivered by Dapr",
    responses={200: {"description": '{"status": "SUCCESS" | "RETRY" | "DROP"}'}},
    openapi_extra=DAPR_BODY,
)
async def dapr_event(request: Request, service: Service, settings: AppSettings) -> DaprAnswer:
    """Ingest the event; SUCCESS (applied or duplicate), DROP (never valid), RETRY (store down)."""
    body = await read_limited(request, settings.max_body_bytes)
    delivery = await deliver(service, body, decode_rules(settings))
    if delivery.outcome is not None:
        metrics: Metrics = request.app.state.metrics
        metrics.events.labels("dapr", delivery.outcome.value).inc()
    answer: DaprAnswer = {"status": delivery.status}
    if delivery.reason is not None:
        answer["reason"] = delivery.reason
    return answer
