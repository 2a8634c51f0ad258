"""The `Store` port: a handful of batch-first async methods every backend implements."""

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.events import Event


class StoredEvent(NamedTuple):
    """A raw event as kept, with when it was ingested."""

    event: Event
    ingested_at: int


class Store(Protocol):
    """Durable aggregates and de-duplication records, scoped by tenant."""

    async def apply(self, tenant: str, events: Sequence[Event], ingested_at: int) -> list[bool]:
        """Apply a batch atomically; per event, True if applied, False if a duplicate id."""
        ...

    async def read(self, tenant: str, student_id: str, as_of: int) -> StudentAggregates | None:
        """A student's aggregates (at least up to `as_of`'s day), or None for an unknown student.

        `tail` must hold the student's quiz and review events of `as_of`'s UTC day that occurred
        after `as_of`, whenever a score bucket exists on that day.
        """
        ...

    async def students(self, tenant: str) -> list[str]:
        """Ids of the tenant's students, sorted."""
        ...

    async def delete_student(self, tenant: str, student_id: str) -> int:
        """Remove every record of a student; the number of records removed."""
        ...

    async def events_of(self, tenant: str, student_id: str) -> list[StoredEvent]:
        """The student's raw events still kept, oldest first (for export)."""
        ...

    async def get_config(self, tenant: str) -> dict[str, Any] | None:
        """The tenant's configuration document, or None when it has none."""
        ...

    async def put_config(self, tenant: str, config: dict[str, Any]) -> None:
        """Replace the tenant's configuration document."""
        ...

    async def audit(self, tenant: str, entry: dict[str, Any]) -> None:
        """Append an entry to the tenant's audit log."""
        ...

    async def audit_log(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The tenant's latest audit entries, newest first."""
        ...

    async def purge(self, before: int) -> int:
        """Remove raw event and de-duplication records ingested before `before`; how many.

        Aggregates stay. A purged event id can be applied again (it counts anew).
        """
        ...

    async def ping(self) -> None:
        """Raise `StoreUnavailable` unless the store answers."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...
