"""Class rosters: validation, and taking a student out of every class."""

import pytest

from mastery_engine.core.errors import InvalidRequest, NotFound
from mastery_engine.core.rosters import (
    MAX_CLASS_SIZE,
    check_id,
    classes_of,
    roster_of,
    with_class,
    without_class,
    without_student,
)


def test_a_roster_is_sorted_and_may_be_empty() -> None:
    assert roster_of(["s-2", "s-10", "s-1"]) == ["s-1", "s-10", "s-2"]
    assert roster_of([]) == []
    assert len(roster_of([f"s-{i}" for i in range(MAX_CLASS_SIZE)])) == MAX_CLASS_SIZE


BAD_ROSTERS = [
    ("s-1", "must be a list"),
    ({"s-1": 1}, "must be a list"),
    (["s-1", 2], "students[1] must be a non-empty string"),
    (["  "], "students[0] must be a non-empty string"),
    (["s/1"], "students[0] must not contain '/'"),
    (["s\n1"], "students[0] must be printable"),
    (["x" * 257], "students[0] is longer than 256 characters"),
    (["a", "b", "a"], "students[2] 'a' is already listed at students[0]"),
    ([f"s-{i}" for i in range(MAX_CLASS_SIZE + 1)], "at most 1,000 students, got 1,001"),
]


@pytest.mark.parametrize(("students", "message"), BAD_ROSTERS)
def test_bad_rosters_say_what_is_wrong(students: object, message: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        roster_of(students)
    assert message in raised.value.message


@pytest.mark.parametrize("class_id", ["", " ", "a/b", "a\tb", "x" * 257, "\ud800"])
def test_bad_class_ids(class_id: str) -> None:
    with pytest.raises(InvalidRequest):
        check_id(class_id, "class_id")


def test_classes_change_and_students_leave_every_class() -> None:
    rosters = with_class(None, "7a", ["s-1", "s-2"])
    rosters = with_class(rosters, "7b", ["s-1"])
    rosters = with_class(rosters, "7c", ["s-3"])
    assert classes_of(rosters, "s-1") == ["7a", "7b"]
    assert without_student(rosters, "s-1") == ({"7a": ["s-2"], "7b": [], "7c": ["s-3"]}, 2)
    assert without_student(rosters, "nobody") == (rosters, 0)
    assert without_class(rosters, "7b") == {"7a": ["s-1", "s-2"], "7c": ["s-3"]}
    with pytest.raises(NotFound, match="class '7x' does not exist"):
        without_class(rosters, "7x")
