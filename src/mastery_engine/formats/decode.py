"""What a delivery carries (a canonical event, a CloudEvent, an xAPI statement, a Caliper
event or envelope) and its tenant.

Detected from the payload, never configured: a JSON object with `specversion` is a CloudEvent
in structured mode (its `data` is decoded in turn); one with `actor`, `verb` and `object` is
an xAPI statement; a Caliper envelope (`sensor`, `data`) or event (`type`, `action`, ...) is
Caliper; anything else is taken as a canonical event and validated by the service. Records
are mapped (`expand`) once the tenant is known, with the tenant's curriculum and tables.
"""

import base64
import binascii
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from mastery_engine.core.access import TENANT_RULE, is_tenant
from mastery_engine.core.errors import InvalidEvent
from mastery_engine.core.events import printable_id
from mastery_engine.core.rules import Rules
from mastery_engine.formats.caliper import map_caliper_event
from mastery_engine.formats.mapping import SkillRule
from mastery_engine.formats.records import Mapped, RecordRulesInForce
from mastery_engine.formats.sensor import caliper_items, looks_like_caliper
from mastery_engine.formats.xapi import looks_like_statement, map_statement

# text/plain: what Dapr records when a publisher names no content type.
_JSON_TYPES = ("application/json", "text/json", "text/plain")


class Reason(StrEnum):
    """Why a delivery can never be ingested; the DLQ's `dlq.reason` header."""

    INVALID_JSON = "invalid_json"
    INVALID_EVENT = "invalid_event"
    UNMAPPABLE = "unmappable"
    INVALID_TENANT = "invalid_tenant"


@dataclass(frozen=True, slots=True)
class Decoded:
    """A delivery's event (or learning record, per `kind`) and tenant, or why it can never be
    ingested; `skipped` says why a record makes no event by design."""

    tenant: str
    item: dict[str, Any] | None
    event_id: str | None = None
    reason: Reason | None = None
    error: str | None = None
    field: str | None = None
    kind: str = "event"  # event | xapi | caliper
    skipped: str | None = None
    warning: str | None = None
    record: object = None  # the event of a Caliper envelope it came from (its dead letter)


@dataclass(frozen=True, slots=True)
class DecodeRules:
    """The tenant of deliveries naming none, and how xAPI and Caliper activities name their
    skill (besides the tenant's curriculum)."""

    default_tenant: str
    xapi: SkillRule
    caliper: SkillRule

    def in_force(self, kind: str, rules: Rules, received_at: str) -> RecordRulesInForce:
        """How a tenant's records of this kind map."""
        skills = self.caliper if kind == "caliper" else self.xapi
        return RecordRulesInForce(skills, rules.curriculum.activities, rules.records, received_at)


def _rejected(tenant: str, reason: Reason, exc: InvalidEvent, event_id: str | None) -> Decoded:
    return Decoded(tenant, None, event_id, reason, exc.message, exc.field)


def _is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in _JSON_TYPES or media.endswith("+json")


def _json(text: str | bytes, where: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"{where} is not valid JSON: {exc}", field=where) from None


