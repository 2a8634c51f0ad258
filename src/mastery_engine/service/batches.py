"""A raw batch before it is validated: the (student, skill) pairs it names, its tenant."""

from collections.abc import Iterable

from mastery_engine.core.errors import InvalidEvent
from mastery_engine.core.events import id_problem


def usable_id(value: object) -> str | None:
    """An id usable as a student or skill id (the event is validated in full later)."""
    return value if isinstance(value, str) and id_problem(value, "id") is None else None


def skill_named(raw: object) -> tuple[str, str] | None:
    """(student, skill) an item names, if both are usable."""
    if not isinstance(raw, dict):
        return None
    student, skill = usable_id(raw.get("student_id")), usable_id(raw.get("skill_id"))
    return (student, skill) if student and skill else None


def by_student(pairs: Iterable[tuple[str, str] | None]) -> dict[str, list[str]]:
    """Each student's distinct skills, in first-seen order."""
    skills: dict[str, dict[str, None]] = {}
    for pair in pairs:
        if pair is not None:
            skills.setdefault(pair[0], {})[pair[1]] = None
    return {student: list(named) for student, named in skills.items()}


def same_tenant(raw: object, tenant: str) -> None:
    """An event may name its tenant, but only the caller's own."""
    named = raw.get("tenant_id", tenant) if isinstance(raw, dict) else tenant
    if named != tenant:
        raise InvalidEvent(
            f"tenant_id {named!r} does not match the caller's tenant {tenant!r}",
            field="tenant_id",
        )
