"""A student's rights (erasure, export), the tenant's configuration and its audit log."""

from dataclasses import fields
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import WithJsonSchema

from mastery_engine.api.deps import (
    Auditor,
    Configurer,
    Eraser,
    Service,
    StudentExporter,
)
from mastery_engine.api.responses import FastJSON
from mastery_engine.api.schemas.common import ERROR_RESPONSES, StudentId
from mastery_engine.api.schemas.privacy import AuditLogOut
from mastery_engine.core.alerts import AlertThresholds, count_limit
from mastery_engine.core.curriculum import MAX_EXERCISES
from mastery_engine.core.formula import MIN_HALF_LIFE_DAYS
from mastery_engine.core.records import Treatment
from mastery_engine.core.rosters import check_id
from mastery_engine.core.rules import WEIGHT_NAMES
from mastery_engine.service.guidance import Guidance
from mastery_engine.service.models import TenantModels

router = APIRouter(tags=["privacy and configuration"], responses=ERROR_RESPONSES)

CONFIG_EXAMPLE = {
    "weights": {"completion": 0.4, "quiz": 0.3, "quality": 0.2, "consistency": 0.1},
    "half_life_days": 30,
    "window_days": 14,
    "curriculum": {"skills": [{"id": "basics", "exercises": 10, "prerequisites": []}]},
}

# The configuration document as `core.rules.rules_from` reads it; every key is optional (an
# absent one keeps the default). Rules no schema can state are in the descriptions: weights
# sum to 1; skill ids are distinct, prerequisites name skills of the curriculum, no cycles.
WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK: dict[str, Any] = {"type": "string", "pattern": f"[^{WHITESPACE}]"}
TREATMENTS: dict[str, Any] = {"enum": [t.value for t in Treatment]}
SKILL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "exercises"],
    "additionalProperties": False,
    "properties": {
        "id": {
            "type": "string",
            "pattern": f"[^{WHITESPACE}]",
            "description": "Not only whitespace; distinct within the curriculum",
        },
        "exercises": {"type": "integer", "minimum": 1, "maximum": MAX_EXERCISES},
        "prerequisites": {
            "description": "Ids of skills of this curriculum, without cycles; null or an empty"
            " value (false, 0, '', {}) means none",
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"enum": [None, False, 0, ""]},
                {"type": "object", "maxProperties": 0},
            ],
        },
        "activities": {
            "description": "IRI prefixes of the course material of this skill (a course, a"
            " unit, one activity); a prefix belongs to one skill",
            "type": "array",
            "items": NOT_BLANK,
        },
    },
}


def _table(key: str, what: str) -> dict[str, Any]:
    """The schema of a record table override (core.records checks the same)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            key: {
                "type": "object",
                "description": f"{what} -> treatment; the defaults are kept for the rest",
                "propertyNames": NOT_BLANK,
                "additionalProperties": TREATMENTS,
            }
        },
    }


SKILLS_SCHEMA: dict[str, Any] = {"type": "array", "minItems": 1, "items": SKILL_SCHEMA}


def _threshold(name: str, default: object) -> dict[str, Any]:
    """The schema of one alert threshold (core.alerts.AlertThresholds checks the same)."""
    if isinstance(default, int):
        top = count_limit(name)
        return {"type": "integer", "minimum": 1, "maximum": top, "description": "Whole number"}
    top = 24 * 366 if name == "repeated_error_hours" else 1
    return {"type": "number", "exclusiveMinimum": 0, "maximum": top}


CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "weights": {
            "type": "object",
            "description": "Non-negative and summing to 1",
            "additionalProperties": False,
            "required": list(WEIGHT_NAMES),
            "properties": {name: {"type": "number", "minimum": 0} for name in WEIGHT_NAMES},
        },
        "half_life_days": {"type": "number", "minimum": MIN_HALF_LIFE_DAYS},
        "window_days": {"type": "integer", "minimum": 1, "maximum": 366},
        "curriculum": {
            "description": "{'skills': [...]}, or the list of skills itself",
            "anyOf": [
                {"type": "object", "required": ["skills"], "properties": {"skills": SKILLS_SCHEMA}},
                SKILLS_SCHEMA,
            ],
        },
        "desired_retention": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "alerts": {
            "type": "object",
            "additionalProperties": False,
            "properties": {f.name: _threshold(f.name, f.default) for f in fields(AlertThresholds)},
        },
        "xapi": _table("verbs", "xAPI verb IRI"),
        "caliper": _table("actions", '"<Type>.<Action>" or "<Action>"'),
    },
    "examples": [CONFIG_EXAMPLE],
}


@router.delete("/v1/students/{student_id}", summary="Erase a student (GDPR Art. 17)")
async def erase_student(student_id: StudentId, service: Service, caller: Eraser) -> FastJSON:
    """Remove every record of the student in this tenant; calling it again removes nothing."""
    check_id(student_id, "student_id")
    return FastJSON(await service.erase(caller.tenant, student_id, caller.sub))


@router.get("/v1/students/{student_id}/export", summary="Export a student (GDPR Art. 15, 20)")
async def export_student(
    student_id: StudentId, service: Service, caller: StudentExporter
) -> FastJSON:
    """Everything held about the student: aggregates, kept raw events and current mastery."""
    return FastJSON(await service.export(caller.tenant, student_id, caller.sub))


@router.get("/v1/config", summary="The tenant's configuration")
async def get_config(service: Service, caller: Configurer, request: Request) -> FastJSON:
    """Weights, half-life, consistency window, curriculum, record tables and the next-answer
    model in effect for this tenant."""
    found = await service.configuration(caller.tenant)
    return FastJSON(found | {"model": await _models(request).summary(caller.tenant)})


@router.put("/v1/config", summary="Replace the tenant's configuration")
async def put_config(
    service: Service,
    caller: Configurer,
    request: Request,
    document: Annotated[dict[str, Any], Body(), WithJsonSchema(CONFIG_SCHEMA)],
) -> FastJSON:
    """Validated (weights non-negative summing to 1, acyclic curriculum); applies at once."""
    found = await service.configure(caller.tenant, document, caller.sub)
    return FastJSON(found | {"model": await _models(request).summary(caller.tenant)})


def _models(request: Request) -> TenantModels:
    guidance: Guidance = request.app.state.guidance
    return guidance.models


@router.get("/v1/audit", response_model=AuditLogOut, summary="The tenant's audit log")
async def audit_log(
    service: Service,
    caller: Auditor,
    limit: Annotated[int, Query(ge=1, le=1000, description="Newest entries to return")] = 100,
) -> FastJSON:
    """Who erased, exported or reconfigured what, and when (ids only), newest first."""
    body: AuditLogOut = {"entries": await service.audit_log(caller.tenant, limit)}
    return FastJSON(body)
