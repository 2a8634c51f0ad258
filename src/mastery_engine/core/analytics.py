"""Class and tenant analytics over students' skill masteries: a matrix, distributions, trends.

Every figure aggregates exactly what `GET /v1/students/{id}/mastery?as_of=` reports per student:
each curriculum skill for every student with an event by `as_of`, and any other skill for
the students who have events of it.

Quartiles interpolate linearly between order statistics (Hyndman and Fan's type 7, the
default of R and NumPy, and `statistics.quantiles(method="inclusive")`): for sorted values
x[0] <= ... <= x[n-1], Q(p) = x[j] + (h - j) * (x[j+1] - x[j]) with h = (n - 1) p and
j = floor(h). So Q(0) is the minimum, Q(0.5) the median, Q(1) the maximum, and a single value
is every quartile.
"""

import math
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.curriculum import Curriculum
from mastery_engine.core.formula import (
    LEVEL_CEILINGS,
    FormulaConfig,
    Level,
    SkillMastery,
    evaluate_student,
)
from mastery_engine.core.instants import day_of, end_of_day, format_us

WEEK_DAYS = 7


def quantile(ordered: Sequence[float], p: float) -> float:
    """The p-quantile (0 <= p <= 1) of sorted, non-empty values, by linear interpolation."""
    h = (len(ordered) - 1) * p
    j = math.floor(h)
    if j + 1 >= len(ordered):
        return ordered[-1]
    return ordered[j] + (h - j) * (ordered[j + 1] - ordered[j])


@dataclass(frozen=True, slots=True)
class Distribution:
    """How one skill's mastery values spread; the figures are None when there are none."""

    count: int
    mean: float | None
    minimum: float | None
    q1: float | None
    median: float | None
    q3: float | None
    maximum: float | None
    levels: tuple[tuple[Level, int], ...]  # every level, in order, with its count

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON (`students` is the count)."""
        return {
            "students": self.count,
            "mean": self.mean,
            "min": self.minimum,
            "q1": self.q1,
            "median": self.median,
            "q3": self.q3,
            "max": self.maximum,
            "levels": {level.value: n for level, n in self.levels},
        }


def level_counts(ordered: Sequence[float]) -> tuple[tuple[Level, int], ...]:
    """How many sorted mastery values fall in each level (a binary search per level)."""
    ends = [bisect_right(ordered, c, key=percent) for c, _ in LEVEL_CEILINGS] + [len(ordered)]
    starts = [0, *ends[:-1]]
    return tuple((level, e - s) for level, s, e in zip(Level, starts, ends, strict=True))


def percent(mastery: float) -> float:
    """The p that levels are decided on (`level_of`)."""
    return round(100.0 * mastery, 6)


def distribution(values: Iterable[float]) -> Distribution:
    """Count, mean, quartiles and level counts of some mastery values."""
    ordered = sorted(values)
    levels = level_counts(ordered)
    if not ordered:
        return Distribution(0, None, None, None, None, None, None, levels)
    q1, median, q3 = (quantile(ordered, p) for p in (0.25, 0.5, 0.75))
    mean = math.fsum(ordered) / len(ordered)
    return Distribution(len(ordered), mean, ordered[0], q1, median, q3, ordered[-1], levels)


def skill_columns(curriculum_ids: Sequence[str], others: Iterable[str]) -> tuple[str, ...]:
    """The curriculum's skills in its order, then any other skill, sorted."""
    known = set(curriculum_ids)
    return (*curriculum_ids, *sorted(set(others) - known))


@dataclass(frozen=True, slots=True)
class MatrixRow:
    """One student's row: a cell per column, None where their mastery lists no such skill."""

    student_id: str
    has_events: bool
    cells: tuple[SkillMastery | None, ...]


@dataclass(frozen=True, slots=True)
class ClassMatrix:
    """Students x skills (rows sorted by student id), with each column's distribution."""

    skills: tuple[str, ...]
    rows: tuple[MatrixRow, ...]
    columns: tuple[Distribution, ...]


