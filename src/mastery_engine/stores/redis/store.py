"""Redis store: per-student keys under one cluster hash tag, updated by Lua scripts.

A student's keys all carry the hash tag `{tenant:student:student_id}`, so a cluster shards by
student and every per-student script stays atomic on one node. A batch is one round trip: one
script call per student (de-duplication and every bucket update in the same atomic step),
sent in one MULTI/EXEC, so on a standalone server the whole batch is atomic. On a cluster the
calls span slots and go without MULTI (see `cluster`): each per-student script stays atomic but
the batch does not; re-sending it is safe because applying is idempotent. Writes announce
their versions: reads of unchanged students need no round trip (`announcements`).

De-duplication records live under the student's hash tag (the check must run in the
student's slot), so an event id reused for a *different* student of the same tenant is not
detected here; ids are unique per tenant by contract.
"""

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline, PubSub

from mastery_engine.core.aggregates import StudentAggregates, scored_instants
from mastery_engine.core.errors import InvalidConfig, StoreUnavailable
from mastery_engine.core.events import Event
from mastery_engine.core.instants import US_PER_DAY, US_PER_SECOND, day_of, end_of_day
from mastery_engine.stores import rows
from mastery_engine.stores.base import DEFAULT_TIMEOUT_S
from mastery_engine.stores.freshness import Freshness, Mark
from mastery_engine.stores.redis import replies, scripts
from mastery_engine.stores.redis.announcements import CHANNEL, Listener, payload, subscribed
from mastery_engine.stores.redis.options import options_of, where_of
from mastery_engine.stores.redis.raw import RawEvents
from mastery_engine.stores.redis.tenant import quick_retry
from mastery_engine.stores.snapshots import Moved, SnapshotCache

if TYPE_CHECKING:
    from redis.asyncio.cluster import RedisCluster


