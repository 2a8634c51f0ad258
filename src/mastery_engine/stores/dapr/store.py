"""Dapr state store: the aggregates as JSON documents behind the sidecar's state HTTP API.

Dapr state stores have no atomic increments, so a batch is applied with optimistic
concurrency: one bulk read of every key the batch touches (values and ETags), the new documents
computed from them (sums, minimums, unions), and one transaction writing them with `first-write`
concurrency: over the ETag read, or, for a key that was missing, only while it is still missing.
When another writer got there first the transaction fails, and the batch is read and computed
again after a capped, jittered exponential backoff.

One transaction per batch rather than per student: a batch is all-or-nothing on every backend,
and an event's de-duplication record commits together with the buckets that count it. A Dapr
transaction spans one state store, which is all this layout uses; stores that accept only one
partition per transaction (Azure Cosmos DB) cannot hold it. The component must support ETags
and transactions (Redis and PostgreSQL do; see deploy/dapr/).

Nothing contacts the sidecar at open: it may start after the application, and readiness
(`ping`) reports it. Key layout: `dapr_layout`.
"""

import functools
from collections.abc import Sequence
from typing import Any

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.events import Event
from mastery_engine.core.instants import day_of, end_of_day
from mastery_engine.stores import rows
from mastery_engine.stores.base import (
    DEFAULT_TIMEOUT_S,
    NO_SIDECAR,
    Sidecar,
    StoredEvent,
    read_each,
)
from mastery_engine.stores.dapr import layout
from mastery_engine.stores.dapr.client import (
    Item,
    StateClient,
    delete,
    etag_of,
    target_of,
    upsert,
)
from mastery_engine.stores.dapr.layout import Keys
from mastery_engine.stores.dapr.tenant import TenantDocuments
from mastery_engine.stores.snapshots import Moved, SnapshotCache

CACHE_STUDENTS = 2_000


