"""Embedded SQLite store (the default): WAL mode, one writer thread, reader threads.

Rows mirror the key pattern `{tenant}:student:{student_id}:mastery:{date}:{component}`:
`scores` is keyed (tenant, student_id, date, component, skill_id). A batch is one
`BEGIN IMMEDIATE` transaction: duplicates are found under the write lock, then the batch's
contributions are summed in memory and upserted additively.
"""

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

from mastery_engine.core.aggregates import (
    MOMENTS,
    AggregateBuilder,
    Component,
    Moments,
    StudentAggregates,
    contribution,
)
from mastery_engine.core.errors import InvalidConfig, StoreUnavailable
from mastery_engine.core.events import Event, restore_event
from mastery_engine.core.instants import date_to_day, day_of, day_to_date, end_of_day
from mastery_engine.stores.sqlite_schema import (
    MOMENT_COLUMNS,
    SCHEMA,
    SCORE_TYPES,
    STUDENT_TABLES,
    UPSERT_ACTIVITY,
    UPSERT_COMPLETIONS,
    UPSERT_SCORES,
    UPSERT_SKILLS,
)

T = TypeVar("T")


def path_of(url: str) -> str:
    """`sqlite:///./mastery.db` -> `./mastery.db`; `sqlite:////abs/x.db` -> `/abs/x.db`."""
    rest = url.removeprefix("sqlite://")
    path = rest.split("?", 1)[0]
    return path[1:] if path.startswith("/") else path


def busy_timeout_of(url: str) -> float:
    """Seconds to wait for a lock held by another process (`?busy_timeout_ms=`, default 10 s)."""
    options = parse_qs(url.partition("?")[2])
    unknown = set(options) - {"busy_timeout_ms"}
    if unknown:
        raise InvalidConfig(
            f"unknown SQLite URL options {sorted(unknown)}; allowed: busy_timeout_ms"
        )
    raw = options.get("busy_timeout_ms", ["10000"])[-1]
    if not raw.isdigit():
        raise InvalidConfig(f"busy_timeout_ms must be a whole number of milliseconds, got {raw!r}")
    return int(raw) / 1000


class SQLiteStore:
    """Aggregates in one SQLite file.

    Writes run in one dedicated thread (a commit waits for fsync). Reads run inline on the
    event loop: a WAL reader never waits for the writer, and a read takes well under a
    millisecond, less than handing it to a thread would cost.
    """

    def __init__(self, path: str, busy_timeout: float = 10.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._writer_db: sqlite3.Connection | None = None
        self._reader_db = self._connect()

    @classmethod
    async def open(cls, url: str) -> "SQLiteStore":
        """Open (creating the file and schema if needed) the database a URL names."""
        path = path_of(url)
        if not path:
            raise InvalidConfig(f"store URL {url!r} names no file; use sqlite:///path/to.db")
        if path == ":memory:" or "mode=memory" in url:
            # Each connection would get its own empty database: writes could never be read.
            raise InvalidConfig(f"store URL {url!r} is in-memory SQLite; use memory:// instead")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        timeout = busy_timeout_of(url)
        try:
            store = cls(path, timeout)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {path}: {exc}") from exc
        await store._write(lambda db: db.executescript(SCHEMA))
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
        """Apply a batch in one transaction; duplicates (stored or in-batch) are skipped."""
        return await self._write(lambda db: _apply(db, tenant, events, ingested_at))

    async def read(self, tenant: str, student_id: str, as_of: int) -> StudentAggregates | None:
        """A student's aggregates up to `as_of`'s day, read in one snapshot."""
        return self._read(lambda db: _read_student(db, tenant, student_id, as_of))

    async def students(self, tenant: str) -> list[str]:
        """Ids of the tenant's students, sorted."""
        # Every event marks a day active, so `activity` lists every student.
        sql = "SELECT DISTINCT student_id FROM activity WHERE tenant = ? ORDER BY 1"
        rows = self._read(lambda db: db.execute(sql, (tenant,)).fetchall())
        return [r[0] for r in rows]

    async def delete_student(self, tenant: str, student_id: str) -> int:
        """Delete every row of the student in one transaction."""

        def work(db: sqlite3.Connection) -> int:
            with _transaction(db):
                where = "WHERE tenant = ? AND student_id = ?"
                return sum(
                    db.execute(f"DELETE FROM {t} {where}", (tenant, student_id)).rowcount
                    for t in STUDENT_TABLES
                )

        return await self._write(work)

    async def ping(self) -> None:
        """Run a trivial query on the reader connection."""
        self._read(lambda db: db.execute("SELECT count(*) FROM sqlite_master").fetchone())

    async def close(self) -> None:
        """Finish pending writes, then close both connections."""
        self._writer.shutdown(wait=True)
        if self._writer_db is not None:
            self._writer_db.close()
        self._reader_db.close()


@contextmanager
def _transaction(db: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[None]:
    db.execute(f"BEGIN {mode}")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _fresh(db: sqlite3.Connection, tenant: str, events: Sequence[Event]) -> list[bool]:
    """Which events are new: not stored yet and not repeated earlier in the batch."""
    ids = list({e.id for e in events})
    stored: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = f"SELECT id FROM events WHERE tenant = ? AND id IN ({', '.join('?' * len(chunk))})"
        stored.update(r[0] for r in db.execute(sql, (tenant, *chunk)))
    fresh = []
    for event in events:
        fresh.append(event.id not in stored)
        stored.add(event.id)
    return fresh


def _apply(db: sqlite3.Connection, tenant: str, events: Sequence[Event], now: int) -> list[bool]:
    with _transaction(db):
        fresh = _fresh(db, tenant, events)
        new = [e for e, ok in zip(events, fresh, strict=True) if ok]
        db.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    tenant,
                    e.id,
                    e.student_id,
                    e.type.value,
                    e.occurred_at,
                    now,
                    json.dumps(e.to_json()),
                )
                for e in new
            ],
        )
        _upsert(db, tenant, new)
    return fresh


