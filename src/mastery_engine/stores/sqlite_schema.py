"""The SQLite schema and the additive upserts that apply a batch's aggregates."""

from mastery_engine.core.aggregates import MOMENTS
from mastery_engine.core.events import EventType

SCHEMA_VERSION = 1
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
PRAGMA user_version = {SCHEMA_VERSION};
"""
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
STUDENT_TABLES = ("events", "scores", "completions", "activity", "skills")
SCORE_TYPES = (EventType.QUIZ_GRADED.value, EventType.CODE_REVIEWED.value)
