"""Redis store: per-student keys under one cluster hash tag, updated by Lua scripts.

A student's keys all carry the hash tag `{tenant:student:student_id}`, so a cluster shards by
student and every per-student script stays atomic on one node. A batch is one round trip: one
script call per student (de-duplication and every bucket update in the same atomic step),
sent in one MULTI/EXEC, so on a standalone server the whole batch is atomic. On a cluster the
calls span slots and go without MULTI: each per-student script stays atomic but the batch
does not; re-sending it is safe because applying is idempotent.

De-duplication records live under the student's hash tag (the check must run in the
student's slot), so an event id reused for a *different* student of the same tenant is not
detected here; ids are unique per tenant by contract.
"""

import json
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import NoScriptError, RedisError

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.errors import InvalidConfig, StoreUnavailable
from mastery_engine.core.events import Event
from mastery_engine.core.instants import day_of, end_of_day
from mastery_engine.stores import rows
from mastery_engine.stores.base import (
    DEFAULT_TIMEOUT_S,
    Change,
    Document,
    StoredEvent,
    unlist_student,
)
from mastery_engine.stores.redis import scripts
from mastery_engine.stores.redis.options import options_of, reason, where_of
from mastery_engine.stores.snapshots import SnapshotCache

T = TypeVar("T")
PURGE_CHUNK = 500
SECONDS_PER_DAY = 86_400


