"""Response models and bodies of the guidance endpoints (recommendations, alerts, predictions)."""

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from mastery_engine.core.alerts import Alert
from mastery_engine.core.forecast import Estimate, Forecast
from mastery_engine.core.instants import format_us
from mastery_engine.core.recommend import Recommendation
from mastery_engine.service.guidance import SkillOutlook


class RecommendationOut(BaseModel):
    """One suggested step."""

    skill_id: str
    action: Literal["start", "practice", "quiz", "improve-quality", "review"]
    reason: str
    expected_gain: float = Field(description="Weighted mastery the step should add")
    priority: int = Field(ge=1, description="1 is the most useful step")


class RecommendationsOut(BaseModel):
    """Ranked next steps of a student."""

    student_id: str
    as_of: str
    recommendations: list[RecommendationOut]


class AlertOut(BaseModel):
    """A sign that the student is struggling."""

    kind: Literal["repeated_error", "low_quiz_scores", "inactive", "falling_mastery"]
    skill_id: str | None
    message: str
    since: str
    detail: dict[str, Any]


class AlertsOut(BaseModel):
    """Every current alert of a student."""

    student_id: str
    as_of: str
    alerts: list[AlertOut]


class EstimateOut(BaseModel):
    """Days until a level, with an 80 % interval (`high` null: beyond the horizon)."""

    days: int
    low: int
    high: int | None


class ForecastOut(BaseModel):
    """Days to Proficient and Mastered at the current pace; nulls with a reason when unknown."""

    to_proficient: EstimateOut | None
    to_mastered: EstimateOut | None
    at_risk: bool
    reason: str | None


class SkillPredictionOut(BaseModel):
    """P(correct) on the next quiz item of a skill, and its forecast."""

    skill_id: str
    mastery: float
    p_correct: float = Field(gt=0, lt=1)
    forecast: ForecastOut


class PredictionsOut(BaseModel):
    """Predictions of every skill of a student."""

    student_id: str
    as_of: str
    skills: list[SkillPredictionOut]


def recommendations_body(
    student_id: str, at: int, found: Sequence[Recommendation]
) -> dict[str, Any]:
    """The body of GET …/recommendations."""
    return {
        "student_id": student_id,
        "as_of": format_us(at),
        "recommendations": [
            {
                "skill_id": r.skill_id,
                "action": r.action.value,
                "reason": r.reason,
                "expected_gain": r.expected_gain,
                "priority": r.priority,
            }
            for r in found
        ],
    }


def alerts_body(student_id: str, at: int, found: Sequence[Alert]) -> dict[str, Any]:
    """The body of GET …/alerts."""
    return {
        "student_id": student_id,
        "as_of": format_us(at),
        "alerts": [
            {
                "kind": a.kind.value,
                "skill_id": a.skill_id,
                "message": a.message,
                "since": format_us(a.since),
                "detail": dict(a.detail),
            }
            for a in found
        ],
    }


def _estimate(found: Estimate | None) -> dict[str, Any] | None:
    return None if found is None else {"days": found.days, "low": found.low, "high": found.high}


def forecast_body(found: Forecast) -> dict[str, Any]:
    """One skill's forecast."""
    return {
        "to_proficient": _estimate(found.to_proficient),
        "to_mastered": _estimate(found.to_mastered),
        "at_risk": found.at_risk,
        "reason": found.reason,
    }


def predictions_body(student_id: str, at: int, skills: Sequence[SkillOutlook]) -> dict[str, Any]:
    """The body of GET …/predictions."""
    return {
        "student_id": student_id,
        "as_of": format_us(at),
        "skills": [
            {
                "skill_id": s.skill_id,
                "mastery": s.mastery,
                "p_correct": s.p_correct,
                "forecast": forecast_body(s.forecast),
            }
            for s in skills
        ],
    }
