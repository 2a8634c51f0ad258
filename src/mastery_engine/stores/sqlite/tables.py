"""SQLite tables and the statements that write and read them, on a plain connection.

Rows mirror the key pattern `{tenant}:student:{student_id}:mastery:{date}:{component}`:
`scores` is keyed (tenant, student_id, date, component, skill_id). `versions` holds the
number of the last batch that touched each student, so a cached snapshot is checked with one
lookup. `documents` holds a tenant's named JSON documents (class rosters, summaries).
`recent_answers` and `recent_failures` hold each skill's windows of latest marks (see
`windows`).
"""

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.events import Event
from mastery_engine.core.instants import day_of, end_of_day
from mastery_engine.stores import rows
from mastery_engine.stores.base import CONFIG, Change, Document, StoredEvent
from mastery_engine.stores.rows import MOMENT_COLUMNS, SCORE_TYPES
from mastery_engine.stores.snapshots import Moved
from mastery_engine.stores.sqlite import windows

SCHEMA_VERSION = 6  # 4: documents, 5: recent_answers, 6: recent_failures
MOMENT_DDL = ", ".join(f"{c} REAL NOT NULL" for c in MOMENT_COLUMNS)
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    tenant TEXT NOT NULL, id TEXT NOT NULL, student_id TEXT NOT NULL, type TEXT NOT NULL,
    occurred_at INTEGER NOT NULL, ingested_at INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_student ON events (tenant, student_id, occurred_at);