def unwrap_cloudevent(envelope: dict[str, Any]) -> tuple[str | None, Any]:
    """(the `tenant` extension, the decoded `data`) of a structured-mode CloudEvent 1.0."""
    version = envelope.get("specversion")
    if version != "1.0":
        raise InvalidEvent(
            f"CloudEvents specversion {version!r} is not supported; 1.0 is", field="specversion"
        )
    tenant = envelope.get("tenant")
    if tenant is not None and not isinstance(tenant, str):
        raise InvalidEvent("the tenant extension attribute must be a string", field="tenant")
    content_type = envelope.get("datacontenttype")
    if isinstance(content_type, str) and not _is_json_type(content_type):
        raise InvalidEvent(
            f"datacontenttype {content_type!r} is not JSON; events are JSON objects",
            field="datacontenttype",
        )
    if isinstance(envelope.get("data_base64"), str):
        try:
            raw = base64.b64decode(envelope["data_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidEvent("data_base64 is not Base64", field="data_base64") from None
        return tenant, _json(raw, "data_base64")
    if "data" not in envelope:
        raise InvalidEvent("the CloudEvent carries no data (the event)", field="data")
    data = envelope["data"]
    return tenant, _json(data, "data") if isinstance(data, str) else data


def decode_document(
    doc: Any, header_tenant: str | None, rules: DecodeRules, received_at: str
) -> Decoded:
    """Decode a parsed JSON delivery; `header_tenant` wins over any tenant it names."""
    envelope_tenant = None
    if isinstance(doc, dict) and "specversion" in doc:
        try:
            envelope_tenant, doc = unwrap_cloudevent(doc)
        except InvalidEvent as exc:
            tenant = header_tenant or rules.default_tenant
            return _rejected(tenant, Reason.INVALID_EVENT, exc, printable_id(doc))
    named = doc.get("tenant_id") if isinstance(doc, dict) else None
    chosen = header_tenant or envelope_tenant or (named if isinstance(named, str) else None)
    tenant = chosen or rules.default_tenant
    if not is_tenant(tenant):
        message = f"tenant {tenant[:80]!r} must be {TENANT_RULE}"
        return _rejected(
            rules.default_tenant, Reason.INVALID_TENANT, InvalidEvent(message, field="tenant"), None
        )
    if looks_like_statement(doc):
        return Decoded(tenant, doc, printable_id(doc), kind="xapi")
    if looks_like_caliper(doc):
        return Decoded(tenant, doc, printable_id(doc), kind="caliper")
    if not isinstance(doc, dict):
        message = f"a delivery carries one event object, got a JSON {type(doc).__name__}"
        return _rejected(tenant, Reason.INVALID_EVENT, InvalidEvent(message), None)
    return Decoded(tenant, doc, printable_id(doc))


def decode_value(
    value: bytes | None, header_tenant: str | None, rules: DecodeRules, received_at: str
) -> Decoded:
    """Decode a raw message value (UTF-8 JSON)."""
    tenant = header_tenant or rules.default_tenant
    if not value:
        missing = InvalidEvent("the message has no value (an event is a JSON object)")
        return _rejected(tenant, Reason.INVALID_JSON, missing, None)
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        broken = InvalidEvent(f"the message value is not valid JSON: {exc}")
        return _rejected(tenant, Reason.INVALID_JSON, broken, None)
    return decode_document(doc, header_tenant, rules, received_at)


def expand(decoded: Decoded, in_force: RecordRulesInForce) -> list[Decoded]:
    """A decoded delivery as canonical events: a record mapped (a Caliper envelope, one per
    event), each with its own outcome; an event or a refusal as it is."""
    if decoded.item is None or decoded.kind == "event":
        return [decoded]
    tenant, doc = decoded.tenant, decoded.item
    if decoded.kind == "xapi":
        return [_mapped(tenant, doc, map_statement, in_force)]
    try:
        items = caliper_items(doc)
    except InvalidEvent as exc:
        return [_rejected(tenant, Reason.UNMAPPABLE, exc, printable_id(doc))]
    enveloped = items != [doc]
    return [
        _mapped(tenant, item, map_caliper_event, in_force, enveloped=enveloped) for item in items
    ]


def _mapped(
    tenant: str,
    record: object,
    mapping: Callable[[object, RecordRulesInForce], Mapped],
    in_force: RecordRulesInForce,
    *,
    enveloped: bool = False,
) -> Decoded:
    kept = record if enveloped else None
    try:
        mapped = mapping(record, in_force)
    except InvalidEvent as exc:
        refused = _rejected(tenant, Reason.UNMAPPABLE, exc, printable_id(record))
        return dataclasses.replace(refused, record=kept)
    if mapped.event is None:
        return Decoded(tenant, None, printable_id(record), skipped=mapped.skipped)
    event_id = mapped.event["id"]
    return Decoded(tenant, mapped.event, event_id, warning=mapped.warning, record=kept)
