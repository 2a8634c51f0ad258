"""The Redis store's students index and kept raw events: listed, read back for export,
purged after retention."""

from typing import cast

from redis.asyncio.client import Pipeline

from mastery_engine.stores.base import StoredEvent
from mastery_engine.stores.redis import replies
from mastery_engine.stores.redis.tenant import TenantDocuments

PURGE_CHUNK = 500


class RawEvents(TenantDocuments):
    """Each student's `events` hash and `seen` records (the base of `RedisStore`)."""

    _sha: dict[str, str]

    def _fixed(self, tenant: str, student_id: str) -> list[str]:
        raise NotImplementedError

    async def students(self, tenant: str) -> list[str]:
        """Ids of the tenant's students, sorted (byte order of UTF-8 is code point order)."""
        key = self._tenant_key(tenant, "students")
        found = await self._run(lambda: self._client.zrange(key, 0, -1))
        return [s.decode() for s in cast("list[bytes]", found)]

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
            StoredEvent(replies.stored_event(b), ingested[i])
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
