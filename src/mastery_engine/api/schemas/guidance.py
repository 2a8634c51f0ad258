"""Response shapes and builders of the guidance endpoints (recommendations, alerts, predictions)."""

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field
from typing_extensions import TypedDict

from mastery_engine.core.alerts import Alert, AlertKind
from mastery_engine.core.forecast import Estimate, Forecast
from mastery_engine.core.instants import format_us
from mastery_engine.core.recommend import Action, Recommendation
from mastery_engine.service.guidance import SkillOutlook


class RecommendationOut(TypedDict):
    """One suggested step."""

    skill_id: str
    action: Action
    reason: str
    expected_gain: Annotated[float, Field(description="Weighted mastery the step should add")]
    priority: Annotated[int, Field(ge=1, description="1 is the most useful step")]


class RecommendationsOut(TypedDict):
    """Ranked next steps of a student."""

    student_id: str
    as_of: str
    recommendations: list[RecommendationOut]


class AlertOut(TypedDict):
    """A sign that the student is struggling."""

    kind: AlertKind
    skill_id: str | None
    message: str
    since: str
    detail: Annotated[
        dict[str, Any],
        Field(
            description="By kind: repeated_error {error_type, count, hours}, low_quiz_scores"
            " {scores, mean}, inactive {days, last_active}, falling_mastery {from, to, days}"
        ),
    ]


class AlertsOut(TypedDict):
    """Every current alert of a student."""

    student_id: str
    as_of: str
    alerts: list[AlertOut]


class EstimateOut(TypedDict):
    """Days until a level, with an 80 % interval (`high` null: beyond the horizon)."""

    days: int
    low: int
    high: int | None


class ForecastOut(TypedDict):
    """Days to Proficient and Mastered at the current pace; nulls with a reason when unknown."""

    to_proficient: EstimateOut | None
    to_mastered: EstimateOut | None
    at_risk: bool
    reason: str | None


class DriverOut(TypedDict):
    """One feature of the model and how far it moved P(correct) from the base rate."""

    feature: Annotated[str, Field(description="A feature of the next-answer model")]
    effect: Annotated[
        float,
        Field(description="P(correct) minus P(correct) with this feature at its no-answers value"),
    ]


class SkillPredictionOut(TypedDict):
    """P(correct) on the next quiz item of a skill, why, and its forecast."""

    skill_id: str
    mastery: float
    p_correct: Annotated[float, Field(gt=0, lt=1)]
    base_rate: Annotated[
        float, Field(gt=0, lt=1, description="P(correct) of a student with no answers yet")
    ]
    drivers: Annotated[
        list[DriverOut],
        Field(description="The (at most three) features that moved p_correct most, largest first"),
    ]
    forecast: ForecastOut


class PredictionsOut(TypedDict):
    """Predictions of every skill of a student."""

    student_id: str
    as_of: str
    skills: list[SkillPredictionOut]


def recommendations_body(
    student_id: str, at: int, found: Sequence[Recommendation]
) -> RecommendationsOut:
    """The body of GET …/recommendations."""
    return {
        "student_id": student_id,
        "as_of": format_us(at),
        "recommendations": [
            {
                "skill_id": r.skill_id,
                "action": r.action,
                "reason": r.reason,
                "expected_gain": r.expected_gain,
                "priority": r.priority,
            }
            for r in found
        ],
    }


def alerts_body(student_id: str, at: int, found: Sequence[Alert]) -> AlertsOut:
    """The body of GET …/alerts."""
    return {
        "student_id": student_id,
        "as_of": format_us(at),
        "alerts": [
            {
                "kind": a.kind,
                "skill_id": a.skill_id,
                "message": a.message,
                "since": format_us(a.since),
                "detail": dict(a.detail),
            }
            for a in found
        ],
    }


def _estimate(found: Estimate | None) -> EstimateOut | None:
    return None if found is None else {"days": found.days, "low": found.low, "high": found.high}


def forecast_body(found: Forecast) -> ForecastOut:
    """One skill's forecast."""
    return {
        "to_proficient": _estimate(found.to_proficient),
        "to_mastered": _estimate(found.to_mastered),
        "at_risk": found.at_risk,
        "reason": found.reason,
    }


def predictions_body(student_id: str, at: int, skills: Sequence[SkillOutlook]) -> PredictionsOut:
    """The body of GET …/predictions."""
    return {
        "student_id": student_id,
        "as_of": format_us(at),
        "skills": [
            {
                "skill_id": s.skill_id,
                "mastery": s.mastery,
                "p_correct": s.prediction.p_correct,
                "base_rate": s.prediction.base_rate,
                "drivers": [
                    {"feature": d.feature, "effect": d.effect} for d in s.prediction.drivers
                ],
                "forecast": forecast_body(s.forecast),
            }
            for s in skills
        ],
    }
