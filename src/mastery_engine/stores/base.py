"""The `Store` port: a handful of batch-first async methods every backend implements."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, Protocol

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.events import Event

Document = dict[str, Any]
# Gets the current document (None when absent); returns the new one, or None for no change.
Change = Callable[[Document | None], Document | None]


# The tenant's configuration is the document of this name (each backend keeps it where it
# always has: its own table or key).
CONFIG = "config"

# Students read at a time by `read_many` (what a network store is asked for at once).
CONCURRENT_READS = 16

# Default of the backends' own timeouts when none is handed in (MASTERY_STORE_TIMEOUT_SECONDS).
DEFAULT_TIMEOUT_S = 2.0


class StoredEvent(NamedTuple):
    """A raw event as kept, with when it was ingested."""

    event: Event
    ingested_at: int


class Store(Protocol):
    """Durable aggregates and de-duplication records, scoped by tenant."""

    async def apply(self, tenant: str, events: Sequence[Event], ingested_at: int) -> list[bool]:
        """Apply a batch atomically (on Redis Cluster: atomically per student); per event, True
        if applied, False if a duplicate id."""
        ...

    async def read(
        self, tenant: str, student_id: str, as_of: int, *, cache: bool = True
    ) -> StudentAggregates | None:
        """A student's aggregates (at least up to `as_of`'s day), or None for an unknown student.

        `tail` must hold the student's quiz and review events of `as_of`'s UTC day that occurred
        after `as_of`, whenever a score bucket exists on that day. With `cache=False` (a scan of
        every student) a snapshot the process caches is used but a fetched one is not kept, so
        the scan neither evicts the students being served nor keeps what it read alive.
        """
        ...

    async def read_many(
        self, tenant: str, student_ids: Sequence[str], as_of: int, *, cache: bool = True
    ) -> list[StudentAggregates | None]:
        """`read` of each student, in the order given (see `read_each`)."""
        ...

    async def students(self, tenant: str) -> list[str]:
        """Ids of the tenant's students, sorted."""
        ...

    async def delete_student(self, tenant: str, student_id: str) -> int:
        """Remove the student's aggregates, raw events and de-duplication records; how many.

        Tenant documents that name the student (class rosters) are the service's to change.
        """
        ...

    async def events_of(self, tenant: str, student_id: str) -> list[StoredEvent]:
        """The student's raw events still kept, oldest first (for export)."""
        ...

    async def get_document(self, tenant: str, name: str) -> Document | None:
        """The tenant's document called `name` (`CONFIG`, rosters, summaries), or None."""
        ...

    async def put_document(self, tenant: str, name: str, document: Document) -> None:
        """Replace the tenant's document called `name` (the last write wins)."""
        ...

    async def update_document(self, tenant: str, name: str, change: Change) -> Document | None:
        """Read, change and write one document atomically; the document as it now stands.

        `change` must be pure: a backend calls it again when another writer got in between.
        An exception it raises leaves the document as it was.
        """
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

    async def migrations(self) -> list[str]:
        """Names of the versioned schema migrations applied ([] for a schema without any)."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...


async def read_each(
    read: Callable[[str], Awaitable[StudentAggregates | None]], student_ids: Sequence[str]
) -> list[StudentAggregates | None]:
    """`read` of each student, `CONCURRENT_READS` at a time, in the order given."""
    gate = asyncio.Semaphore(CONCURRENT_READS)

    async def one(student_id: str) -> StudentAggregates | None:
        async with gate:
            return await read(student_id)

    return list(await asyncio.gather(*(one(s) for s in student_ids)))


class Sidecar(NamedTuple):
    """What the Dapr sidecar tells its app (DAPR_HTTP_PORT, DAPR_API_TOKEN), via the settings."""

    port: int | None = None
    token: str | None = None


NO_SIDECAR = Sidecar()
