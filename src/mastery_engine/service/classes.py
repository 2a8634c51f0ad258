"""Class use cases: rosters, kept in the tenant's `classes` document, and a class's matrix.

Roster changes are read-modify-write operations on that one document (`update_document`), so
two administrators changing different classes at once both keep their change, on every backend.
"""

import asyncio
from collections.abc import Sequence

from mastery_engine.core.analytics import ClassMatrix, class_matrix
from mastery_engine.core.errors import NotFound
from mastery_engine.core.formula import SkillMastery
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

CONCURRENT_READS = 16  # students of a class read at a time (network stores)


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
    gate = asyncio.Semaphore(CONCURRENT_READS)

    async def mastery_of(student_id: str) -> Sequence[SkillMastery] | None:
        async with gate:
            try:
                return (await service.mastery(tenant, student_id, at)).skills
            except NotFound:
                return None

    found = await asyncio.gather(*(mastery_of(s) for s in members))
    matrix = class_matrix(dict(zip(members, found, strict=True)), rules.curriculum.skill_ids)
    return at, matrix
