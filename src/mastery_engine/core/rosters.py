"""Classes: named rosters of a tenant's students, all kept in one document.

The tenant's document `classes` maps each class id to its sorted student ids:
`{"7a": ["s-1", "s-2"], "7b": [...]}`. Ids follow the rules of event ids (printable text, at
most 256 characters, no '/': they appear in URLs). A roster may name students who have no
events yet.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from mastery_engine.core.errors import InvalidRequest, NotFound
from mastery_engine.core.events import id_problem

CLASSES = "classes"  # the name of the tenant document holding every roster
MAX_CLASS_SIZE = 1_000
MAX_CLASSES = 1_000

Rosters = dict[str, list[str]]


def check_id(value: object, path: str) -> str:
    """An id usable in a URL, or `InvalidRequest` saying what is wrong with it."""
    problem = id_problem(value, path)
    if problem is not None:
        raise InvalidRequest(problem, field=path)
    return str(value)


def roster_of(students: object) -> list[str]:
    """A validated roster: at most 1,000 distinct student ids, returned sorted."""
    if not isinstance(students, Sequence) or isinstance(students, str):
        raise InvalidRequest("students must be a list of student ids", field="students")
    if len(students) > MAX_CLASS_SIZE:
        raise InvalidRequest(
            f"a class holds at most {MAX_CLASS_SIZE:,} students, got {len(students):,}",
            field="students",
        )
    seen: dict[str, int] = {}
    for position, value in enumerate(students):
        student = check_id(value, f"students[{position}]")
        if student in seen:
            raise InvalidRequest(
                f"students[{position}] {student!r} is already listed at students[{seen[student]}]",
                field="students",
            )
        seen[student] = position
    return sorted(seen)


def rosters(document: Mapping[str, Any] | None) -> Rosters:
    """The rosters a stored document holds (none when there is no document)."""
    return {} if document is None else {c: list(s) for c, s in document.items()}


def roster(document: Mapping[str, Any] | None, class_id: str) -> list[str]:
    """One class's students, or `NotFound`."""
    found = rosters(document).get(class_id)
    if found is None:
        raise NotFound(f"class {class_id!r} does not exist in this tenant")
    return found


def with_class(document: Mapping[str, Any] | None, class_id: str, students: list[str]) -> Rosters:
    """The rosters with one class created or replaced."""
    current = rosters(document)
    if class_id not in current and len(current) >= MAX_CLASSES:
        raise InvalidRequest(
            f"a tenant has at most {MAX_CLASSES:,} classes; delete one first", field="class_id"
        )
    return current | {class_id: students}


def without_class(document: Mapping[str, Any] | None, class_id: str) -> Rosters:
    """The rosters with one class removed, or `NotFound`."""
    current = rosters(document)
    roster(current, class_id)
    del current[class_id]
    return current


def without_student(document: Mapping[str, Any] | None, student_id: str) -> tuple[Rosters, int]:
    """The rosters with a student taken out of every class, and how many rosters named them."""
    current = rosters(document)
    named = [c for c, students in current.items() if student_id in students]
    for class_id in named:
        current[class_id] = [s for s in current[class_id] if s != student_id]
    return current, len(named)


def classes_of(document: Mapping[str, Any] | None, student_id: str) -> list[str]:
    """The ids of the classes whose roster names the student, sorted."""
    return sorted(c for c, students in rosters(document).items() if student_id in students)