class RedisStore(RawEvents):
    """Aggregates in Redis hashes, one key per student, day and component."""

    sharded = False  # announcements on a plain channel (a cluster's go on a sharded one)
    timeout_s = DEFAULT_TIMEOUT_S

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
        self._ttl = (max(retention_days, 0) + 1) * US_PER_DAY // US_PER_SECOND
        self._sha = {name: scripts.sha_of(text) for name, text in scripts.SCRIPTS.items()}
        self._cache: SnapshotCache[bytes] = SnapshotCache(cache_students)
        self._channel = f"{prefix}{CHANNEL}"
        self._fresh = Freshness(cache_students)
        self._listener = Listener(self._subscribe, self._fresh, sharded=self.sharded)

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
        store.timeout_s = timeout_s
        store._listener.start()
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
            self._announce(pipe, payload(tenant, token.encode(), list(groups)))

        keys = [(tenant, student) for student in groups]
        mark = self._fresh.begin(keys)
        try:
            replies = await self._pipeline(build, index, atomic=True)
            await self._run(self._fence)
        finally:
            self._fresh.end(keys)
        self._moved_on(tenant, events, flags, groups, replies, written=(token.encode(), mark))
        return flags

    def _moved_on(
        self,
        tenant: str,
        events: Sequence[Event],
        flags: list[bool],
        groups: dict[str, list[int]],
        replies: list[Any],
        *,
        written: tuple[bytes, Mark],
    ) -> None:
        """Take the apply scripts' replies: each event's flag, then the cached snapshots and
        what is known current move on with the students the batch changed."""
        version, mark = written
        moved: Moved[bytes] = {}
        for (student, indexes), (was, applied) in zip(groups.items(), replies, strict=False):
            for i, one in zip(indexes, applied, strict=True):
                flags[i] = bool(one)
            if any(applied):
                moved[student] = (was or None, version)
        self._cache.advance_batch(tenant, moved, events, flags)
        for student in moved:
            if self._cache.version((tenant, student)) == version:
                applied = (events[i] for i in groups[student] if flags[i])
                self._fresh.moved((tenant, student), mark, scored_instants(applied))

    async def read(
        self, tenant: str, student_id: str, as_of: int, *, cache: bool = True
    ) -> StudentAggregates | None:
        """`read_many` of one student."""
        return (await self.read_many(tenant, [student_id], as_of, cache=cache))[0]

    async def read_many(
        self, tenant: str, student_ids: Sequence[str], as_of: int, *, cache: bool = True
    ) -> list[StudentAggregates | None]:
        """Students whose cached snapshot is known current (see `freshness`) cost nothing;
        the others' read scripts go in one pipeline: one round trip for them all."""
        await self._listener.drain()
        found: list[StudentAggregates | None] = []
        asked: list[tuple[int, bytes | None, StudentAggregates | None]] = []
        for i, student_id in enumerate(student_ids):
            key = (tenant, student_id)
            version = self._cache.version(key)
            # Held across a call: concurrent reads may evict it from the cache meanwhile.
            held = self._cache.get(key, version)
            current = held is not None and self._fresh.current(key, version, as_of)
            found.append(held if current else None)
            if not current:
                asked.append((i, version if held else None, held))
        if not asked:
            return found
        keys = [(tenant, student_ids[i]) for i, _, _ in asked]
        calls = [
            self._read_call(key, known, as_of)
            for key, (_, known, _) in zip(keys, asked, strict=True)
        ]

        def build(pipe: Pipeline) -> None:
            for call in calls:
                pipe.evalsha(self._sha["read"], len(scripts.FIXED), *call)

        mark = self._fresh.begin(keys)
        try:
            replies = await self._pipeline(build, atomic=False)
        finally:
            self._fresh.end(keys)
        for key, (i, _, held), reply in zip(keys, asked, replies, strict=True):
            found[i] = self._read_reply(key, reply, held, cache, mark)
        return found

    def _read_call(self, key: tuple[str, str], known: bytes | None, as_of: int) -> list[Any]:
        """The read script's keys and arguments (`known`: the version of a cached snapshot)."""
        tenant, student_id = key
        base = self._base(tenant, student_id)
        return [*self._fixed(tenant, student_id), base, known or b"", f"({as_of}",
                end_of_day(day_of(as_of))]  # fmt: skip

    def _read_reply(
        self,
        key: tuple[str, str],
        reply: Any,
        held: StudentAggregates | None,
        cache: bool,
        mark: Mark,
    ) -> StudentAggregates | None:
        """The aggregates a read script answered (None for an unknown student)."""
        if reply is None:
            self._forget(key)
            return None
        # A three-item reply means the cached version still stands: only the tail came back.
        snapshot = held if len(reply) == 3 else None
        if snapshot is None:
            snapshot = replies.snapshot_of(reply)
            if cache:
                self._cache.put(key, reply[0], snapshot)
        if held is snapshot or cache:  # a snapshot now cached at the version answered
            self._fresh.validated(key, mark, replies.latest_of(reply))
        return snapshot.with_tail(replies.tail_of(reply[1]))

    def _forget(self, key: tuple[str, str]) -> None:
        self._cache.drop(key)
        self._fresh.forget(key)

    async def _subscribe(self) -> PubSub:
        """A connection subscribed to the announcements, once the server has confirmed it."""
        pubsub = cast("Redis", self._client).pubsub()  # a cluster subscribes its own way
        return await subscribed(pubsub, pubsub.subscribe(self._channel), self.timeout_s)

    def _announce(self, pipe: Pipeline, message: str) -> None:
        """Queue the announcement of a write, after the write."""
        pipe.publish(self._channel, message)

    async def _fence(self) -> Any:
        """A round trip to the server that published an announcement: once it answers, Redis
        has written the announcement to every subscriber (see `announcements`)."""
        return await cast("Redis", self._client).ping()

    async def delete_student(self, tenant: str, student_id: str) -> int:
        """Delete every key of the student and its index entry; how many were removed."""
        keys = self._fixed(tenant, student_id)
        base = self._base(tenant, student_id)

        def unlist(pipe: Pipeline) -> None:  # on a cluster, before the keys go (see `apply`)
            pipe.zrem(self._tenant_key(tenant, "students"), student_id)

        def build(pipe: Pipeline) -> None:
            pipe.evalsha(self._sha["delete"], len(keys), *keys, base)

        def announce(pipe: Pipeline) -> None:  # once erased (a cluster sends stages in order)
            self._announce(pipe, payload(tenant, b"", [student_id]))

        unlisted, removed, _ = await self._pipeline(unlist, build, announce, atomic=True)
        await self._run(self._fence)
        self._forget((tenant, student_id))
        return int(removed) + int(unlisted)

    async def migrations(self) -> list[str]:
        """None: the schema is created as a whole when the store opens."""
        return []

    async def ping(self) -> None:
        """Send PING."""
        await self._run(self._client.ping)

    async def close(self) -> None:
        """Stop listening; close the connection pool."""
        await self._listener.close()
        await self._client.aclose()
