"""JSON Schemas (2020-12) of every stream message and the AsyncAPI 3 document, from the models.

`mastery-engine schemas --out schemas/` writes them; a test fails when the committed files
differ from what this module generates.
"""

from typing import Any

import yaml
from pydantic import BaseModel

from mastery_engine import __version__
from mastery_engine.formats.contracts import (
    EVENT_MODELS,
    TENANT_SCHEMA,
    DeadLetter,
    MasteryChanged,
    StruggleDetected,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FORMAT = "application/schema+json;version=draft-2020-12"
KAFKA_BINDING = "0.5.0"
TENANT_HEADER = {
    **TENANT_SCHEMA,
    "description": "The tenant (trusted: broker ACLs decide who may produce)",
}


def _document(file: str, title: str, model: type[BaseModel]) -> dict[str, Any]:
    # A relative `$id` (the file name) resolves against where the file is read from, so the
    # union's `$ref`s to sibling files resolve the same from disk, a URL or a registry.
    schema = model.model_json_schema(mode="validation", by_alias=True)
    return {"$schema": DRAFT, "$id": file, "title": title, **schema}


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every event type, the event union and each output."""
    files = {
        f"event.{kind}.json": _document(f"event.{kind}.json", kind, model)
        for kind, model in EVENT_MODELS.items()
    }
    files["event.json"] = {
        "$schema": DRAFT,
        "$id": "event.json",
        "title": "learning event",
        "description": "Any canonical learning event; `type` selects the shape of `data`.",
        "oneOf": [{"$ref": f"event.{kind}.json"} for kind in EVENT_MODELS],
    }
    files["mastery.changed.json"] = _document(
        "mastery.changed.json", "mastery.changed", MasteryChanged
    )
    files["struggle.detected.json"] = _document(
        "struggle.detected.json", "struggle.detected", StruggleDetected
    )
    files["dlq.message.json"] = _document("dlq.message.json", "dead letter", DeadLetter)
    return files


def _payload(ref: str) -> dict[str, Any]:
    return {"schemaFormat": SCHEMA_FORMAT, "schema": {"$ref": ref}}


def _message(title: str, summary: str, payload: dict[str, Any], headers: Any) -> dict[str, Any]:
    key = {"type": "string", "description": "The student id (keeps a student's events in order)"}
    return {
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "headers": headers,
        "payload": payload,
        "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING}},
    }


def _messages() -> dict[str, Any]:
    tenant_only = {"type": "object", "properties": {"tenant": TENANT_HEADER}}
    cloudevent = {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "data"],
        "description": "CloudEvents 1.0, structured mode; `data` is a learning event",
        "properties": {
            "specversion": {"const": "1.0"},
            "tenant": TENANT_HEADER,
            "data": {"$ref": "event.json"},
        },
    }
    statement = {
        "type": "object",
        "required": ["actor", "verb", "object"],
        "description": "xAPI statement, mapped onto a learning event by its verb, result and"
        " the tenant's curriculum (an `id` is derived from the statement when it has none)",
    }
    caliper = {
        "type": "object",
        "description": "Caliper 1.1 / 1.2 event (`type`, `action`, `actor`, `object`,"
        " `eventTime`) or envelope (`sensor`, `sendTime`, `dataVersion`, `data`): each event"
        " is mapped onto a learning event with an outcome of its own",
        "anyOf": [
            {"required": ["type", "action", "actor", "object", "eventTime"]},
            {"required": ["sensor", "data"]},
        ],
    }
    dead_headers = {"$ref": "dlq.message.json#/$defs/DeadLetterHeaders"}
    return {
        "learningEvent": _message(
            "Learning event", "A canonical event", _payload("event.json"), tenant_only
        ),
        "cloudEvent": _message(
            "CloudEvent", "A learning event in a CloudEvent", {"schema": cloudevent}, tenant_only
        ),
        "xapiStatement": _message(
            "xAPI statement", "A learning record", {"schema": statement}, tenant_only
        ),
        "caliperEvent": _message(
            "Caliper event or envelope", "Learning records", {"schema": caliper}, tenant_only
        ),
        "deadLetter": _message(
            "Dead letter",
            "A message that can never be ingested: key and value unchanged, reason in headers",
            {"schema": {"description": "The original value, byte for byte"}},
            {"schemaFormat": SCHEMA_FORMAT, "schema": dead_headers},
        ),
        "masteryChanged": _message(
            "mastery.changed",
            "A skill's level changed, or its mastery moved by 0.05 or more",
            _payload("mastery.changed.json"),
            tenant_only,
        ),
        "struggleDetected": _message(
            "struggle.detected",
            "A batch made a struggle alert fire: the same error 3+ times in 24 h, low quiz scores",
            _payload("struggle.detected.json"),
            tenant_only,
        ),
    }


def _channel(address: str, description: str, *messages: str) -> dict[str, Any]:
    return {
        "address": address,
        "description": description,
        "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in messages},
        "bindings": {"kafka": {"topic": address, "bindingVersion": KAFKA_BINDING}},
    }


def _operation(action: str, channel: str, summary: str) -> dict[str, Any]:
    return {"action": action, "channel": {"$ref": f"#/channels/{channel}"}, "summary": summary}


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the topics (default names), keys, headers and payloads."""
    description = (
        "Learning events in; dead letters and mastery changes out. Topic names are the"
        " defaults of MASTERY_KAFKA_TOPIC, MASTERY_KAFKA_DLQ_TOPIC and MASTERY_KAFKA_OUT_TOPIC."
    )
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Mastery Engine streams",
            "version": __version__,
            "description": description,
        },
        "defaultContentType": "application/json",
        "channels": {
            "learningEvents": _channel(
                "learning-events",
                "Events in: canonical JSON, a CloudEvent (structured mode), an xAPI statement or"
                " a Caliper event or envelope, detected per message. Tenant: header `tenant`,"
                " else the event's `tenant_id`, else MASTERY_KAFKA_DEFAULT_TENANT.",
                "learningEvent",
                "cloudEvent",
                "xapiStatement",
                "caliperEvent",
            ),
            "deadLetters": _channel(
                "learning-events.dlq", "Messages that can never be ingested", "deadLetter"
            ),
            "masteryUpdates": _channel(
                "mastery-updates",
                "Significant mastery moves and new struggles after each batch",
                "masteryChanged",
                "struggleDetected",
            ),
        },
        "operations": {
            "consumeLearningEvents": _operation(
                "receive", "learningEvents", "Apply events (consumer group mastery-engine)"
            ),
            "sendDeadLetters": _operation("send", "deadLetters", "Set aside poison messages"),
            "sendMasteryChanges": _operation(
                "send", "masteryUpdates", "Announce mastery moves and struggles"
            ),
        },
        "components": {"messages": _messages()},
    }


def asyncapi_yaml() -> str:
    """The AsyncAPI document as YAML text."""
    return yaml.safe_dump(asyncapi(), sort_keys=False, allow_unicode=True, width=100)
