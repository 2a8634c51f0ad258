"""Mastery queries: all skills, one skill with its explanation, a daily history."""

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import WithJsonSchema

from mastery_engine.api.deps import ClassTenant, Service, StudentReader
from mastery_engine.api.responses import FastJSON
from mastery_engine.api.schemas.common import ERROR_RESPONSES, AsOf, SkillId, StudentId
from mastery_engine.api.schemas.mastery import (
    HistoryOut,
    SkillDetailOut,
    StudentMasteryOut,
    StudentsOut,
    history_body,
    skill_detail_body,
    student_body,
)
from mastery_engine.core.instants import parse_as_of, parse_date
from mastery_engine.core.rosters import check_id
from mastery_engine.formats.contracts import DATE_SCHEMA
from mastery_engine.service.mastery import MAX_HISTORY_DAYS

router = APIRouter(prefix="/v1/students", tags=["mastery"], responses=ERROR_RESPONSES)


DEFAULT_HISTORY_DAYS = 30
SPAN = f"from <= to, at most {MAX_HISTORY_DAYS} days apart"
From = Annotated[
    str | None,
    Query(alias="from", description=f"First UTC date; default to - 29 days ({SPAN})"),
    WithJsonSchema(DATE_SCHEMA),
]
To = Annotated[
    str | None,
    Query(description=f"Last UTC date; default today ({SPAN})"),
    WithJsonSchema(DATE_SCHEMA),
]


@router.get("", response_model=StudentsOut, summary="Students of the tenant")
async def list_students(service: Service, tenant: ClassTenant) -> FastJSON:
    """Ids of every student with events in the caller's tenant."""
    body: StudentsOut = {"students": await service.students(tenant)}
    return FastJSON(body)


@router.get("/{student_id}/mastery", response_model=StudentMasteryOut, summary="All skills")
async def student_mastery(
    student_id: StudentId, service: Service, caller: StudentReader, as_of: AsOf = None
) -> FastJSON:
    """Every curriculum skill, plus any other skill the student has events for."""
    at = parse_as_of(as_of) if as_of is not None else None
    return FastJSON(student_body(await service.mastery(caller.tenant, student_id, at)))


@router.get(
    "/{student_id}/skills/{skill_id}/mastery",
    response_model=SkillDetailOut,
    summary="One skill, explained",
)
async def skill_mastery(
    student_id: StudentId,
    skill_id: SkillId,
    service: Service,
    caller: StudentReader,
    as_of: AsOf = None,
) -> FastJSON:
    """Mastery of one skill, its components, weights, contributions and best next step."""
    check_id(skill_id, "skill_id")
    at = parse_as_of(as_of) if as_of is not None else None
    mastery, explanation = await service.skill_mastery(caller.tenant, student_id, skill_id, at)
    return FastJSON(skill_detail_body(student_id, mastery, explanation))


@router.get(
    "/{student_id}/skills/{skill_id}/history",
    response_model=HistoryOut,
    summary="Daily mastery series",
)
async def skill_history(
    student_id: StudentId,
    skill_id: SkillId,
    service: Service,
    caller: StudentReader,
    from_: From = None,
    to: To = None,
) -> FastJSON:
    """One point per UTC day from `from` to `to` inclusive, each at the end of its day."""
    check_id(skill_id, "skill_id")
    last = parse_date(to, "to") if to is not None else service.today()
    first = parse_date(from_, "from") if from_ is not None else last - DEFAULT_HISTORY_DAYS + 1
    points = await service.history(caller.tenant, student_id, skill_id, range(first, last + 1))
    return FastJSON(history_body(student_id, skill_id, points))