class RedisStore:
    """Aggregates in Redis hashes, one key per student, day and component."""

    def __init__(
        self, client: Redis, where: str, prefix: str, cache_students: int, retention_days: int
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
        """Connect to the server a `redis://` or `rediss://` URL names and load the scripts.

        `timeout_s` bounds connecting and each socket read unless the URL sets
        `socket_connect_timeout` / `socket_timeout` itself.
        """
        client_url, prefix, cache_students = options_of(url)
        where = where_of(client_url)
        try:
            client = Redis.from_url(
                client_url,
                socket_connect_timeout=timeout_s,
                socket_timeout=timeout_s,
                # A few quick retries ride out a reconnect; a dead server answers 503 fast.
                retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.2), retries=3),
            )
        except (TypeError, ValueError) as exc:
            raise InvalidConfig(f"Redis store URL is invalid: {exc}") from exc
        store = cls(client, where, prefix, cache_students, retention_days)
        try:
            await store._run(store._load_scripts)
        except StoreUnavailable:
            await client.aclose()
            raise
        return store

    async def _load_scripts(self) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for text in scripts.SCRIPTS.values():
                pipe.script_load(text)
            await pipe.execute()

    async def _run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a call, loading the scripts once if the server lost them; errors -> 503."""
        try:
            try:
                return await call()
            except NoScriptError:  # a restarted or flushed server
                await self._load_scripts()
                return await call()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(
                f"Redis store {self.where} is unavailable: {reason(exc)}"
            ) from exc

    async def _pipeline(self, build: Callable[[Pipeline], None], atomic: bool) -> list[Any]:
        async def send() -> list[Any]:
            async with self._client.pipeline(transaction=atomic) as pipe:
                build(pipe)
                return await pipe.execute()

        return await self._run(send)

    def _base(self, tenant: str, student_id: str) -> str:
        tag = f"{scripts.encode(tenant)}:student:{scripts.encode(student_id)}"
        return f"{self._prefix}{{{tag}}}"

    def _fixed(self, tenant: str, student_id: str) -> list[str]:
        base = self._base(tenant, student_id)
        return [f"{base}:{name}" for name in scripts.FIXED]

    def _tenant_key(self, tenant: str, name: str) -> str:
        return f"{self._prefix}{{{scripts.encode(tenant)}}}:{name}"

    async def apply(self, tenant: str, events: Sequence[Event], ingested_at: int) -> list[bool]:
        """Apply a batch in one MULTI/EXEC: one script per student, then the indexes."""
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
            # A NOSCRIPT inside EXEC fails only the scripts; these idempotent index writes still
            # run, and the whole batch is sent again once the scripts are loaded.
            pipe.zadd(self._tenant_key(tenant, "students"), dict.fromkeys(groups, 0))
            pipe.sadd(f"{self._prefix}tenants", tenant)

        replies = await self._pipeline(build, atomic=True)
        for indexes, applied in zip(groups.values(), replies, strict=False):
            for i, one in zip(indexes, applied, strict=True):
                flags[i] = bool(one)
        return flags

    async def read(
        self, tenant: str, student_id: str, as_of: int, *, cache: bool = True
    ) -> StudentAggregates | None:
        """One script call: the version, `as_of`'s tail, and everything else on a cache miss."""
        key = (tenant, student_id)
        known = self._cache.version(key)
        # Held across the call: concurrent reads may evict it from the cache meanwhile.
        held = self._cache.get(key, known)
        base = self._base(tenant, student_id)
        keys: list[str | bytes | int] = [*self._fixed(tenant, student_id), base]
        keys += [known if held and known else b"", f"({as_of}", end_of_day(day_of(as_of))]
        sha = self._sha["read"]
        reply = await self._run(lambda: self._client.evalsha(sha, len(scripts.FIXED), *keys))
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

        def build(pipe: Pipeline) -> None:
            pipe.evalsha(self._sha["delete"], len(keys), *keys, base)
            pipe.zrem(self._tenant_key(tenant, "students"), student_id)

        removed, unlisted = await self._pipeline(build, atomic=True)
        self._cache.drop((tenant, student_id))
        return int(removed) + int(unlisted) + await unlist_student(self, tenant, student_id)

    async def events_of(self, tenant: str, student_id: str) -> list[StoredEvent]:
        """The student's kept raw events, oldest first."""
        events_key, seen_key = self._fixed(tenant, student_id)[1:3]

        def build(pipe: Pipeline) -> None:
            pipe.hgetall(events_key)
            pipe.zrange(seen_key, 0, -1, withscores=True)

        bodies, seen = await self._pipeline(build, atomic=True)
        ingested = {event_id: int(at) for event_id, at in seen}
        kept = [StoredEvent(scripts.stored_event(b), ingested.get(i, 0)) for i, b in bodies.items()]
        return sorted(kept, key=lambda s: (s.event.occurred_at, s.event.id))

    async def get_config(self, tenant: str) -> dict[str, Any] | None:
        """The tenant's configuration document."""
        found = await self._run(lambda: self._client.get(self._tenant_key(tenant, "config")))
        return None if found is None else dict(json.loads(found))

    async def put_config(self, tenant: str, config: dict[str, Any]) -> None:
        """Replace the tenant's configuration document."""
        body = json.dumps(config)
        await self._run(lambda: self._client.set(self._tenant_key(tenant, "config"), body))

    async def get_document(self, tenant: str, name: str) -> Document | None:
        """The tenant's document called `name`."""
        key = self._tenant_key(tenant, f"doc:{scripts.encode(name)}")
        found = await self._run(lambda: self._client.get(key))
        return None if found is None else dict(json.loads(found))

    async def put_document(self, tenant: str, name: str, document: Document) -> None:
        """Replace the tenant's document called `name`."""
        key, body = self._tenant_key(tenant, f"doc:{scripts.encode(name)}"), json.dumps(document)
        await self._run(lambda: self._client.set(key, body))

    async def update_document(self, tenant: str, name: str, change: Change) -> Document | None:
        """WATCH the document, change it, and write it in MULTI/EXEC; again if it moved."""
        key = self._tenant_key(tenant, f"doc:{scripts.encode(name)}")

        async def attempt(pipe: Pipeline) -> Document | None:
            found = await pipe.get(key)
            current = None if found is None else dict(json.loads(found))
            new = change(current)
            pipe.multi()  # type: ignore[no-untyped-call]
            if new is not None:
                pipe.set(key, json.dumps(new))
            return current if new is None else new

        transaction = self._client.transaction
        return cast(
            "Document | None",
            await self._run(lambda: transaction(attempt, key, value_from_callable=True)),
        )

    async def audit(self, tenant: str, entry: dict[str, Any]) -> None:
        """Append an audit entry (newest at the head of the list)."""
        body = json.dumps(entry)
        await self._run(lambda: self._client.lpush(self._tenant_key(tenant, "audit"), body))

    async def audit_log(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The latest audit entries, newest first."""
        if limit <= 0:  # LRANGE 0 -1 would mean everything
            return []
        key = self._tenant_key(tenant, "audit")
        found = await self._run(lambda: self._client.lrange(key, 0, limit - 1))
        return [dict(json.loads(body)) for body in cast("list[bytes]", found)]

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
