"""Caliper's Sensor API: what a payload holds (an envelope of events, or one bare event),
and how a JSON document is told to be Caliper at all (Kafka detects it by shape)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from mastery_engine.core.errors import InvalidEvent
from mastery_engine.formats.mapping import first_error

ENVELOPE_FIELDS = "sensor, sendTime, dataVersion and data (a list of events)"
EVENT_FIELDS = "id, type, action, actor, object and eventTime"
BARE_EVENT = frozenset({"type", "action", "actor", "object"})  # eventTime may be missing


class Envelope(BaseModel):
    """A Sensor API envelope: who sent it, when, and a list of events (or entities)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    sensor: str
    sendTime: str
    dataVersion: str
    data: list[Any]


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    return "null" if value is None else type(value).__name__


def caliper_items(payload: object) -> list[object]:
    """The items of an envelope, or `[payload]` for one bare event; `InvalidEvent` otherwise."""
    if not isinstance(payload, dict):
        raise InvalidEvent(
            f"body must be a Caliper envelope object with {ENVELOPE_FIELDS}, or one Caliper"
            f" event with {EVENT_FIELDS}; got a JSON {json_type(payload)}"
        )
    if "sensor" not in payload and "data" not in payload:
        return [payload]
    try:
        envelope = Envelope.model_validate(payload)
    except ValidationError as exc:
        raise first_error(exc.errors()) from None
    if not envelope.data:
        raise InvalidEvent("data: the envelope holds no events", field="data")
    return list(envelope.data)


def looks_like_caliper(doc: object) -> bool:
    """True for a JSON object shaped like a Caliper envelope (sensor, data) or bare event."""
    keys = doc.keys() if isinstance(doc, dict) else set()
    return {"sensor", "data"} <= keys or keys >= BARE_EVENT