def _upsert(db: sqlite3.Connection, tenant: str, events: Sequence[Event]) -> None:
    """Sum the batch per student first, so each bucket is written once per batch."""
    builders: dict[str, AggregateBuilder] = {}
    counts: dict[tuple[str, int], int] = {}
    for event in events:
        builders.setdefault(event.student_id, AggregateBuilder()).add(contribution(event))
        key = (event.student_id, day_of(event.occurred_at))
        counts[key] = counts.get(key, 0) + 1
    scores: list[tuple[Any, ...]] = []
    done: list[tuple[Any, ...]] = []
    active: list[tuple[Any, ...]] = []
    skills: list[tuple[Any, ...]] = []
    for student, b in builders.items():
        for (skill, component), days in b.scores.items():
            for day, m in days.items():
                iso = day_to_date(day).isoformat()
                scores.append((tenant, student, iso, component.value, skill, m.n, *m.w, *m.s))
        for skill, exercises in b.completions.items():
            done.extend((tenant, student, skill, ex, at) for ex, at in exercises.items())
        for day, at in b.active.items():
            iso = day_to_date(day).isoformat()
            active.append((tenant, student, iso, at, counts[(student, day)]))
        skills.extend((tenant, student, skill, at) for skill, at in b.skills.items())
    db.executemany(UPSERT_SCORES, scores)
    db.executemany(UPSERT_COMPLETIONS, done)
    db.executemany(UPSERT_ACTIVITY, active)
    db.executemany(UPSERT_SKILLS, skills)


def _read_student(
    db: sqlite3.Connection, tenant: str, student: str, as_of: int
) -> StudentAggregates | None:
    key = (tenant, student)
    last = day_to_date(day_of(as_of)).isoformat()
    with _transaction(db, "DEFERRED"):
        activity = db.execute(
            "SELECT date, first_at FROM activity WHERE tenant = ? AND student_id = ?", key
        ).fetchall()
        if not activity:
            return None
        score_rows = db.execute(
            f"SELECT date, component, skill_id, n, {', '.join(MOMENT_COLUMNS)} FROM scores"
            " WHERE tenant = ? AND student_id = ? AND date <= ?",
            (*key, last),
        ).fetchall()
        done = db.execute(
            "SELECT skill_id, exercise_id, first_at FROM completions"
            " WHERE tenant = ? AND student_id = ?",
            key,
        ).fetchall()
        skills = db.execute(
            "SELECT skill_id, first_at FROM skills WHERE tenant = ? AND student_id = ?", key
        ).fetchall()
        tail = db.execute(
            "SELECT body, occurred_at FROM events WHERE tenant = ? AND student_id = ?"
            " AND occurred_at > ? AND occurred_at <= ? AND type IN (?, ?)",
            (*key, as_of, end_of_day(day_of(as_of)), *SCORE_TYPES),
        ).fetchall()
    return _aggregates(activity, score_rows, done, skills, tail)


def _aggregates(
    activity: list[Any], score_rows: list[Any], done: list[Any], skills: list[Any], tail: list[Any]
) -> StudentAggregates:
    scores: dict[tuple[str, Component], dict[int, Moments]] = {}
    for iso, component, skill, n, *moments in score_rows:
        day = date_to_day(date.fromisoformat(iso))
        m = Moments(n, tuple(moments[:MOMENTS]), tuple(moments[MOMENTS:]))
        scores.setdefault((skill, Component(component)), {})[day] = m
    completions: dict[str, dict[str, int]] = {}
    for skill, exercise, first_at in done:
        completions.setdefault(skill, {})[exercise] = first_at
    return StudentAggregates(
        scores,
        completions,
        {date_to_day(date.fromisoformat(d)): at for d, at in activity},
        dict(skills),
        tuple(restore_event(json.loads(body), at) for body, at in tail),
    )
