"""What comes next for a student: recommendations, struggle alerts, predictions and forecasts."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from mastery_engine.api.deps import StudentReader
from mastery_engine.api.responses import FastJSON
from mastery_engine.api.schemas.common import ERROR_RESPONSES, AsOf, StudentId
from mastery_engine.api.schemas.guidance import (
    AlertsOut,
    PredictionsOut,
    RecommendationsOut,
    alerts_body,
    predictions_body,
    recommendations_body,
)
from mastery_engine.core.instants import parse_as_of
from mastery_engine.service.guidance import MAX_RECOMMENDATIONS, Guidance

router = APIRouter(prefix="/v1/students", tags=["guidance"], responses=ERROR_RESPONSES)


def _guidance(request: Request) -> Guidance:
    guidance: Guidance = request.app.state.guidance
    return guidance


def _at(guidance: Guidance, as_of: str | None) -> int:
    return guidance.service.clock() if as_of is None else parse_as_of(as_of)


@router.get(
    "/{student_id}/recommendations",
    response_model=RecommendationsOut,
    summary="Ranked next steps",
)
async def recommendations(
    student_id: StudentId,
    request: Request,
    caller: StudentReader,
    limit: Annotated[
        int, Query(ge=1, le=MAX_RECOMMENDATIONS, description="At most this many steps")
    ] = 5,
    as_of: AsOf = None,
) -> FastJSON:
    """Skills whose prerequisites are met, the step that adds most to each, reviews due."""
    guidance = _guidance(request)
    at = _at(guidance, as_of)
    found = await guidance.recommendations(caller.tenant, student_id, at, limit)
    return FastJSON(recommendations_body(student_id, at, found))


@router.get("/{student_id}/alerts", response_model=AlertsOut, summary="Struggle alerts")
async def alerts(
    student_id: StudentId, request: Request, caller: StudentReader, as_of: AsOf = None
) -> FastJSON:
    """Repeated errors, low quiz scores, inactivity, falling mastery (tenant thresholds)."""
    guidance = _guidance(request)
    at = _at(guidance, as_of)
    found = await guidance.alerts(caller.tenant, student_id, at)
    return FastJSON(alerts_body(student_id, at, found))


@router.get(
    "/{student_id}/predictions",
    response_model=PredictionsOut,
    summary="Next-answer probability and forecast per skill",
)
async def predictions(
    student_id: StudentId, request: Request, caller: StudentReader, as_of: AsOf = None
) -> FastJSON:
    """P(correct) on the next quiz item; days to Proficient and Mastered with 80 % intervals."""
    guidance = _guidance(request)
    at, skills = await guidance.outlook(caller.tenant, student_id, _at(guidance, as_of))
    return FastJSON(predictions_body(student_id, at, skills))
