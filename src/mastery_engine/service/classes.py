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


class Classes:
    """The tenant's classes: rosters and a class's students x skills matrix."""

    def __init__(self, service: MasteryService) -> None:
        self.service = service

    async def ids(self, tenant: str) -> list[str]:
        """The ids of the tenant's classes, sorted."""
        return sorted(rosters(await self.service.store.get_document(tenant, CLASSES)))

    async def roster(self, tenant: str, class_id: str) -> list[str]:
        """A class's students, sorted; `NotFound` for a class the tenant does not have."""
        return roster(await self.service.store.get_document(tenant, CLASSES), class_id)

    async def put(self, tenant: str, class_id: str, students: object, actor: str) -> list[str]:
        """Create or replace a class (at most 1,000 distinct, valid student ids); audited."""
        check_id(class_id, "class_id")
        members = roster_of(students)
        await self.service.store.update_document(
            tenant, CLASSES, lambda document: dict(with_class(document, class_id, members))
        )
        outcome = {"class_id": class_id, "students": len(members)}
        await self.service.audit(tenant, actor, "put_class", None, outcome)
        return members

    async def delete(self, tenant: str, class_id: str, actor: str) -> dict[str, object]:
        """Remove a class (its students stay); `NotFound` if there is none; audited."""
        removed: list[str] = []

        def change(document: Document | None) -> Document:
            removed[:] = roster(document, class_id)
            return dict(without_class(document, class_id))

        await self.service.store.update_document(tenant, CLASSES, change)
        outcome = {"class_id": class_id, "students": len(removed)}
        await self.service.audit(tenant, actor, "delete_class", None, outcome)
        return {"class_id": class_id, "deleted": True}

    async def mastery(
        self, tenant: str, class_id: str, as_of: int | None
    ) -> tuple[int, ClassMatrix]:
        """The class's students x skills at `as_of` (default now), exactly as each student's
        mastery; a student of the roster without events has a row with no cells."""
        service = self.service
        at = service.clock() if as_of is None else as_of
        members = await self.roster(tenant, class_id)
        rules = await service.rules(tenant)
        found = await service.store.read_many(tenant, members, at)
        skills = [
            None if a is None else evaluate_student(a, at, rules.curriculum, rules.config)
            for a in found
        ]
        return at, class_matrix(dict(zip(members, skills, strict=True)), rules.curriculum.skill_ids)
