"""A raw batch before it is applied: the (student, skill) pairs it names, its tenant, each
item validated."""

from collections.abc import Callable, Iterable, Sequence

from mastery_engine.core.errors import InvalidEvent
from mastery_engine.core.events import Event, id_problem, printable_id
from mastery_engine.service.outcomes import IngestReport, Outcome, Status


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


def check_batch(
    tenant: str, items: Sequence[object], validate: Callable[[object], Event]
) -> IngestReport:
    """Each item validated: `accepted` with its event, or a `duplicate` of an earlier item of
    the batch, or `rejected`; nothing is looked up (so no stored event is found again)."""
    outcomes: list[Outcome] = []
    seen: set[str] = set()
    for raw in items:
        try:
            same_tenant(raw, tenant)
            event = validate(raw)
        except InvalidEvent as exc:
            outcomes.append(Outcome(printable_id(raw), Status.REJECTED, exc.message, exc.field))
            continue
        status = Status.DUPLICATE if event.id in seen else Status.ACCEPTED
        outcomes.append(Outcome(event.id, status, event=event))
        seen.add(event.id)
    return IngestReport(tuple(outcomes))
