"""Class matrix, distributions, quartiles and the weekly trend, table by table."""

import random
import statistics
from collections import Counter
from typing import Any

import pytest

from mastery_engine.core.aggregates import StudentAggregates, contribution, fold
from mastery_engine.core.analytics import (
    TenantTally,
    class_matrix,
    distribution,
    quantile,
    skill_columns,
    trend_instants,
)
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.events import parse_event
from mastery_engine.core.formula import FormulaConfig, Level, Weights, evaluate_student, level_of
from mastery_engine.core.instants import parse_as_of
from tests.conftest import NOW, completions

# Completion only, so every mastery is a plain fraction of exercises done.
COMPLETION = FormulaConfig(Weights(1.0, 0.0, 0.0, 0.0))


@pytest.mark.parametrize(
    ("values", "q1", "median", "q3"),
    [
        ([0.3], 0.3, 0.3, 0.3),
        ([1.0, 2.0], 1.25, 1.5, 1.75),
        ([4.0, 1.0, 3.0, 2.0], 1.75, 2.5, 3.25),
        ([0.0, 0.2, 0.5, 1.0], 0.15, 0.35, 0.625),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 2.0, 3.0, 4.0),
    ],
)
def test_quartiles_interpolate_linearly_between_order_statistics(
    values: list[float], q1: float, median: float, q3: float
) -> None:
    ordered = sorted(values)
    assert [quantile(ordered, p) for p in (0.25, 0.5, 0.75)] == pytest.approx([q1, median, q3])
    assert quantile(ordered, 0.0) == ordered[0] and quantile(ordered, 1.0) == ordered[-1]


def test_quartiles_agree_with_statistics_inclusive_method() -> None:
    rng = random.Random(3)
    for size in (2, 3, 7, 50, 101):
        values = sorted(rng.random() for _ in range(size))
        assert [quantile(values, p) for p in (0.25, 0.5, 0.75)] == pytest.approx(
            statistics.quantiles(values, n=4, method="inclusive")
        )


LEVELS = [
    ([], (0, 0, 0, 0)),
    ([0.0, 0.4], (2, 0, 0, 0)),
    ([0.4000001, 0.7], (0, 2, 0, 0)),
    ([0.7000001, 0.9], (0, 0, 2, 0)),
    ([0.9000001, 1.0], (0, 0, 0, 2)),
    ([0.4 + 1e-12, 0.9 + 1e-12], (1, 0, 1, 0)),  # within the rounding of p = 100 m
]


@pytest.mark.parametrize(("values", "counts"), LEVELS)
def test_level_counts_follow_the_level_boundaries(
    values: list[float], counts: tuple[int, ...]
) -> None:
    found = distribution(values)
    assert tuple(n for _, n in found.levels) == counts
    assert [level for level, _ in found.levels] == list(Level)


def test_level_counts_agree_with_level_of() -> None:
    rng = random.Random(5)
    near = [c / 100 + d for c in (40, 70, 90) for d in (-1e-9, -1e-12, 0.0, 1e-12, 1e-9)]
    values = [rng.random() for _ in range(500)] + near + [0.0, 1.0]
    counts = Counter(level_of(v) for v in values)
    assert dict(distribution(values).levels) == {level: counts[level] for level in Level}


def test_distribution_of_nothing_has_no_figures() -> None:
    empty = distribution([])
    assert (empty.count, empty.mean, empty.median, empty.minimum) == (0, None, None, None)
    assert empty.to_json()["levels"] == dict.fromkeys(
        ("Beginner", "Learning", "Proficient", "Mastered"), 0
    )


def test_distribution_figures() -> None:
    found = distribution([1.0, 0.5, 0.2, 0.0])
    assert (found.count, found.minimum, found.maximum) == (4, 0.0, 1.0)
    assert found.mean == pytest.approx(0.425)
    assert (found.q1, found.median, found.q3) == pytest.approx((0.15, 0.35, 0.625))


@pytest.mark.parametrize(
    ("curriculum", "others", "columns"),
    [
        (("b", "a"), [], ("b", "a")),
        (("b", "a"), ["z", "a", "c", "z"], ("b", "a", "c", "z")),
        ((), ["y", "x"], ("x", "y")),
    ],
)
def test_columns_are_the_curriculum_then_other_skills_sorted(
    curriculum: tuple[str, ...], others: list[str], columns: tuple[str, ...]
) -> None:
    assert skill_columns(curriculum, others) == columns


@pytest.mark.parametrize(
    ("as_of", "weeks", "points"),
    [
        ("2026-03-20T12:00:00Z", 1, ["2026-03-20T12:00:00Z"]),
        (
            "2026-03-20T12:00:00Z",
            3,
            ["2026-03-06T23:59:59.999999Z", "2026-03-13T23:59:59.999999Z", "2026-03-20T12:00:00Z"],
        ),
        ("2026-03-20", 2, ["2026-03-13T23:59:59.999999Z", "2026-03-20T23:59:59.999999Z"]),
    ],
)
def test_trend_points_are_week_ends_then_as_of(as_of: str, weeks: int, points: list[str]) -> None:
    assert trend_instants(parse_as_of(as_of), weeks) == tuple(parse_as_of(p) for p in points)


