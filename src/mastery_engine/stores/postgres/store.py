"""PostgreSQL store: a connection pool, one transaction per batch, additive upserts.

A batch de-duplicates with `INSERT ... ON CONFLICT DO NOTHING RETURNING` and adds itself to
the buckets with `ON CONFLICT DO UPDATE SET x = x + EXCLUDED.x`, so concurrent writers
commute. Like SQLite, each process keeps recent snapshots checked against `versions`.
"""

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.errors import InvalidConfig, StoreUnavailable
from mastery_engine.core.events import Event
from mastery_engine.core.instants import day_of
from mastery_engine.stores.base import (
    DEFAULT_TIMEOUT_S,
    Change,
    Document,
    StoredEvent,
    read_each,
)
from mastery_engine.stores.postgres import sql as q
from mastery_engine.stores.snapshots import SnapshotCache

log = logging.getLogger(__name__)
T = TypeVar("T")
# `timeout`: seconds to connect, or to wait for a pooled connection, before the store counts
# as unavailable (default: the store deadline, MASTERY_STORE_TIMEOUT_SECONDS).
OPTIONS = {
    "schema": "public",
    "pool_min": "1",
    "pool_max": "10",
    "cache_students": "2000",
    "timeout": "",
}
APPLICATION_NAME = "mastery-engine"
# Raised when writers collide on a lock cycle; the transaction rolled back, so it is re-run.
RETRIED = (errors.DeadlockDetected, errors.SerializationFailure)
ATTEMPTS = 5
Work = Callable[[q.Connection], Awaitable[T]]


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL without this store's options, and those options (defaults filled in)."""
    parts = urlsplit(url)
    ours, theirs = dict(OPTIONS), []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in OPTIONS:
            ours[name] = value
        else:
            theirs.append((name, value))  # libpq's own parameters (sslmode, ...)
    for name in ("pool_min", "pool_max", "cache_students", "timeout"):
        if not ours[name].isdigit() and (name != "timeout" or ours[name]):
            raise InvalidConfig(f"{name} must be a whole number, got {ours[name]!r}")
    if not ours["schema"].isidentifier():
        raise InvalidConfig(f"schema must be a plain identifier, got {ours['schema']!r}")
    return urlunsplit(parts._replace(query=urlencode(theirs))), ours


