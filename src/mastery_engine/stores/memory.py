"""In-process store: the reference backend, and the fake the other layers test with."""

import copy
from collections.abc import Sequence
from typing import Any

from mastery_engine.core.aggregates import AggregateBuilder, StudentAggregates, contribution
from mastery_engine.core.events import Event
from mastery_engine.core.instants import day_of, end_of_day
from mastery_engine.stores.base import Change, Document, StoredEvent, read_each


class MemoryStore:
    """Keeps everything in dicts; nothing survives the process."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {}
        self._events: dict[tuple[str, str], list[Event]] = {}
        self._aggregates: dict[tuple[str, str], AggregateBuilder] = {}
        self._snapshots: dict[tuple[str, str], StudentAggregates] = {}
        self._audit: dict[str, list[dict[str, Any]]] = {}
        self._documents: dict[tuple[str, str], Document] = {}

    async def apply(self, tenant: str, events: Sequence[Event], ingested_at: int) -> list[bool]:
        """Apply a batch; no await inside, so it is atomic for the event loop."""
        applied = []
        for event in events:
            key = (tenant, event.id)
            if key in self._seen:
                applied.append(False)
                continue
            self._seen[key] = ingested_at
            student = (tenant, event.student_id)
            self._events.setdefault(student, []).append(event)
            self._aggregates.setdefault(student, AggregateBuilder()).add(contribution(event))
            self._snapshots.pop(student, None)
            applied.append(True)
        return applied

    async def read(
        self, tenant: str, student_id: str, as_of: int, *, cache: bool = True
    ) -> StudentAggregates | None:
        """A snapshot of the student's aggregates, kept until the student's next event."""
        key = (tenant, student_id)
        builder = self._aggregates.get(key)
        if builder is None:
            return None
        snapshot = self._snapshots.get(key)
        if snapshot is None:
            snapshot = builder.freeze()
            if cache:
                self._snapshots[key] = snapshot
        if not snapshot.scores_on(day_of(as_of)):
            return snapshot
        last = end_of_day(day_of(as_of))
        return snapshot.with_tail(
            tuple(e for e in self._events[key] if as_of < e.occurred_at <= last)
        )

    async def read_many(
        self, tenant: str, student_ids: Sequence[str], as_of: int, *, cache: bool = True
    ) -> list[StudentAggregates | None]:
        """Each student's `read`, in the order given."""
        return await read_each(lambda s: self.read(tenant, s, as_of, cache=cache), student_ids)

    async def students(self, tenant: str) -> list[str]:
        """Ids of the tenant's students, sorted."""
        return sorted(s for t, s in self._aggregates if t == tenant)

    async def delete_student(self, tenant: str, student_id: str) -> int:
        """Forget the student's aggregates, events and de-duplication records."""
        events = self._events.pop((tenant, student_id), [])
        for event in events:
            self._seen.pop((tenant, event.id), None)
        self._snapshots.pop((tenant, student_id), None)
        builder = self._aggregates.pop((tenant, student_id), None)
        return len(events) + (builder is not None)

    async def events_of(self, tenant: str, student_id: str) -> list[StoredEvent]:
        """The student's kept raw events, oldest first."""
        events = self._events.get((tenant, student_id), [])
        kept = [StoredEvent(e, self._seen[(tenant, e.id)]) for e in events]
        return sorted(kept, key=lambda s: (s.event.occurred_at, s.event.id))

    async def get_document(self, tenant: str, name: str) -> Document | None:
        """A copy of the tenant's document called `name`."""
        found = self._documents.get((tenant, name))
        return copy.deepcopy(found) if found is not None else None

    async def put_document(self, tenant: str, name: str, document: Document) -> None:
        """Keep a copy of the document."""
        self._documents[(tenant, name)] = copy.deepcopy(document)

    async def update_document(self, tenant: str, name: str, change: Change) -> Document | None:
        """Change the document; nothing awaits in between, so it is atomic for the event loop."""
        current = self._documents.get((tenant, name))
        new = change(copy.deepcopy(current))
        if new is not None:
            current = self._documents[(tenant, name)] = copy.deepcopy(new)
        return copy.deepcopy(current)

    async def audit(self, tenant: str, entry: dict[str, Any]) -> None:
        """Append a copy of the entry."""
        self._audit.setdefault(tenant, []).append(copy.deepcopy(entry))

    async def audit_log(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The latest entries, newest first."""
        return [copy.deepcopy(e) for e in reversed(self._audit.get(tenant, [])[-limit:])]

    async def purge(self, before: int) -> int:
        """Forget raw events and de-duplication records ingested before `before`."""
        expired = {key for key, at in self._seen.items() if at < before}
        for key in expired:
            del self._seen[key]
        for (tenant, _), events in self._events.items():
            events[:] = [e for e in events if (tenant, e.id) not in expired]
        return len(expired)

    async def migrations(self) -> list[str]:
        """None: the schema is created as a whole when the store opens."""
        return []

    async def ping(self) -> None:
        """Always reachable."""

    async def close(self) -> None:
        """Nothing to release."""
