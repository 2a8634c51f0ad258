"""Response shapes of the mastery queries, as documented in OpenAPI, and their builders."""

from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict

from mastery_engine.core.aggregates import Component
from mastery_engine.core.explain import Explanation
from mastery_engine.core.formula import Level, SkillMastery
from mastery_engine.core.history import HistoryPoint
from mastery_engine.core.instants import day_to_date, format_us
from mastery_engine.service.outcomes import StudentMastery


class StudentsOut(TypedDict):
    """Ids of the tenant's students with events."""

    students: list[str]


class ComponentsOut(TypedDict):
    """The four component values, each in [0, 1]."""

    completion: float
    quiz: float
    quality: float
    consistency: float


class SkillMasteryOut(TypedDict):
    """Mastery of one skill."""

    skill_id: str
    mastery: Annotated[float, Field(ge=0, le=1)]
    level: Level
    components: ComponentsOut


class StudentMasteryOut(TypedDict):
    """Mastery of every skill of a student at `as_of`."""

    student_id: str
    as_of: str
    skills: list[SkillMasteryOut]


class PartOut(TypedDict):
    """One component's share of the mastery value and its best next step."""

    component: Component
    value: float
    weight: float
    contribution: Annotated[float, Field(description="weight x value")]
    headroom: Annotated[float, Field(description="weight x (1 - value): the most it can add")]
    next_step: str
    next_step_gain: Annotated[float, Field(description="Weighted mastery the step should add")]


class ChangeOut(TypedDict):
    """How mastery moved since an earlier instant, per component contribution."""

    since: str
    previous: float
    delta: float
    by_component: Annotated[
        dict[str, float], Field(description="Component -> change of its contribution")
    ]


class ExplanationOut(TypedDict):
    """The parts of the mastery value, the component to raise first, and the recent move."""

    summary: str
    raise_most: Annotated[
        Component | None, Field(description="The component whose step adds most; null: none")
    ]
    components: list[PartOut]
    change: ChangeOut | None


class SkillDetailOut(SkillMasteryOut):
    """One skill with its explanation."""

    student_id: str
    as_of: str
    explanation: ExplanationOut


class PointOut(TypedDict):
    """Mastery at the end of one UTC day."""

    date: str
    mastery: float
    level: Level


class HistoryOut(TypedDict):
    """A daily series."""

    student_id: str
    skill_id: str
    points: list[PointOut]


def skill_body(m: SkillMastery) -> SkillMasteryOut:
    """One skill's mastery, level and components."""
    c = m.components
    return {
        "skill_id": m.skill_id,
        "mastery": m.mastery,
        "level": m.level,
        "components": {
            "completion": c.completion,
            "quiz": c.quiz,
            "quality": c.quality,
            "consistency": c.consistency,
        },
    }


def student_body(m: StudentMastery) -> StudentMasteryOut:
    """Every skill of a student."""
    return {
        "student_id": m.student_id,
        "as_of": format_us(m.as_of),
        "skills": [skill_body(s) for s in m.skills],
    }


def explanation_body(e: Explanation) -> ExplanationOut:
    """Components with weights and contributions, the best next step, the recent move."""
    change = e.change
    return {
        "summary": e.summary,
        "raise_most": e.raise_most,
        "components": [
            {
                "component": p.component,
                "value": p.value,
                "weight": p.weight,
                "contribution": p.contribution,
                "headroom": p.headroom,
                "next_step": p.next_step,
                "next_step_gain": p.next_step_gain,
            }
            for p in e.parts
        ],
        "change": None
        if change is None
        else {
            "since": format_us(change.since),
            "previous": change.previous,
            "delta": change.delta,
            "by_component": {c.value: v for c, v in change.by_component.items()},
        },
    }


def skill_detail_body(student_id: str, m: SkillMastery, e: Explanation) -> SkillDetailOut:
    """One skill of a student with its explanation."""
    return {
        "student_id": student_id,
        "as_of": format_us(m.as_of),
        **skill_body(m),
        "explanation": explanation_body(e),
    }


def history_body(student_id: str, skill_id: str, points: list[HistoryPoint]) -> HistoryOut:
    """A daily series."""
    return {
        "student_id": student_id,
        "skill_id": skill_id,
        "points": [
            {"date": day_to_date(p.day).isoformat(), "mastery": p.mastery, "level": p.level}
            for p in points
        ],
    }
