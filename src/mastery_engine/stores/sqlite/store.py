"""Embedded SQLite store (the default): WAL mode, one writer thread, cached snapshots.

Writes run in one dedicated thread (a commit waits for fsync). Reads run inline on the event
loop: a WAL reader never waits for the writer, and a read costs less than handing it to a
thread would. Each process keeps the latest snapshots of recently read students and checks
them against the student's version row, so several processes can share one file; while no
connection has committed since a snapshot was checked (`PRAGMA data_version`), even that
lookup is skipped.
"""

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.errors import InvalidConfig, StoreUnavailable
from mastery_engine.core.events import Event
from mastery_engine.core.instants import day_of
from mastery_engine.stores.base import (
    DEFAULT_TIMEOUT_S,
    Change,
    Document,
    StoredEvent,
)
from mastery_engine.stores.snapshots import SnapshotCache
from mastery_engine.stores.sqlite import tables

T = TypeVar("T")
OPTIONS = {"busy_timeout_ms": 2_000, "cache_students": 2_000}  # busy: the store deadline


def path_of(url: str) -> str:
    """`sqlite:///./mastery.db` -> `./mastery.db`; `sqlite:////abs/x.db` -> `/abs/x.db`."""
    rest = url.removeprefix("sqlite://")
    path = rest.split("?", 1)[0]
    return path[1:] if path.startswith("/") else path


def options_of(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, int]:
    """URL options: `busy_timeout_ms` (wait for another process's lock; default `timeout_s`),
    `cache_students`."""
    given = parse_qs(url.partition("?")[2])
    unknown = set(given) - set(OPTIONS)
    if unknown:
        raise InvalidConfig(
            f"unknown SQLite URL options {sorted(unknown)}; allowed: {', '.join(OPTIONS)}"
        )
    options = OPTIONS | {"busy_timeout_ms": round(timeout_s * 1000)}
    for name, values in given.items():
        if not values[-1].isdigit():
            raise InvalidConfig(f"{name} must be a whole number, got {values[-1]!r}")
        options[name] = int(values[-1])
    return options


