"""Redis store: per-student keys under one cluster hash tag, updated by Lua scripts.

A student's keys all carry the hash tag `{tenant:student:student_id}`, so a cluster shards by
student and every per-student script stays atomic on one node. A batch is one round trip: one
script call per student (de-duplication and every bucket update in the same atomic step),
sent in one MULTI/EXEC, so on a standalone server the whole batch is atomic. On a cluster the
calls span slots and go without MULTI (see `cluster`): each per-student script stays atomic but
the batch does not; re-sending it is safe because applying is idempotent.

De-duplication records live under the student's hash tag (the check must run in the
student's slot), so an event id reused for a *different* student of the same tenant is not
detected here; ids are unique per tenant by contract.
"""

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.errors import InvalidConfig, StoreUnavailable
from mastery_engine.core.events import Event
from mastery_engine.core.instants import day_of, end_of_day
from mastery_engine.stores import rows
from mastery_engine.stores.base import (
    DEFAULT_TIMEOUT_S,
    StoredEvent,
)
from mastery_engine.stores.redis import scripts
from mastery_engine.stores.redis.options import options_of, where_of
from mastery_engine.stores.redis.tenant import TenantDocuments, quick_retry
from mastery_engine.stores.snapshots import Moved, SnapshotCache

if TYPE_CHECKING:
    from redis.asyncio.cluster import RedisCluster

PURGE_CHUNK = 500
SECONDS_PER_DAY = 86_400


