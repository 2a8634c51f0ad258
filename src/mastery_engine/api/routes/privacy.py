"""A student's rights (erasure, export), the tenant's configuration and its audit log."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from mastery_engine.api.deps import Auditor, Configurer, Eraser, Service, StudentExporter
from mastery_engine.api.responses import FastJSON
from mastery_engine.api.schemas import ERROR_RESPONSES

router = APIRouter(tags=["privacy and configuration"], responses=ERROR_RESPONSES)

CONFIG_EXAMPLE = {
    "weights": {"completion": 0.4, "quiz": 0.3, "quality": 0.2, "consistency": 0.1},
    "half_life_days": 30,
    "window_days": 14,
    "curriculum": {"skills": [{"id": "basics", "exercises": 10, "prerequisites": []}]},
}


@router.delete("/v1/students/{student_id}", summary="Erase a student (GDPR Art. 17)")
async def erase_student(student_id: str, service: Service, caller: Eraser) -> FastJSON:
    """Remove every record of the student in this tenant; calling it again removes nothing."""
    return FastJSON(await service.erase(caller.tenant, student_id, caller.sub))


@router.get("/v1/students/{student_id}/export", summary="Export a student (GDPR Art. 15, 20)")
async def export_student(student_id: str, service: Service, caller: StudentExporter) -> FastJSON:
    """Everything held about the student: aggregates, kept raw events and current mastery."""
    return FastJSON(await service.export(caller.tenant, student_id, caller.sub))


@router.get("/v1/config", summary="The tenant's configuration")
async def get_config(service: Service, caller: Configurer) -> FastJSON:
    """Weights, half-life, consistency window and curriculum in effect for this tenant."""
    return FastJSON(await service.configuration(caller.tenant))


@router.put("/v1/config", summary="Replace the tenant's configuration")
async def put_config(
    service: Service,
    caller: Configurer,
    document: Annotated[dict[str, Any], Body(examples=[CONFIG_EXAMPLE])],
) -> FastJSON:
    """Validated (weights non-negative summing to 1, acyclic curriculum); applies at once."""
    return FastJSON(await service.configure(caller.tenant, document, caller.sub))


@router.get("/v1/audit", summary="The tenant's audit log")
async def audit_log(
    service: Service,
    caller: Auditor,
    limit: Annotated[int, Query(ge=1, le=1000, description="Newest entries to return")] = 100,
) -> FastJSON:
    """Who erased, exported or reconfigured what, and when (ids only), newest first."""
    return FastJSON({"entries": await service.audit_log(caller.tenant, limit)})
