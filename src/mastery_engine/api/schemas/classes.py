"""Request and response shapes of classes and analytics, as documented in OpenAPI."""

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field, WithJsonSchema
from typing_extensions import TypedDict

from mastery_engine.core.analytics import ClassMatrix, Distribution
from mastery_engine.core.formula import Level
from mastery_engine.core.instants import format_us
from mastery_engine.core.rosters import MAX_CLASS_SIZE
from mastery_engine.formats.contracts import URL_ID_SCHEMA

StudentId = Annotated[str, WithJsonSchema(URL_ID_SCHEMA)]
ClassId = Annotated[
    str, Path(description="A class of the caller's tenant"), WithJsonSchema(URL_ID_SCHEMA)
]


class ClassIn(BaseModel):
    """A class roster: distinct student ids, under the rule of event ids."""

    students: list[StudentId] = Field(
        max_length=MAX_CLASS_SIZE, json_schema_extra={"uniqueItems": True}
    )

    model_config = {"json_schema_extra": {"examples": [{"students": ["s-1", "s-2", "s-3"]}]}}


class ClassOut(TypedDict):
    """A class and its students, sorted."""

    class_id: str
    students: list[str]


class ClassesOut(TypedDict):
    """The tenant's class ids, sorted."""

    classes: list[str]


class ClassDeletedOut(TypedDict):
    """A class was deleted (its students and their data stay)."""

    class_id: str
    deleted: bool


class LevelsOut(TypedDict):
    """How many students are at each level."""

    Beginner: int
    Learning: int
    Proficient: int
    Mastered: int


class DistributionOut(TypedDict):
    """One skill's spread: count, mean, quartiles (linear interpolation), level counts."""

    skill_id: str
    students: Annotated[int, Field(description="Students counted (null figures when 0)")]
    mean: float | None
    min: float | None
    q1: float | None
    median: float | None
    q3: float | None
    max: float | None
    levels: LevelsOut


class CellOut(TypedDict):
    """One student's mastery of one skill."""

    mastery: Annotated[float, Field(ge=0, le=1)]
    level: Level


class MatrixRowOut(TypedDict):
    """A student's row; a null cell: their mastery lists no such skill (or no events at all)."""

    student_id: str
    has_events: bool
    cells: list[CellOut | None]


class ClassMasteryOut(TypedDict):
    """Students x skills of a class (a heatmap), and each skill's spread over the class."""

    class_id: str
    as_of: str
    skills: Annotated[list[str], Field(description="Columns: curriculum order, then other skills")]
    students: Annotated[list[MatrixRowOut], Field(description="Rows, sorted by student id")]
    summary: Annotated[
        list[DistributionOut], Field(description="Per column, over its non-null cells")
    ]


class TrendPointOut(TypedDict):
    """Mean mastery at one instant (end of a UTC day; the last point is `as_of`)."""

    at: str
    students: int
    mean: float | None


class SkillAnalyticsOut(DistributionOut):
    """One skill across the tenant."""

    started: Annotated[int, Field(description="Students with at least one event of the skill")]
    trend: list[TrendPointOut]


class TenantAnalyticsOut(TypedDict):
    """Per-skill analytics of the whole tenant, from a summary at most `max_age_seconds` old."""

    as_of: str
    computed_at: str
    computed_in_seconds: float
    age_seconds: Annotated[float, Field(description="Since the computation started reading")]
    max_age_seconds: float
    students: int
    weeks: int
    skills: list[SkillAnalyticsOut]


def classes_body(class_ids: list[str]) -> ClassesOut:
    """The body of GET /v1/classes."""
    return {"classes": class_ids}


def class_body(class_id: str, students: list[str]) -> ClassOut:
    """A class's roster."""
    return {"class_id": class_id, "students": students}


def distribution_body(skill_id: str, d: Distribution) -> DistributionOut:
    """One column's figures, as `Distribution.to_json` has them, under the skill's id."""
    counts = dict(d.levels)
    return {
        "skill_id": skill_id,
        "students": d.count,
        "mean": d.mean,
        "min": d.minimum,
        "q1": d.q1,
        "median": d.median,
        "q3": d.q3,
        "max": d.maximum,
        "levels": {
            "Beginner": counts[Level.BEGINNER],
            "Learning": counts[Level.LEARNING],
            "Proficient": counts[Level.PROFICIENT],
            "Mastered": counts[Level.MASTERED],
        },
    }


def matrix_body(class_id: str, as_of: int, matrix: ClassMatrix) -> ClassMasteryOut:
    """The class matrix as JSON."""
    rows: list[MatrixRowOut] = [
        {
            "student_id": row.student_id,
            "has_events": row.has_events,
            "cells": [
                None if c is None else {"mastery": c.mastery, "level": c.level} for c in row.cells
            ],
        }
        for row in matrix.rows
    ]
    summary = [
        distribution_body(skill, column)
        for skill, column in zip(matrix.skills, matrix.columns, strict=True)
    ]
    return {
        "class_id": class_id,
        "as_of": format_us(as_of),
        "skills": list(matrix.skills),
        "students": rows,
        "summary": summary,
    }