class SQLiteStore:
    """Aggregates in one SQLite file."""

    def __init__(self, path: str, busy_timeout_ms: int, cache_students: int) -> None:
        self.path = path
        self.busy_timeout = busy_timeout_ms / 1000
        self._cache: SnapshotCache[int] = SnapshotCache(cache_students)
        self._checked: dict[tuple[str, str], int] = {}  # PRAGMA data_version at the last check
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._writer_db: sqlite3.Connection | None = None
        self._reader_db = self._connect()

    @classmethod
    async def open(cls, url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> "SQLiteStore":
        """Open (creating the file and schema if needed) the database a URL names."""
        path = path_of(url)
        if not path:
            raise InvalidConfig(f"store URL {url!r} names no file; use sqlite:///path/to.db")
        if path == ":memory:" or "mode=memory" in url:
            # Each connection would get its own empty database: writes could never be read.
            raise InvalidConfig(f"store URL {url!r} is in-memory SQLite; use memory:// instead")
        options = options_of(url, timeout_s)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            store = cls(path, options["busy_timeout_ms"], options["cache_students"])
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {path}: {exc}") from exc
        await store._write(tables.create)
        return store

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread=False: the writer's connection is closed by the loop thread.
        db = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA journal_mode = WAL")
        # FULL: a 200 means the batch is on disk, even if the machine loses power.
        db.execute("PRAGMA synchronous = FULL")
        return db

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._writer_db is None:
                self._writer_db = self._connect()
            return work(self._writer_db)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._writer, call)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return work(self._reader_db)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc

    async def apply(self, tenant: str, events: Sequence[Event], ingested_at: int) -> list[bool]:
        """Apply a batch in one transaction; duplicates (stored or in-batch) are skipped.
        Cached snapshots of the students it touched move on with it."""
        fresh, moved = await self._write(lambda db: tables.apply(db, tenant, events, ingested_at))
        self._cache.advance_batch(tenant, moved, events, fresh)
        return fresh

    async def read(
        self, tenant: str, student_id: str, as_of: int, *, cache: bool = True
    ) -> StudentAggregates | None:
        """The student's snapshot (cached while its version stands) with `as_of`'s tail."""
        aggregates = self._read(lambda db: self._snapshot(db, tenant, student_id, cache))
        if aggregates is None or not aggregates.scores_on(day_of(as_of)):
            return aggregates
        later = self._read(lambda db: tables.tail(db, tenant, student_id, as_of))
        return aggregates.with_tail(later)

    def _snapshot(
        self, db: sqlite3.Connection, tenant: str, student_id: str, cache: bool
    ) -> StudentAggregates | None:
        key = (tenant, student_id)
        known = self._cache.version(key)
        if known is not None:
            # No commit by any connection since the snapshot was last checked: it stands.
            stamp = db.execute("PRAGMA data_version").fetchone()[0]
            if self._checked.get(key) == stamp:
                return self._cache.get(key, known)
            cached = self._cache.get(key, tables.version(db, tenant, student_id))
            if cached is not None:
                self._check(key, stamp)
                return cached
        return self._cache.settle(key, tables.snapshot(db, tenant, student_id), cache)

    def _check(self, key: tuple[str, str], stamp: int) -> None:
        if len(self._checked) > 2 * self._cache.size:
            self._checked.clear()
        self._checked[key] = stamp

    async def read_many(
        self, tenant: str, student_ids: Sequence[str], as_of: int, *, cache: bool = True
    ) -> list[StudentAggregates | None]:
        """Each student's `read`, one after the other (a local read never waits)."""
        return [await self.read(tenant, s, as_of, cache=cache) for s in student_ids]

    async def students(self, tenant: str) -> list[str]:
        """Ids of the tenant's students, sorted."""
        sql = "SELECT student_id FROM versions WHERE tenant = ? ORDER BY 1"
        return [r[0] for r in self._read(lambda db: db.execute(sql, (tenant,)).fetchall())]

    async def delete_student(self, tenant: str, student_id: str) -> int:
        """Delete every row of the student in one transaction."""

        def work(db: sqlite3.Connection) -> int:
            with tables.transaction(db):
                where = "WHERE tenant = ? AND student_id = ?"
                return sum(
                    db.execute(f"DELETE FROM {t} {where}", (tenant, student_id)).rowcount
                    for t in tables.STUDENT_TABLES
                )

        removed = await self._write(work)
        self._cache.drop((tenant, student_id))
        return removed

    async def events_of(self, tenant: str, student_id: str) -> list[StoredEvent]:
        """The student's kept raw events, oldest first."""
        return self._read(lambda db: tables.events_of(db, tenant, student_id))

    async def get_document(self, tenant: str, name: str) -> Document | None:
        """The tenant's document called `name`."""
        return self._read(lambda db: tables.get_document(db, tenant, name))

    async def put_document(self, tenant: str, name: str, document: Document) -> None:
        """Replace the tenant's document called `name`."""
        await self._write(lambda db: tables.put_document(db, tenant, name, document))

    async def update_document(self, tenant: str, name: str, change: Change) -> Document | None:
        """Read, change and write the document in one transaction of the writer thread."""
        return await self._write(lambda db: tables.update_document(db, tenant, name, change))

    async def audit(self, tenant: str, entry: dict[str, Any]) -> None:
        """Append an audit entry."""
        sql = "INSERT INTO audit (tenant, body) VALUES (?, ?)"
        await self._write(lambda db: db.execute(sql, (tenant, json.dumps(entry))))

    async def audit_log(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The latest audit entries, newest first."""
        sql = "SELECT body FROM audit WHERE tenant = ? ORDER BY seq DESC LIMIT ?"
        found = self._read(lambda db: db.execute(sql, (tenant, limit)).fetchall())
        return [dict(json.loads(body)) for (body,) in found]

    async def purge(self, before: int) -> int:
        """Delete raw event records ingested before `before`."""
        return await self._write(lambda db: tables.purge(db, before))

    async def migrations(self) -> list[str]:
        """None: the schema is created as a whole when the store opens."""
        return []

    async def ping(self) -> None:
        """Run a trivial query on the reader connection."""
        self._read(lambda db: db.execute("SELECT count(*) FROM sqlite_master").fetchone())

    async def close(self) -> None:
        """Finish pending writes, then close both connections."""
        self._writer.shutdown(wait=True)
        if self._writer_db is not None:
            self._writer_db.close()
        self._reader_db.close()