class DaprStore(TenantDocuments):
    """Aggregates in a Dapr state store component."""

    def __init__(self, client: StateClient, keys: Keys, ttl_seconds: int) -> None:
        self.client = client
        self.keys = keys
        self.ttl_seconds = ttl_seconds
        self._cache: SnapshotCache[str] = SnapshotCache(CACHE_STUDENTS)

    @classmethod
    async def open(
        cls,
        url: str,
        retention_days: int,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        sidecar: Sidecar = NO_SIDECAR,
    ) -> "DaprStore":
        """A store on the sidecar and state store component a `dapr://` URL names."""
        target = target_of(url, timeout_s, sidecar.port)
        client = StateClient(target.base_url, target.store, sidecar.token, target.timeout_s)
        # The TTL is a safety net behind `purge`: one day longer than the retention.
        return cls(client, Keys(target.prefix), (retention_days + 1) * 86_400)

    async def apply(self, tenant: str, events: Sequence[Event], ingested_at: int) -> list[bool]:
        """Apply a batch in one transaction; duplicates (stored or in-batch) are skipped.
        Cached snapshots of the students it touched move on with it."""
        if not events:
            return []
        attempt = functools.partial(self._apply_once, tenant, events, ingested_at)
        return await self._retrying(attempt, f"applying a batch of {len(events)} events")

    async def _apply_once(self, tenant: str, events: Sequence[Event], now: int) -> list[bool]:
        found = await self.client.bulk_get(layout.batch_keys(self.keys, tenant, events))
        stored = {e.id for e in events if self.keys.event(tenant, e.id) in found}
        fresh = rows.fresh_flags(events, stored)
        new = [e for e, ok in zip(events, fresh, strict=True) if ok]
        if not new:
            return fresh
        values = {key: item.value for key, item in found.items()}
        students = {e.student_id: self.keys.student(tenant, e.student_id, "activity") for e in new}
        was = {s: values[key]["v"] if key in values else None for s, key in students.items()}
        docs = layout.merge(self.keys, tenant, new, now, values)  # changes `values` in place
        operations = [upsert(key, value, etag_of(found, key)) for key, value in docs.items()]
        raw = layout.raw_records(self.keys, tenant, new, now)
        operations += [upsert(key, value, ttl=self.ttl_seconds) for key, value in raw.items()]
        await self.client.transact(operations)
        # The ETags held: each student moved from the `v` read above to the one written.
        moved: Moved[str] = {s: (was[s], docs[key]["v"]) for s, key in students.items()}
        self._cache.advance_batch(tenant, moved, events, fresh)
        return fresh

    async def read(
        self, tenant: str, student_id: str, as_of: int, *, cache: bool = True
    ) -> StudentAggregates | None:
        """The student's snapshot (cached while its activity `v` stands) with `as_of`'s tail."""
        activity = await self.client.get(self.keys.student(tenant, student_id, "activity"))
        if activity is None:
            self._cache.drop((tenant, student_id))
            return None
        aggregates = await self._snapshot(tenant, student_id, activity.value, cache)
        if not aggregates.scores_on(day_of(as_of)):
            return aggregates
        return aggregates.with_tail(await self._tail(tenant, student_id, as_of))

    async def _snapshot(
        self, tenant: str, student: str, activity: dict[str, Any], cache: bool
    ) -> StudentAggregates:
        key = (tenant, student)
        cached = self._cache.get(key, activity["v"])
        if cached is not None:
            return cached
        days = activity["days"]
        wanted = self.keys.profile(tenant, student)[1:] + self.keys.buckets(tenant, student, days)
        found = await self.client.bulk_get(wanted)
        values = {k: item.value for k, item in found.items()}
        fresh = layout.snapshot(self.keys, tenant, student, days, values)
        if cache:
            self._cache.put(key, activity["v"], fresh)
        return fresh

    async def _tail(self, tenant: str, student: str, as_of: int) -> tuple[Event, ...]:
        """The student's quiz and review events later on `as_of`'s UTC day than `as_of`."""
        index = await self.client.get(self.keys.events_on(tenant, student, rows.iso(day_of(as_of))))
        if index is None:
            return ()
        last = end_of_day(day_of(as_of))
        later = [
            event_id
            for event_id, (_, at, kind) in index.value.items()
            if as_of < at <= last and kind in rows.SCORE_TYPES
        ]
        found = await self._raw(tenant, student, later)
        events = [
            rows.restore(item.value["body"], item.value["occurred_at"]) for item in found.values()
        ]
        return tuple(sorted(events, key=lambda e: (e.occurred_at, e.id)))

    async def _raw(self, tenant: str, student: str, ids: Sequence[str]) -> dict[str, Item]:
        """The raw records of these ids that belong to the student."""
        found = await self.client.bulk_get([self.keys.event(tenant, i) for i in ids])
        # An id whose record expired may have been used again since, by another student.
        return {key: item for key, item in found.items() if item.value["student"] == student}

    async def read_many(
        self, tenant: str, student_ids: Sequence[str], as_of: int, *, cache: bool = True
    ) -> list[StudentAggregates | None]:
        """Each student's `read`, a few at a time through the sidecar."""
        return await read_each(lambda s: self.read(tenant, s, as_of, cache=cache), student_ids)

    async def students(self, tenant: str) -> list[str]:
        """Ids of the tenant's students, sorted."""
        listed = await self.client.get(self.keys.students(tenant))
        return [] if listed is None else sorted(listed.value)

    async def delete_student(self, tenant: str, student_id: str) -> int:
        """Delete every document and raw event record of the student in one transaction."""
        attempt = functools.partial(self._delete_once, tenant, student_id)
        removed = await self._retrying(attempt, "erasing a student")
        self._cache.drop((tenant, student_id))
        return removed

    async def _delete_once(self, tenant: str, student: str) -> int:
        keys, roster = self.keys, self.keys.students(tenant)
        profile = await self.client.bulk_get([*keys.profile(tenant, student), roster])
        listed = profile.pop(roster, None)
        activity = profile.get(keys.student(tenant, student, "activity"))
        days = {} if activity is None else activity.value["days"]
        found = await self.client.bulk_get(
            keys.buckets(tenant, student, days) + keys.indexes(tenant, student, days)
        )
        indexes = [found[k].value for k in keys.indexes(tenant, student, days) if k in found]
        raw = await self._raw(tenant, student, [i for index in indexes for i in index])
        doomed = {**profile, **found, **raw}
        operations = [delete(key, item.etag) for key, item in doomed.items()]
        if listed is not None and student in listed.value:
            rest = [s for s in listed.value if s != student]
            operations.append(
                upsert(roster, rest, listed.etag) if rest else delete(roster, listed.etag)
            )
        if operations:
            await self.client.transact(operations)
        return len(doomed)

    async def events_of(self, tenant: str, student_id: str) -> list[StoredEvent]:
        """The student's raw events still kept, oldest first."""
        activity = await self.client.get(self.keys.student(tenant, student_id, "activity"))
        if activity is None:
            return []
        days = activity.value["days"]
        indexes = await self.client.bulk_get(self.keys.indexes(tenant, student_id, days))
        raw = await self._raw(tenant, student_id, [i for x in indexes.values() for i in x.value])
        kept = [
            StoredEvent(
                rows.restore(r.value["body"], r.value["occurred_at"]), r.value["ingested_at"]
            )
            for r in raw.values()
        ]
        return sorted(kept, key=lambda s: (s.event.occurred_at, s.event.id))

    async def purge(self, before: int) -> int:
        """Delete raw event records ingested before `before`, one transaction per student."""
        tenants = await self.client.get(self.keys.tenants())
        removed = 0
        for tenant in [] if tenants is None else tenants.value:
            students = await self.client.get(self.keys.students(tenant))
            for student in [] if students is None else students.value:
                attempt = functools.partial(self._purge_once, tenant, student, before)
                removed += await self._retrying(attempt, "purging raw events")
        return removed

    async def _purge_once(self, tenant: str, student: str, before: int) -> int:
        activity = await self.client.get(self.keys.student(tenant, student, "activity"))
        if activity is None:
            return 0
        indexes = await self.client.bulk_get(
            self.keys.indexes(tenant, student, activity.value["days"])
        )
        old = {
            i for index in indexes.values() for i, entry in index.value.items() if entry[0] < before
        }
        if not old:
            return 0
        operations = []
        for key, index in indexes.items():
            kept = {i: entry for i, entry in index.value.items() if i not in old}
            if len(kept) < len(index.value):
                operations.append(
                    upsert(key, kept, index.etag) if kept else delete(key, index.etag)
                )
        raw = await self._raw(tenant, student, sorted(old))
        operations += [
            delete(key, item.etag)
            for key, item in raw.items()
            if item.value["ingested_at"] < before
        ]
        await self.client.transact(operations)
        return len(old)

    async def migrations(self) -> list[str]:
        """None: the schema is created as a whole when the store opens."""
        return []

    async def ping(self) -> None:
        """The sidecar reports itself healthy and the state store answers a read."""
        await self.client.healthz()
        await self.client.get(self.keys.tenants())

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.close()
