"""Classes (rosters), a class's students x skills matrix, and tenant-wide skill analytics."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from mastery_engine.api.deps import ClassManager, ClassTenant
from mastery_engine.api.responses import FastJSON
from mastery_engine.api.schemas.classes import (
    ClassDeletedOut,
    ClassesOut,
    ClassId,
    ClassIn,
    ClassMasteryOut,
    ClassOut,
    TenantAnalyticsOut,
    class_body,
    classes_body,
    matrix_body,
)
from mastery_engine.api.schemas.common import ERROR_RESPONSES, AsOf
from mastery_engine.core.instants import parse_as_of
from mastery_engine.core.rosters import check_id
from mastery_engine.service.analytics import DEFAULT_WEEKS, MAX_WEEKS, Summaries
from mastery_engine.service.classes import Classes

router = APIRouter(tags=["classes and analytics"], responses=ERROR_RESPONSES)


async def get_summaries(request: Request) -> Summaries:
    """The summaries the lifespan built."""
    summaries: Summaries = request.app.state.summaries
    return summaries


Weeks = Annotated[
    int, Query(ge=1, le=MAX_WEEKS, description="Trend points, one a week, the last at as_of")
]


async def get_classes(request: Request) -> Classes:
    """The class use cases the lifespan built."""
    classes: Classes = request.app.state.classes
    return classes


TenantSummaries = Annotated[Summaries, Depends(get_summaries)]
TenantClasses = Annotated[Classes, Depends(get_classes)]


@router.get("/v1/classes", response_model=ClassesOut, summary="Classes of the tenant")
async def list_classes(classes: TenantClasses, tenant: ClassTenant) -> FastJSON:
    """Ids of the tenant's classes, sorted."""
    return FastJSON(classes_body(await classes.ids(tenant)))


@router.get("/v1/classes/{class_id}", response_model=ClassOut, summary="A class's roster")
async def get_class(class_id: ClassId, classes: TenantClasses, tenant: ClassTenant) -> FastJSON:
    """The class's student ids, sorted; 404 for a class this tenant does not have."""
    check_id(class_id, "class_id")
    students = await classes.roster(tenant, class_id)
    return FastJSON(class_body(class_id, students))


@router.put("/v1/classes/{class_id}", response_model=ClassOut, summary="Create or replace a class")
async def put_class(
    class_id: ClassId, body: ClassIn, classes: TenantClasses, caller: ClassManager
) -> FastJSON:
    """At most 1,000 distinct student ids, who need no events yet (admin); audited."""
    students = await classes.put(caller.tenant, class_id, body.students, caller.sub)
    return FastJSON(class_body(class_id, students))


@router.delete("/v1/classes/{class_id}", response_model=ClassDeletedOut, summary="Delete a class")
async def delete_class(class_id: ClassId, classes: TenantClasses, caller: ClassManager) -> FastJSON:
    """Remove the roster; the students and their data stay (admin); audited."""
    check_id(class_id, "class_id")
    return FastJSON(await classes.delete(caller.tenant, class_id, caller.sub))


@router.get(
    "/v1/classes/{class_id}/mastery",
    response_model=ClassMasteryOut,
    summary="A class's students x skills",
)
async def class_mastery(
    class_id: ClassId, classes: TenantClasses, tenant: ClassTenant, as_of: AsOf = None
) -> FastJSON:
    """Each student's mastery and level per skill, as `GET /v1/students/{id}/mastery` has them.

    A student of the roster without events has `has_events: false` and only null cells.
    """
    check_id(class_id, "class_id")
    at = parse_as_of(as_of) if as_of is not None else None
    found_at, matrix = await classes.mastery(tenant, class_id, at)
    return FastJSON(matrix_body(class_id, found_at, matrix))


@router.get(
    "/v1/analytics/skills",
    response_model=TenantAnalyticsOut,
    summary="Per-skill analytics of the tenant",
)
async def skill_analytics(
    summaries: TenantSummaries,
    tenant: ClassTenant,
    as_of: AsOf = None,
    weeks: Weeks = DEFAULT_WEEKS,
) -> FastJSON:
    """Per skill: students, mean, quartiles, level counts and the weekly trend of the mean.

    Without `as_of`, from the tenant's summary, recomputed once older than
    `max_age_seconds` (see `age_seconds`); 503 with Retry-After while a first summary, or
    one for an explicit `as_of`, takes longer than a few seconds to compute.
    """
    at = parse_as_of(as_of) if as_of is not None else None
    return FastJSON(await summaries.skills(tenant, at, weeks))