class RedisStore(TenantDocuments):
    """Aggregates in Redis hashes, one key per student, day and component."""

    def __init__(
        self,
        client: "Redis | RedisCluster",
        where: str,
        prefix: str,
        cache_students: int,
        retention_days: int,
    ) -> None:
        self.where = where
        self._client = client
        self._prefix = prefix
        self._ttl = (max(retention_days, 0) + 1) * SECONDS_PER_DAY
        self._sha = {name: scripts.sha_of(text) for name, text in scripts.SCRIPTS.items()}
        self._cache: SnapshotCache[bytes] = SnapshotCache(cache_students)

    @classmethod
    async def open(
        cls, url: str, retention_days: int, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> "RedisStore":
        """Connect to what a `redis://` or `rediss://` URL (a subclass's URL) names; load scripts.

        `timeout_s` bounds connecting and each socket read unless the URL sets
        `socket_connect_timeout` / `socket_timeout` itself.
        """
        client_url, prefix, cache_students = options_of(url)
        client, where = cls.connect(client_url, timeout_s)
        store = cls(client, where, prefix, cache_students, retention_days)
        try:
            await store._run(store._load_scripts)
        except StoreUnavailable:
            await client.aclose()
            raise
        return store

    @staticmethod
    def connect(url: str, timeout_s: float) -> "tuple[Redis | RedisCluster, str]":
        """A client of the server a URL without this store's options names, and where it is."""
        where = where_of(url)
        try:
            client = Redis.from_url(
                url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, retry=quick_retry()
            )
        except (TypeError, ValueError) as exc:
            raise InvalidConfig(f"Redis store URL is invalid: {exc}") from exc
        return client, where

    def _base(self, tenant: str, student_id: str) -> str:
        tag = f"{scripts.encode(tenant)}:student:{scripts.encode(student_id)}"
        return f"{self._prefix}{{{tag}}}"

    def _fixed(self, tenant: str, student_id: str) -> list[str]:
        base = self._base(tenant, student_id)
        return [f"{base}:{name}" for name in scripts.FIXED]

    async def apply(self, tenant: str, events: Sequence[Event], ingested_at: int) -> list[bool]:
        """Apply a batch in one MULTI/EXEC: one script per student, then the indexes; cached
        snapshots of the students it touched move on with it."""
        flags = rows.fresh_flags(events, set())  # an id repeated within the batch counts once
        groups: dict[str, list[int]] = {}
        for i, (event, new) in enumerate(zip(events, flags, strict=True)):
            if new:
                groups.setdefault(event.student_id, []).append(i)
        if not groups:
            return flags
        token = secrets.token_hex(8)  # random: an erased and recreated student never matches

        def build(pipe: Pipeline) -> None:
            for student, indexes in groups.items():
                batch = [events[i] for i in indexes]
                base = self._base(tenant, student)
                call = scripts.apply_call(base, batch, token, self._ttl, ingested_at)
                pipe.evalsha(self._sha["apply"], *call)

        def index(pipe: Pipeline) -> None:
            # On a cluster, sent once the scripts have answered: a stored student is listed.
            pipe.zadd(self._tenant_key(tenant, "students"), dict.fromkeys(groups, 0))
            pipe.sadd(f"{self._prefix}tenants", tenant)

        replies = await self._pipeline(build, index, atomic=True)
        moved: Moved[bytes] = {}
        for (student, indexes), (was, applied) in zip(groups.items(), replies, strict=False):
            for i, one in zip(indexes, applied, strict=True):
                flags[i] = bool(one)
            if any(applied):
                moved[student] = (was or None, token.encode())
        self._cache.advance_batch(tenant, moved, events, flags)
        return flags

    async def read(
        self, tenant: str, student_id: str, as_of: int, *, cache: bool = True
    ) -> StudentAggregates | None:
        """One script call: the version, `as_of`'s tail, and everything else on a cache miss."""
        keys, held = self._read_call(tenant, student_id, as_of)
        sha = self._sha["read"]
        reply = await self._run(lambda: self._client.evalsha(sha, len(scripts.FIXED), *keys))
        return self._read_reply((tenant, student_id), reply, held, cache)

    async def read_many(
        self, tenant: str, student_ids: Sequence[str], as_of: int, *, cache: bool = True
    ) -> list[StudentAggregates | None]:
        """Every student's read script in one pipeline: one round trip for them all."""
        calls = [self._read_call(tenant, s, as_of) for s in student_ids]

        def build(pipe: Pipeline) -> None:
            for keys, _ in calls:
                pipe.evalsha(self._sha["read"], len(scripts.FIXED), *keys)

        replies = await self._pipeline(build, atomic=False) if calls else []
        return [
            self._read_reply((tenant, student_id), reply, held, cache)
            for student_id, (_, held), reply in zip(student_ids, calls, replies, strict=True)
        ]

    def _read_call(
        self, tenant: str, student_id: str, as_of: int
    ) -> tuple[list[str | bytes | int], StudentAggregates | None]:
        """The read script's keys and arguments, and the cached snapshot they refer to."""
        key = (tenant, student_id)
        known = self._cache.version(key)
        # Held across the call: concurrent reads may evict it from the cache meanwhile.
        held = self._cache.get(key, known)
        base = self._base(tenant, student_id)
        keys: list[str | bytes | int] = [*self._fixed(tenant, student_id), base]
        keys += [known if held and known else b"", f"({as_of}", end_of_day(day_of(as_of))]
        return keys, held

    def _read_reply(
        self,
        key: tuple[str, str],
        reply: Any,
        held: StudentAggregates | None,
        cache: bool,
    ) -> StudentAggregates | None:
        """The aggregates a read script answered (None for an unknown student)."""
        if reply is None:
            self._cache.drop(key)
            return None
        # A two-item reply means the cached version still stands: only the tail came back.
        snapshot = held if len(reply) == 2 else None
        if snapshot is None:
            snapshot = scripts.snapshot_of(reply)
            if cache:
                self._cache.put(key, reply[0], snapshot)
        return snapshot.with_tail(scripts.tail_of(reply[1]))

    async def students(self, tenant: str) -> list[str]:
        """Ids of the tenant's students, sorted (byte order of UTF-8 is code point order)."""
        key = self._tenant_key(tenant, "students")
        found = await self._run(lambda: self._client.zrange(key, 0, -1))
        return [s.decode() for s in cast("list[bytes]", found)]

    async def delete_student(self, tenant: str, student_id: str) -> int:
        """Delete every key of the student and its index entry; how many were removed."""
        keys = self._fixed(tenant, student_id)
        base = self._base(tenant, student_id)

        def unlist(pipe: Pipeline) -> None:  # on a cluster, before the keys go (see `apply`)
            pipe.zrem(self._tenant_key(tenant, "students"), student_id)

        def build(pipe: Pipeline) -> None:
            pipe.evalsha(self._sha["delete"], len(keys), *keys, base)

        unlisted, removed = await self._pipeline(unlist, build, atomic=True)
        self._cache.drop((tenant, student_id))
        return int(removed) + int(unlisted)

    async def events_of(self, tenant: str, student_id: str) -> list[StoredEvent]:
        """The student's kept raw events, oldest first."""
        events_key, seen_key = self._fixed(tenant, student_id)[1:3]

        def build(pipe: Pipeline) -> None:
            pipe.hgetall(events_key)
            pipe.zrange(seen_key, 0, -1, withscores=True)

        bodies, seen = await self._pipeline(build, atomic=True)
        ingested = {event_id: int(at) for event_id, at in seen}
        # Without a de-duplication record, an event is being purged (read on a cluster in two
        # steps; a standalone server reads both at once and never finds one).
        kept = [
            StoredEvent(scripts.stored_event(b), ingested[i])
            for i, b in bodies.items()
            if i in ingested
        ]
        return sorted(kept, key=lambda s: (s.event.occurred_at, s.event.id))

    async def purge(self, before: int) -> int:
        """Delete raw events and de-duplication records ingested before `before`."""
        tenants = await self._run(lambda: self._client.smembers(f"{self._prefix}tenants"))
        names = sorted(t.decode() for t in cast("set[bytes]", tenants))
        return sum([await self._purge_tenant(tenant, before) for tenant in names])

    async def _purge_tenant(self, tenant: str, before: int) -> int:
        students = await self.students(tenant)
        removed = 0
        for start in range(0, len(students), PURGE_CHUNK):
            chunk = students[start : start + PURGE_CHUNK]

            def build(pipe: Pipeline, chunk: list[str] = chunk) -> None:
                for student in chunk:
                    keys = self._fixed(tenant, student)
                    pipe.evalsha(self._sha["purge"], len(keys), *keys, before)

            removed += sum(await self._pipeline(build, atomic=False))
        return removed

    async def migrations(self) -> list[str]:
        """None: the schema is created as a whole when the store opens."""
        return []

    async def ping(self) -> None:
        """Send PING."""
        await self._run(self._client.ping)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