def class_matrix(
    students: Mapping[str, Sequence[SkillMastery] | None], curriculum_ids: Sequence[str]
) -> ClassMatrix:
    """The matrix of a class; a student mapped to None has no events (every cell None)."""
    others = {m.skill_id for found in students.values() for m in found or ()}
    skills = skill_columns(curriculum_ids, others)
    rows = []
    for student_id in sorted(students):
        found = students[student_id]
        by_skill = {m.skill_id: m for m in found or ()}
        cells = tuple(by_skill.get(skill) for skill in skills)
        rows.append(MatrixRow(student_id, found is not None, cells))
    columns = tuple(
        distribution(c.mastery for row in rows if (c := row.cells[i]) is not None)
        for i in range(len(skills))
    )
    return ClassMatrix(skills, tuple(rows), columns)


def trend_instants(as_of: int, weeks: int) -> tuple[int, ...]:
    """Oldest first: the ends of the UTC days 7, 14, ... days before `as_of`'s day, then `as_of`.

    Past points fall at the end of a day, so a snapshot read for `as_of` evaluates them exactly.
    """
    day = day_of(as_of)
    return (*(end_of_day(day - WEEK_DAYS * k) for k in range(weeks - 1, 0, -1)), as_of)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """Mean mastery of a skill at one instant, over the students it counts."""

    at: int
    count: int
    mean: float | None


@dataclass(frozen=True, slots=True)
class SkillAnalytics:
    """One skill across a tenant: the distribution at `as_of` and the weekly trend."""

    skill_id: str
    started: int  # students with an event of the skill by as_of
    distribution: Distribution
    trend: tuple[TrendPoint, ...]  # oldest first; the last point is at as_of

    def to_json(self) -> dict[str, Any]:
        """The skill's figures as JSON."""
        trend = [{"at": format_us(p.at), "students": p.count, "mean": p.mean} for p in self.trend]
        return {
            "skill_id": self.skill_id,
            "started": self.started,
            **self.distribution.to_json(),
            "trend": trend,
        }


class TenantTally:
    """Per-skill figures of a tenant, added one student at a time.

    Keeps one float per student and skill at `as_of` (for the quartiles) and running sums for
    the older trend points, so the students' snapshots need not be held at once.
    """

    def __init__(
        self, instants: Sequence[int], curriculum: Curriculum, config: FormulaConfig
    ) -> None:
        self.instants = tuple(instants)
        self.curriculum = curriculum
        self.config = config
        self.students = 0
        self._values: dict[str, array[float]] = {}
        self._sums: dict[str, list[float]] = {}
        self._counts: dict[str, list[int]] = {}
        self._started: Counter[str] = Counter()

    def add(self, aggregates: StudentAggregates) -> None:
        """Count one student at every instant from their first event on."""
        if aggregates.is_empty:
            return
        first_event = min(aggregates.active.values())
        last = len(self.instants) - 1
        for k, at in enumerate(self.instants):
            if first_event > at:
                continue
            for m in evaluate_student(aggregates, at, self.curriculum, self.config):
                self._sums.setdefault(m.skill_id, [0.0] * len(self.instants))[k] += m.mastery
                self._counts.setdefault(m.skill_id, [0] * len(self.instants))[k] += 1
                if k == last:
                    self._values.setdefault(m.skill_id, array("d")).append(m.mastery)
        if first_event <= self.instants[-1]:
            self.students += 1
            self._started.update(aggregates.skill_ids(self.instants[-1]))

    def result(self) -> list[SkillAnalytics]:
        """Every curriculum skill (even with no student), then every other skill seen."""
        return [self.skill(skill) for skill in self.skill_ids()]

    def skill_ids(self) -> tuple[str, ...]:
        """The curriculum's skills, then every other skill seen."""
        return skill_columns(self.curriculum.skill_ids, self._counts)

    def skill(self, skill: str) -> SkillAnalytics:
        """One skill's figures (sorts its values: a few ms for 50,000 students)."""
        sums = self._sums.get(skill, [0.0] * len(self.instants))
        counts = self._counts.get(skill, [0] * len(self.instants))
        spread = distribution(self._values.get(skill, ()))
        earlier = tuple(
            TrendPoint(at, n, total / n if n else None)
            for at, total, n in zip(self.instants[:-1], sums, counts, strict=False)
        )
        now = TrendPoint(self.instants[-1], spread.count, spread.mean)  # same as the spread's
        return SkillAnalytics(skill, self._started[skill], spread, (*earlier, now))
