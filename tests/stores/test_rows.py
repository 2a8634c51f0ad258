"""A student read back from rows: packed score buckets, and ids kept once for all students."""

from typing import Any

from mastery_engine.core.aggregates import Component
from mastery_engine.core.moments import MOMENTS, DayBuckets
from mastery_engine.stores.rows import aggregates_from_rows, day_number

Rows = tuple[
    list[tuple[str, int]], list[tuple[Any, ...]], list[tuple[str, str, int]], list[tuple[str, int]]
]


def read_back(skill: str, exercise: str) -> Rows:
    """One student's rows, as a driver returns them."""
    moments = [0.25 * k for k in range(2 * MOMENTS)]
    return (
        [("2026-03-01", 10), ("2026-03-02", 20)],
        [("2026-03-02", "quiz", skill, 2, *moments), ("2026-03-01", "quiz", skill, 1, *moments)],
        [(skill, exercise, 10)],
        [(skill, 10)],
    )


def test_score_rows_become_packed_buckets_in_day_order() -> None:
    aggregates = aggregates_from_rows(*read_back("basics", "e1"))
    days = aggregates.scores[("basics", Component.QUIZ)]
    assert isinstance(days, DayBuckets)
    assert list(days) == [day_number("2026-03-01"), day_number("2026-03-02")]
    assert [m.n for m in days.values()] == [1, 2]
    assert days[day_number("2026-03-02")].s == tuple(0.25 * k for k in range(MOMENTS, 2 * MOMENTS))


def test_ids_are_shared_between_students_read_back() -> None:
    # Strings built at run time, as a driver builds them: equal, but distinct objects.
    skill, exercise = "".join(["bas", "ics"]), "".join(["e", "1"])
    first = aggregates_from_rows(*read_back(skill, exercise))
    second = aggregates_from_rows(*read_back("".join(["ba", "sics"]), "".join(["e", "1"])))
    assert first == second
    assert next(iter(first.completions)) is next(iter(second.completions))
    assert next(iter(first.completions[skill])) is next(iter(second.completions[skill]))
    assert next(iter(first.skills)) is next(iter(second.skills))
