"""SQLite tables and the statements that write and read them, on a plain connection.

Rows mirror the key pattern `{tenant}:student:{student_id}:mastery:{date}:{component}`:
`scores` is keyed (tenant, student_id, date, component, skill_id). `versions` holds the
number of the last batch that touched each student, so a cached snapshot is checked with one
lookup.
"""

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from mastery_engine.core.aggregates import (
    MOMENTS,
    AggregateBuilder,
    Component,
    Moments,
    StudentAggregates,
    contribution,
)
from mastery_engine.core.events import Event, EventType, restore_event
from mastery_engine.core.instants import date_to_day, day_of, day_to_date, end_of_day

SCHEMA_VERSION = 2
MOMENT_COLUMNS = [f"w{k}" for k in range(MOMENTS)] + [f"s{k}" for k in range(MOMENTS)]
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
STUDENT_TABLES = ("events", "scores", "completions", "activity", "skills", "versions")
SCORE_TYPES = (EventType.QUIZ_GRADED.value, EventType.CODE_REVIEWED.value)


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
    """Create the tables, migrating a schema-1 file in place."""
    with transaction(db):
        found = db.execute("PRAGMA user_version").fetchone()[0]
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        if found < SCHEMA_VERSION:
            db.execute(MIGRATE_TO_2)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


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


def apply(db: sqlite3.Connection, tenant: str, events: Sequence[Event], now: int) -> list[bool]:
    """One transaction: find duplicates under the write lock, store the rest, add them up."""
    with transaction(db):
        fresh = _fresh(db, tenant, events)
        new = [e for e, ok in zip(events, fresh, strict=True) if ok]
        rows = [
            (tenant, e.id, e.student_id, e.type.value, e.occurred_at, now, json.dumps(e.to_json()))
            for e in new
        ]
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
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
    if builders:
        batch = db.execute("INSERT INTO batches DEFAULT VALUES").lastrowid
        db.execute("DELETE FROM batches")  # sqlite_sequence keeps the counter
        db.executemany(UPSERT_VERSIONS, [(tenant, student, batch) for student in builders])


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
    return found, _aggregates(activity, score_rows, done, skills)


def tail(db: sqlite3.Connection, tenant: str, student: str, as_of: int) -> tuple[Event, ...]:
    """The student's quiz and review events later on `as_of`'s UTC day than `as_of`."""
    rows = db.execute(
        "SELECT body, occurred_at FROM events WHERE tenant = ? AND student_id = ?"
        " AND occurred_at > ? AND occurred_at <= ? AND type IN (?, ?)",
        (tenant, student, as_of, end_of_day(day_of(as_of)), *SCORE_TYPES),
    ).fetchall()
    return tuple(restore_event(json.loads(body), at) for body, at in rows)


def _aggregates(
    activity: list[Any], score_rows: list[Any], done: list[Any], skills: list[Any]
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
    )
