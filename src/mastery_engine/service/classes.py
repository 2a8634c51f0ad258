"""Class use cases: rosters, kept in the tenant's `classes` document, and a class's matrix.

Roster changes are read-modify-write operations on that one document (`update_document`), so
two administrators changing different classes at once both keep their change, on every backend.
"""

from mastery_engine.core.analytics import ClassMatrix, class_matrix
from mastery_engine.core.formula import evaluate_student
from mastery_engine.core.rosters import (
    CLASSES,
    check_id,
    roster,
    roster_of,
    rosters,
    with_class,
    without_class,
)
from mastery_engine.service.mastery import MasteryService
from mastery_engine.stores.base import Document


async def class_ids(service: MasteryService, tenant: str) -> list[str]:
    """The ids of the tenant's classes, sorted."""
    return sorted(rosters(await service.store.get_document(tenant, CLASSES)))


async def get_class(service: MasteryService, tenant: str, class_id: str) -> list[str]:
    """A class's students, sorted; `NotFound` for a class the tenant does not have."""
    return roster(await service.store.get_document(tenant, CLASSES), class_id)


async def put_class(
    service: MasteryService, tenant: str, class_id: str, students: object, actor: str
) -> list[str]:
    """Create or replace a class (at most 1,000 distinct, valid student ids); audited."""
    check_id(class_id, "class_id")
    members = roster_of(students)
    await service.store.update_document(
        tenant, CLASSES, lambda document: dict(with_class(document, class_id, members))
    )
    outcome = {"class_id": class_id, "students": len(members)}
    await service.audit(tenant, actor, "put_class", None, outcome)
    return members


async def delete_class(
    service: MasteryService, tenant: str, class_id: str, actor: str
) -> dict[str, object]:
    """Remove a class (its students stay); `NotFound` if there is none; audited."""
    removed: list[str] = []

    def change(document: Document | None) -> Document:
        removed[:] = roster(document, class_id)
        return dict(without_class(document, class_id))

    await service.store.update_document(tenant, CLASSES, change)
    outcome = {"class_id": class_id, "students": len(removed)}
    await service.audit(tenant, actor, "delete_class", None, outcome)
    return {"class_id": class_id, "deleted": True}


async def class_mastery(
    service: MasteryService, tenant: str, class_id: str, as_of: int | None
) -> tuple[int, ClassMatrix]:
    """The class's students x skills at `as_of` (default now), exactly as each student's mastery.

    A student of the roster without events has a row with no cells (`has_events` false).
    """
    at = service.clock() if as_of is None else as_of
    members = await get_class(service, tenant, class_id)
    rules = await service.rules(tenant)
    found = await service.store.read_many(tenant, members, at)
    skills = [
        None if a is None else evaluate_student(a, at, rules.curriculum, rules.config)
        for a in found
    ]
    matrix = class_matrix(dict(zip(members, skills, strict=True)), rules.curriculum.skill_ids)
    return at, matrix