class PostgresStore:
    """Aggregates in PostgreSQL tables of one schema."""

    def __init__(self, pool: AsyncConnectionPool[q.Connection], options: dict[str, str]) -> None:
        self._pool = pool
        self.schema = options["schema"]
        self._cache: SnapshotCache[int] = SnapshotCache(int(options["cache_students"]))
        self._abandoned: set[asyncio.Future[Any]] = set()  # cancelled calls still cleaning up

    @classmethod
    async def open(cls, url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> "PostgresStore":
        """Connect, then bring the schema up to date (see `sql.migrate`)."""
        conninfo, options = split_url(url)
        schema, timeout = options["schema"], float(options["timeout"] or timeout_s)
        conninfo = make_conninfo(
            conninfo,
            options=f"-c search_path={schema}",
            connect_timeout=max(2, math.ceil(timeout)),  # libpq: whole seconds, at least 2
            application_name=APPLICATION_NAME,
        )
        pool: AsyncConnectionPool[q.Connection] = AsyncConnectionPool(
            conninfo,
            min_size=int(options["pool_min"]),
            max_size=max(1, int(options["pool_max"])),
            kwargs={"autocommit": True},
            timeout=timeout,
            open=False,
        )
        store = cls(pool, options)
        try:
            await pool.open(wait=True, timeout=timeout)
            applied = await store._run(lambda db: q.migrate(db, schema))
        except (PoolTimeout, StoreUnavailable) as exc:
            await pool.close()
            raise StoreUnavailable(f"PostgreSQL store {_where(url)} is unreachable: {exc}") from exc
        if applied:
            log.info("PostgreSQL schema %s: applied %s", schema, ", ".join(applied))
        return store

    async def migrations(self) -> list[str]:
        """Names of the migrations recorded in the schema."""

        async def work(db: q.Connection) -> list[str]:
            cursor = await db.execute("SELECT name FROM schema_migrations ORDER BY version")
            return [row[0] for row in await cursor.fetchall()]

        return await self._run(work)

    async def _run(self, work: Work[T], *, transaction: bool = False) -> T:
        """Run `work` (see `_attempts`), giving up at once when the caller is cancelled.

        On cancellation psycopg first asks the server to cancel the query and waits up to
        10 s for it; a frozen server never answers, and the caller (bounded by the store
        deadline) must not wait that long. So the work runs as its own task: a cancelled
        caller returns at once and the task is cancelled to clean up on its own.
        """
        task = asyncio.ensure_future(self._attempts(work, transaction))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.cancel()
            self._abandoned.add(task)
            task.add_done_callback(self._forget)
            raise

    def _forget(self, task: "asyncio.Future[Any]") -> None:
        self._abandoned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("abandoned PostgreSQL call ended with: %s", task.exception())

    async def _attempts(self, work: Work[T], transaction: bool) -> T:
        """Run on a pooled connection; a broken connection or lock cycle is tried again."""
        for attempt in range(ATTEMPTS):
            try:
                async with self._connection(transaction) as db:
                    return await work(db)
            except RETRIED:
                await asyncio.sleep(0.01 * 2**attempt)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                # The pool discards the broken connection; one retry finds a fresh one.
                if attempt >= 1:
                    raise StoreUnavailable(f"PostgreSQL store: {_first_line(exc)}") from exc
            except PoolTimeout as exc:
                raise StoreUnavailable(f"PostgreSQL store: no connection ({exc})") from exc
        raise StoreUnavailable(f"PostgreSQL store: writers kept colliding ({ATTEMPTS} tries)")

    @asynccontextmanager
    async def _connection(self, transaction: bool) -> AsyncIterator[q.Connection]:
        async with self._pool.connection() as db:
            if not transaction:
                yield db
                return
            async with db.transaction():
                yield db

    async def apply(self, tenant: str, events: Sequence[Event], ingested_at: int) -> list[bool]:
        """Apply a batch in one transaction; duplicates (stored or in-batch) are skipped.
        Cached snapshots of the students it touched move on with it."""
        if not events:
            return []
        fresh, moved = await self._run(
            lambda db: q.apply(db, tenant, events, ingested_at), transaction=True
        )
        self._cache.advance_batch(tenant, moved, events, fresh)
        return fresh

    async def read(
        self, tenant: str, student_id: str, as_of: int, *, cache: bool = True
    ) -> StudentAggregates | None:
        """`read_many` of one student."""
        return (await self.read_many(tenant, [student_id], as_of, cache=cache))[0]

    async def read_many(
        self, tenant: str, student_ids: Sequence[str], as_of: int, *, cache: bool = True
    ) -> list[StudentAggregates | None]:
        """Cached snapshots checked by one lookup for them all (each kept while its version
        stands), the others read a few at a time over the pool, then `as_of`'s tails in one
        query."""
        wanted = list(dict.fromkeys(student_ids))
        known = [s for s in wanted if self._cache.version((tenant, s)) is not None]
        current = await self._run(lambda db: q.versions(db, tenant, known)) if known else {}
        found = {s: self._cache.get((tenant, s), current.get(s)) for s in known}
        missing = [s for s in wanted if found.get(s) is None]
        fetched = await read_each(lambda s: self._fetch(tenant, s, cache), missing)
        found |= zip(missing, fetched, strict=True)
        day = day_of(as_of)
        scored = [s for s, a in found.items() if a is not None and a.scores_on(day)]
        tails = await self._run(lambda db: q.tails(db, tenant, scored, as_of)) if scored else {}
        return [
            None if (aggregates := found[s]) is None else aggregates.with_tail(tails.get(s, ()))
            for s in student_ids
        ]

    async def _fetch(self, tenant: str, student_id: str, cache: bool) -> StudentAggregates | None:
        """A fresh snapshot of the student, kept when `cache`."""
        fresh = await self._run(lambda db: q.snapshot(db, tenant, student_id))
        return self._cache.settle((tenant, student_id), fresh, cache)

    async def students(self, tenant: str) -> list[str]:
        """Ids of the tenant's students, sorted."""

        async def work(db: q.Connection) -> list[str]:
            cursor = await db.execute(
                "SELECT student_id FROM versions WHERE tenant = %s ORDER BY 1", (tenant,)
            )
            return [row[0] for row in await cursor.fetchall()]

        return await self._run(work)

    async def delete_student(self, tenant: str, student_id: str) -> int:
        """Delete every row of the student in one transaction."""
        removed = await self._run(
            lambda db: q.delete_student(db, tenant, student_id), transaction=True
        )
        self._cache.drop((tenant, student_id))
        return removed

    async def events_of(self, tenant: str, student_id: str) -> list[StoredEvent]:
        """The student's kept raw events, oldest first."""
        return await self._run(lambda db: q.events_of(db, tenant, student_id))

    async def get_document(self, tenant: str, name: str) -> Document | None:
        """The tenant's document called `name`."""
        return await self._run(lambda db: q.get_document(db, tenant, name))

    async def put_document(self, tenant: str, name: str, document: Document) -> None:
        """Replace the tenant's document called `name`."""
        await self._run(lambda db: q.put_document(db, tenant, name, document))

    async def update_document(self, tenant: str, name: str, change: Change) -> Document | None:
        """Read, change and write the document in one transaction, under a lock of its own."""
        return await self._run(
            lambda db: q.update_document(db, tenant, name, change), transaction=True
        )

    async def audit(self, tenant: str, entry: dict[str, Any]) -> None:
        """Append an audit entry."""
        sql = "INSERT INTO audit (tenant, body) VALUES (%s, %s)"
        await self._run(lambda db: db.execute(sql, (tenant, Jsonb(entry))))

    async def audit_log(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The latest audit entries, newest first."""

        async def work(db: q.Connection) -> list[dict[str, Any]]:
            sql = "SELECT body FROM audit WHERE tenant = %s ORDER BY seq DESC LIMIT %s"
            cursor = await db.execute(sql, (tenant, limit))
            return [dict(row[0]) for row in await cursor.fetchall()]

        return await self._run(work)

    async def purge(self, before: int) -> int:
        """Delete raw event records ingested before `before`; the aggregates stay."""

        async def work(db: q.Connection) -> int:
            cursor = await db.execute("DELETE FROM events WHERE ingested_at < %s", (before,))
            return cursor.rowcount

        return await self._run(work)

    async def ping(self) -> None:
        """Run a trivial query on a pooled connection."""
        await self._run(lambda db: db.execute("SELECT 1"))

    async def close(self) -> None:
        """Close every pooled connection (a second cancel closes an abandoned call's at once)."""
        abandoned = list(self._abandoned)
        for task in abandoned:
            task.cancel()
        await asyncio.gather(*abandoned, return_exceptions=True)
        await self._pool.close()


def _where(url: str) -> str:
    """host:port/db of a URL, without credentials."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