def aggregates_of(bodies: list[dict[str, Any]]) -> StudentAggregates:
    return fold(contribution(parse_event(b, NOW)) for b in bodies)


# A small tenant, completion only: C started early, B and D in the second week, A last.
TENANT = {
    "A": completions("A", "basics", 10, "2026-03-19"),
    "B": completions("B", "basics", 5, "2026-03-10") + completions("B", "regex", 1, "2026-03-10"),
    "C": completions("C", "basics", 2, "2026-03-05"),
    "D": completions("D", "control-flow", 6, "2026-03-12"),
}


def tally(weeks: int = 3) -> TenantTally:
    counted = TenantTally(trend_instants(NOW, weeks), DEFAULT_CURRICULUM, COMPLETION)
    for bodies in TENANT.values():
        counted.add(aggregates_of(bodies))
    return counted


def test_tenant_figures_computed_by_hand() -> None:
    counted = tally()
    skills = {s.skill_id: s for s in counted.result()}
    assert counted.students == 4
    assert list(skills) == [*DEFAULT_CURRICULUM.skill_ids, "regex"]
    basics = skills["basics"]
    assert (basics.started, basics.distribution.count) == (3, 4)  # D counts, with 0
    assert basics.distribution.mean == pytest.approx((1.0 + 0.5 + 0.2 + 0.0) / 4)
    assert (basics.distribution.q1, basics.distribution.median) == pytest.approx((0.15, 0.35))
    assert dict(basics.distribution.levels) == {
        Level.BEGINNER: 2,
        Level.LEARNING: 1,
        Level.PROFICIENT: 0,
        Level.MASTERED: 1,
    }
    trend = [(p.count, p.mean) for p in basics.trend]
    assert trend == [(1, pytest.approx(0.2)), (3, pytest.approx(0.7 / 3)), (4, 0.425)]
    assert skills["control-flow"].distribution.mean == pytest.approx(0.5 / 4)
    regex = skills["regex"]  # not in the curriculum: only the students who have it
    assert (regex.started, regex.distribution.count, regex.distribution.mean) == (1, 1, 0.1)
    assert [p.count for p in regex.trend] == [0, 1, 1]
    assert [p.count for p in skills["oop"].trend] == [1, 3, 4]


def test_the_last_trend_point_is_the_distribution_at_as_of() -> None:
    for skill in tally(weeks=2).result():
        assert skill.trend[-1].at == NOW
        assert (skill.trend[-1].count, skill.trend[-1].mean) == (
            skill.distribution.count,
            skill.distribution.mean,
        )


def test_tenant_values_are_each_student_s_own_mastery() -> None:
    counted = TenantTally((NOW,), DEFAULT_CURRICULUM, FormulaConfig())
    everyone = [aggregates_of(bodies) for bodies in TENANT.values()]
    for aggregates in everyone:
        counted.add(aggregates)
    own = [evaluate_student(a, NOW, DEFAULT_CURRICULUM, FormulaConfig()) for a in everyone]
    for skill in counted.result():
        values = [m.mastery for masteries in own for m in masteries if m.skill_id == skill.skill_id]
        assert skill.distribution.mean == pytest.approx(sum(values) / len(values), abs=1e-12)
    assert counted.students == 4


def test_a_student_without_events_counts_nowhere() -> None:
    counted = TenantTally((NOW,), DEFAULT_CURRICULUM, COMPLETION)
    counted.add(StudentAggregates())
    assert counted.students == 0
    assert all(s.distribution.count == 0 and s.started == 0 for s in counted.result())


def test_class_matrix_rows_columns_and_column_spreads() -> None:
    own = {
        name: evaluate_student(aggregates_of(bodies), NOW, DEFAULT_CURRICULUM, COMPLETION)
        for name, bodies in TENANT.items()
    }
    matrix = class_matrix({"Z": None, **own}, DEFAULT_CURRICULUM.skill_ids)
    assert matrix.skills == (*DEFAULT_CURRICULUM.skill_ids, "regex")
    assert [r.student_id for r in matrix.rows] == ["A", "B", "C", "D", "Z"]
    rows = {r.student_id: r for r in matrix.rows}
    assert rows["Z"].has_events is False and set(rows["Z"].cells) == {None}
    cell = rows["B"].cells[0]
    assert cell is not None and (cell.mastery, cell.level) == (0.5, Level.LEARNING)
    assert rows["A"].cells[-1] is None  # A has no regex events: not among A's skills
    regex = rows["B"].cells[-1]
    assert regex is not None and regex.mastery == pytest.approx(0.1)
    basics, regex_column = matrix.columns[0], matrix.columns[-1]
    assert (basics.count, basics.mean) == (4, pytest.approx(0.425))
    assert (regex_column.count, regex_column.mean) == (1, pytest.approx(0.1))


def test_an_empty_class_has_the_curriculum_columns_and_no_rows() -> None:
    matrix = class_matrix({}, DEFAULT_CURRICULUM.skill_ids)
    assert matrix.skills == DEFAULT_CURRICULUM.skill_ids
    assert matrix.rows == ()
    assert all(c.count == 0 for c in matrix.columns)
