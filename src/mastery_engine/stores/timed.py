"""A `Store` that bounds every call of another one by a deadline, and times it (metrics).

The deadline is what keeps a frozen store (a stopped process, a network partition) from
holding requests, probes and the Kafka consumer: a call that overruns it raises
`StoreUnavailable` (HTTP 503 with Retry-After, a paused consumer). The backends' own
timeouts are set to the same deadline so the abandoned work ends too. Abandoning a write
is safe: a batch is atomic and de-duplicated by event id, so if the store still applies it
after waking up, sending it again changes nothing.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.errors import StoreUnavailable
from mastery_engine.core.events import Event
from mastery_engine.stores.base import Change, Document, Store, StoredEvent

T = TypeVar("T")
Observer = Callable[[str, float, bool], None]  # operation, seconds, failed


def _unobserved(operation: str, seconds: float, failed: bool) -> None:
    return None


class TimedStore:
    """Delegates to `inner`, each call within `deadline_s`; `observe(operation, seconds,
    failed)` after each call."""

    def __init__(self, inner: Store, deadline_s: float, observe: Observer | None = None) -> None:
        self.inner = inner
        self.deadline_s = deadline_s
        self.observe = observe or _unobserved

    async def _timed(self, operation: str, call: Awaitable[T], *, bounded: bool = True) -> T:
        started = time.perf_counter()
        failed = True
        try:
            async with asyncio.timeout(self.deadline_s if bounded else None):
                result = await call
            failed = False
            return result
        except TimeoutError:
            raise StoreUnavailable(
                f"the store did not answer {operation} within {self.deadline_s:g} s"
                " (MASTERY_STORE_TIMEOUT_SECONDS)"
            ) from None
        finally:
            self.observe(operation, time.perf_counter() - started, failed)

    async def apply(self, tenant: str, events: Sequence[Event], ingested_at: int) -> list[bool]:
        """Apply a batch atomically."""
        return await self._timed("apply", self.inner.apply(tenant, events, ingested_at))

    async def read(
        self, tenant: str, student_id: str, as_of: int, *, cache: bool = True
    ) -> StudentAggregates | None:
        """A student's aggregates."""
        reading = self.inner.read(tenant, student_id, as_of, cache=cache)
        return await self._timed("read", reading)

    async def read_many(
        self, tenant: str, student_ids: Sequence[str], as_of: int, *, cache: bool = True
    ) -> list[StudentAggregates | None]:
        """Several students' aggregates, within one deadline."""
        reading = self.inner.read_many(tenant, student_ids, as_of, cache=cache)
        return await self._timed("read_many", reading)

    async def students(self, tenant: str) -> list[str]:
        """Ids of the tenant's students."""
        return await self._timed("students", self.inner.students(tenant))

    async def delete_student(self, tenant: str, student_id: str) -> int:
        """Remove every record of a student."""
        return await self._timed("delete_student", self.inner.delete_student(tenant, student_id))

    async def events_of(self, tenant: str, student_id: str) -> list[StoredEvent]:
        """The student's raw events still kept."""
        return await self._timed("events_of", self.inner.events_of(tenant, student_id))

    async def get_document(self, tenant: str, name: str) -> Document | None:
        """A tenant document."""
        return await self._timed("get_document", self.inner.get_document(tenant, name))

    async def put_document(self, tenant: str, name: str, document: Document) -> None:
        """Replace a tenant document."""
        await self._timed("put_document", self.inner.put_document(tenant, name, document))

    async def update_document(self, tenant: str, name: str, change: Change) -> Document | None:
        """Change a tenant document atomically."""
        updated = self.inner.update_document(tenant, name, change)
        return await self._timed("update_document", updated)

    async def audit(self, tenant: str, entry: dict[str, Any]) -> None:
        """Append an audit entry."""
        await self._timed("audit", self.inner.audit(tenant, entry))

    async def audit_log(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The tenant's latest audit entries."""
        return await self._timed("audit_log", self.inner.audit_log(tenant, limit))

    async def purge(self, before: int) -> int:
        """Remove expired raw records (maintenance: may take longer than the deadline)."""
        return await self._timed("purge", self.inner.purge(before), bounded=False)

    async def migrations(self) -> list[str]:
        """The inner store's applied schema migrations."""
        return await self._timed("migrations", self.inner.migrations())

    async def ping(self) -> None:
        """Raise unless the store answers."""
        await self._timed("ping", self.inner.ping())

    async def close(self) -> None:
        """Close the inner store."""
        await self.inner.close()