CREATE INDEX IF NOT EXISTS events_by_ingestion ON events (ingested_at);
CREATE TABLE IF NOT EXISTS scores (
    tenant TEXT NOT NULL, student_id TEXT NOT NULL, date TEXT NOT NULL, component TEXT NOT NULL,
    skill_id TEXT NOT NULL, n INTEGER NOT NULL, {MOMENT_DDL},
    PRIMARY KEY (tenant, student_id, date, component, skill_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS completions (
    tenant TEXT NOT NULL, student_id TEXT NOT NULL, skill_id TEXT NOT NULL,
    exercise_id TEXT NOT NULL, first_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, student_id, skill_id, exercise_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity (
    tenant TEXT NOT NULL, student_id TEXT NOT NULL, date TEXT NOT NULL,
    first_at INTEGER NOT NULL, events INTEGER NOT NULL,
    PRIMARY KEY (tenant, student_id, date)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS skills (
    tenant TEXT NOT NULL, student_id TEXT NOT NULL, skill_id TEXT NOT NULL,
    first_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, student_id, skill_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS versions (
    tenant TEXT NOT NULL, student_id TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (tenant, student_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY AUTOINCREMENT);
CREATE TABLE IF NOT EXISTS tenant_config (tenant TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_tenant ON audit (tenant, seq);
CREATE TABLE IF NOT EXISTS documents (
    tenant TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (tenant, name)) WITHOUT ROWID;
"""
# Schema 1 had no `versions`: existing students start at 0, below every batch number.
MIGRATE_TO_2 = "INSERT OR IGNORE INTO versions SELECT DISTINCT tenant, student_id, 0 FROM activity"
UPSERT_SCORES = (
    f"INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, {', '.join('?' * len(MOMENT_COLUMNS))})"
    " ON CONFLICT DO UPDATE SET n = n + excluded.n, "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in MOMENT_COLUMNS)
)
UPSERT_COMPLETIONS = (
    "INSERT INTO completions VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT DO UPDATE SET first_at = min(first_at, excluded.first_at)"
)
UPSERT_ACTIVITY = (
    "INSERT INTO activity VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT DO UPDATE SET first_at = min(first_at, excluded.first_at),"
    " events = events + excluded.events"
)
UPSERT_SKILLS = (
    "INSERT INTO skills VALUES (?, ?, ?, ?)"
    " ON CONFLICT DO UPDATE SET first_at = min(first_at, excluded.first_at)"
)
# A student's version is the number of the last batch that touched it. Batch numbers come
# from AUTOINCREMENT, so they never repeat, even after a student is erased and comes back.
UPSERT_VERSIONS = (
    "INSERT INTO versions VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET version = excluded.version"
)
STUDENT_TABLES = (
    "events", "scores", "completions", "activity", "skills", "versions",
    *(window.table for window in windows.WINDOWS),
)  # fmt: skip


@contextmanager
def transaction(db: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[None]:
    """BEGIN ... COMMIT, rolled back on any exception."""
    db.execute(f"BEGIN {mode}")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def create(db: sqlite3.Connection) -> None:
    """Create the tables, migrating an older file in place (new tables are simply created)."""
    with transaction(db):
        found = db.execute("PRAGMA user_version").fetchone()[0]
        for statement in (SCHEMA + windows.SCHEMA).split(";"):
            if statement.strip():
                db.execute(statement)
        if found < 2:
            db.execute(MIGRATE_TO_2)
        for window in windows.WINDOWS:
            if found < window.since:
                db.execute(window.backfill)
        if found < SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _fresh(db: sqlite3.Connection, tenant: str, events: Sequence[Event]) -> list[bool]:
    """Which events are new: not stored yet and not repeated earlier in the batch."""
    ids = list({e.id for e in events})
    stored: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = f"SELECT id FROM events WHERE tenant = ? AND id IN ({', '.join('?' * len(chunk))})"
        stored.update(r[0] for r in db.execute(sql, (tenant, *chunk)))
    return rows.fresh_flags(events, stored)


def apply(
    db: sqlite3.Connection, tenant: str, events: Sequence[Event], now: int
) -> tuple[list[bool], Moved[int]]:
    """One transaction: find duplicates under the write lock, store the rest, add them up.
    Also which version each touched student moved from and to."""
    with transaction(db):
        fresh = _fresh(db, tenant, events)
        new = [e for e, ok in zip(events, fresh, strict=True) if ok]
        raw = [
            (tenant, e.id, e.student_id, e.type.value, e.occurred_at, now, rows.event_body(e))
            for e in new
        ]
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", raw)
        batch = rows.batch_rows(new)
        was = _versions(db, tenant, batch.students)
        number = _upsert(db, tenant, batch)
    return fresh, {student: (was.get(student), number) for student in batch.students}


def _versions(db: sqlite3.Connection, tenant: str, students: Sequence[str]) -> dict[str, int]:
    """The current version of each of these students that has one."""
    found: dict[str, int] = {}
    for start in range(0, len(students), 500):
        chunk = students[start : start + 500]
        sql = (
            "SELECT student_id, version FROM versions WHERE tenant = ?"
            f" AND student_id IN ({', '.join('?' * len(chunk))})"
        )
        found.update(db.execute(sql, (tenant, *chunk)).fetchall())
    return found


def _upsert(db: sqlite3.Connection, tenant: str, batch: rows.BatchRows) -> int:
    """Add a batch's rows; the batch number the touched students now have (0: none)."""
    db.executemany(UPSERT_SCORES, [(tenant, *r) for r in batch.scores])
    db.executemany(UPSERT_COMPLETIONS, [(tenant, *r) for r in batch.completions])
    db.executemany(UPSERT_ACTIVITY, [(tenant, *r) for r in batch.activity])
    db.executemany(UPSERT_SKILLS, [(tenant, *r) for r in batch.skills])
    windows.keep(db, tenant, batch)
    if not batch.students:
        return 0
    number = int(db.execute("INSERT INTO batches DEFAULT VALUES").lastrowid or 0)
    db.execute("DELETE FROM batches")  # sqlite_sequence keeps the counter
    db.executemany(UPSERT_VERSIONS, [(tenant, s, number) for s in batch.students])
    return number


def purge(db: sqlite3.Connection, before: int) -> int:
    """Delete raw event records ingested before `before`; the aggregates stay."""
    with transaction(db):
        return db.execute("DELETE FROM events WHERE ingested_at < ?", (before,)).rowcount


def _document_sql(tenant: str, name: str) -> tuple[str, str, tuple[str, ...]]:
    """How to read and replace a document, and its key; the configuration keeps its table."""
    if name == CONFIG:
        return (
            "SELECT body FROM tenant_config WHERE tenant = ?",
            "INSERT OR REPLACE INTO tenant_config VALUES (?, ?)",
            (tenant,),
        )
    return (
        "SELECT body FROM documents WHERE tenant = ? AND name = ?",
        "INSERT OR REPLACE INTO documents VALUES (?, ?, ?)",
        (tenant, name),
    )


def get_document(db: sqlite3.Connection, tenant: str, name: str) -> Document | None:
    """The tenant's document called `name`, or None."""
    select, _, key = _document_sql(tenant, name)
    row = db.execute(select, key).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def put_document(db: sqlite3.Connection, tenant: str, name: str, document: Document) -> None:
    """Replace the tenant's document called `name`."""
    _, replace, key = _document_sql(tenant, name)
    db.execute(replace, (*key, json.dumps(document)))


def update_document(
    db: sqlite3.Connection, tenant: str, name: str, change: Change
) -> Document | None:
    """Read, change and write one document in one write transaction."""
    with transaction(db):
        current = get_document(db, tenant, name)
        new = change(current)
        if new is None:
            return current
        put_document(db, tenant, name, new)
    return new


def version(db: sqlite3.Connection, tenant: str, student: str) -> int | None:
    """The number of the last batch that touched the student; None for an unknown student."""
    row = db.execute(
        "SELECT version FROM versions WHERE tenant = ? AND student_id = ?", (tenant, student)
    ).fetchone()
    return None if row is None else int(row[0])


def snapshot(
    db: sqlite3.Connection, tenant: str, student: str
) -> tuple[int, StudentAggregates] | None:
    """Every aggregate of a student with its version, read in one snapshot."""
    key = (tenant, student)
    with transaction(db, "DEFERRED"):
        found = version(db, tenant, student)
        if found is None:
            return None
        where = "WHERE tenant = ? AND student_id = ?"
        activity = db.execute(f"SELECT date, first_at FROM activity {where}", key).fetchall()
        score_rows = db.execute(
            f"SELECT date, component, skill_id, n, {', '.join(MOMENT_COLUMNS)} FROM scores {where}",
            key,
        ).fetchall()
        done = db.execute(
            f"SELECT skill_id, exercise_id, first_at FROM completions {where}", key
        ).fetchall()
        skills = db.execute(f"SELECT skill_id, first_at FROM skills {where}", key).fetchall()
        recent, failures = windows.read(db, tenant, student)
    return found, rows.aggregates_from_rows(
        activity, score_rows, done, skills, recent, failures=failures
    )


def tail(db: sqlite3.Connection, tenant: str, student: str, as_of: int) -> tuple[Event, ...]:
    """The student's quiz and review events later on `as_of`'s UTC day than `as_of`."""
    found = db.execute(
        "SELECT body, occurred_at FROM events WHERE tenant = ? AND student_id = ?"
        " AND occurred_at > ? AND occurred_at <= ? AND type IN (?, ?)",
        (tenant, student, as_of, end_of_day(day_of(as_of)), *SCORE_TYPES),
    ).fetchall()
    return tuple(rows.restore(body, at) for body, at in found)


def events_of(db: sqlite3.Connection, tenant: str, student: str) -> list[StoredEvent]:
    """The student's kept raw events, oldest first."""
    found = db.execute(
        "SELECT body, occurred_at, ingested_at FROM events WHERE tenant = ? AND student_id = ?"
        " ORDER BY occurred_at, id",
        (tenant, student),
    ).fetchall()
    return [StoredEvent(rows.restore(body, at), ingested) for body, at, ingested in found]
