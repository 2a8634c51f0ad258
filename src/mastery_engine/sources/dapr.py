"""Dapr pub/sub: the programmatic subscription, and one CloudEvent delivery decoded and ingested.

Dapr reads `GET /dapr/subscribe` once at start, then POSTs each message of the topic to the
route as a CloudEvent (structured mode, `data` holding the event; with `rawPayload` the bare
event). The answer is HTTP 200 with `{"status": "SUCCESS" | "RETRY" | "DROP"}`: SUCCESS for
an applied or duplicate event, DROP for one that can never be ingested (it is logged with its
reason), RETRY while the store is unavailable, so Dapr redelivers under its resiliency policy.
"""

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from mastery_engine.core.errors import StoreUnavailable
from mastery_engine.core.instants import format_us
from mastery_engine.formats.decode import Decoded, DecodeRules, Reason, decode_document, expand
from mastery_engine.service.mastery import MasteryService
from mastery_engine.service.outcomes import Outcome, Status

log = logging.getLogger(__name__)


class DaprStatus(StrEnum):
    """What Dapr does next with a delivered message."""

    SUCCESS = "SUCCESS"
    RETRY = "RETRY"
    DROP = "DROP"


@dataclass(frozen=True, slots=True)
class Delivery:
    """The answer to one delivery and, for RETRY or DROP, why."""

    status: DaprStatus
    event_id: str | None = None
    reason: str | None = None
    outcome: Status | None = None  # the event's, once settled (not for RETRY)


def subscriptions(pubsub: str, topic: str, route: str) -> list[dict[str, Any]]:
    """The body of `GET /dapr/subscribe`."""
    return [{"pubsubname": pubsub, "topic": topic, "route": route}]


def _dropped(decoded: Decoded) -> Delivery:
    log.warning(
        "dapr: dropping event %r of tenant %r: %s (%s)",
        decoded.event_id,
        decoded.tenant,
        decoded.error,
        decoded.reason,
    )
    return Delivery(DaprStatus.DROP, decoded.event_id, decoded.error, Status.REJECTED)


async def deliver(service: MasteryService, body: bytes, rules: DecodeRules) -> Delivery:
    """Decode one delivery, ingest its event, and say what Dapr should do with the message."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        log.warning("dapr: dropping a delivery that is not JSON: %s", exc)
        return Delivery(
            DaprStatus.DROP, None, f"the body is not valid JSON: {exc}", Status.REJECTED
        )
    received_at = format_us(service.clock())
    decoded = decode_document(document, None, rules, received_at)
    if decoded.item is None:
        return _dropped(decoded)
    try:
        in_force = rules.in_force(decoded.kind, await service.rules(decoded.tenant), received_at)
        events = expand(decoded, in_force)
        mapped = [one for one in events if one.item is not None]
        results: list[Outcome] = []
        for start in range(0, len(mapped), service.max_batch):  # a large Caliper envelope
            chunk = [one.item for one in mapped[start : start + service.max_batch]]
            results += (await service.ingest(decoded.tenant, chunk)).results
    except StoreUnavailable as exc:
        log.warning("dapr: store unavailable, asking for a retry: %s", exc.message)
        return Delivery(DaprStatus.RETRY, decoded.event_id, exc.message)
    refused = [one for one in events if one.item is None and one.skipped is None]
    for one, outcome in zip(mapped, results, strict=True):
        if outcome.status is Status.REJECTED:
            reason = Reason.INVALID_EVENT
            refused.append(Decoded(one.tenant, None, outcome.id, reason, outcome.error))
    if refused:  # the rest of a Caliper envelope is ingested all the same
        return _dropped(refused[0])
    if not results:  # every record skipped by design (enrolment, ...)
        return Delivery(DaprStatus.SUCCESS, decoded.event_id, outcome=Status.SKIPPED)
    first = results[0]
    return Delivery(DaprStatus.SUCCESS, first.id, outcome=first.status)
