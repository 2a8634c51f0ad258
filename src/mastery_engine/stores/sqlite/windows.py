"""SQLite tables of the windows of latest marks per student x skill (see `core.recent`).

`recent_answers` keeps each skill's latest quiz answers, `recent_failures` its latest failed
attempts that name an error type. Both are keyed (tenant, student_id, skill_id, occurred_at,
event_id) and differ only in the mark's own column, K and the events they come from, so one
set of statements serves both.
"""

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mastery_engine.core.events import EventType
from mastery_engine.core.recent import RECENT_ANSWERS, RECENT_FAILURES
from mastery_engine.stores.rows import BatchRows

SKILL = "json_extract(body, '$.skill_id')"
KEY = "tenant = ?1 AND student_id = ?2 AND skill_id = ?3"


@dataclass(frozen=True)
class Window:
    """One window's table, and which kept raw events fill it in a file that predates it."""

    table: str
    column: str  # the mark's own column
    column_type: str
    k: int
    since: int  # the schema version that added the table
    marks: str  # which raw events are marks
    mark: str  # the mark's value, from the event's body

    @cached_property
    def ddl(self) -> str:
        """CREATE TABLE IF NOT EXISTS of the window."""
        return f"""
CREATE TABLE IF NOT EXISTS {self.table} (
    tenant TEXT NOT NULL, student_id TEXT NOT NULL, skill_id TEXT NOT NULL,
    occurred_at INTEGER NOT NULL, event_id TEXT NOT NULL, {self.column} {self.column_type} NOT NULL,
    PRIMARY KEY (tenant, student_id, skill_id, occurred_at, event_id)) WITHOUT ROWID;"""

    @cached_property
    def backfill(self) -> str:
        """Each window filled with the K latest marks among the kept raw events."""
        # Purged events are gone, which costs little: the windows feed sums with half-lives
        # of minutes to hours and rules about the latest few attempts.
        return f"""
INSERT OR IGNORE INTO {self.table}
SELECT tenant, student_id, skill_id, occurred_at, id, mark FROM (
    SELECT tenant, student_id, {SKILL} AS skill_id, occurred_at, id, {self.mark} AS mark,
        row_number() OVER (PARTITION BY tenant, student_id, {SKILL}
            ORDER BY occurred_at DESC, id DESC) AS rank
    FROM events WHERE {self.marks})
WHERE skill_id IS NOT NULL AND rank <= {self.k}"""

    @cached_property
    def insert(self) -> str:
        """Insert marks (tenant, student_id, skill_id, occurred_at, event_id, mark)."""
        return f"INSERT OR IGNORE INTO {self.table} VALUES (?, ?, ?, ?, ?, ?)"

    @cached_property
    def trim(self) -> str:
        """Delete the marks of a window (tenant, student_id, skill_id) older than its K-th."""
        # The primary key's order makes both the K-th's lookup and the range deleted short
        # index scans.
        return f"""
DELETE FROM {self.table} WHERE {KEY} AND (occurred_at, event_id) < (
    SELECT occurred_at, event_id FROM {self.table} WHERE {KEY}
    ORDER BY occurred_at DESC, event_id DESC LIMIT 1 OFFSET {self.k - 1})"""

    @cached_property
    def select(self) -> str:
        """A student's marks as (skill_id, occurred_at, event_id, mark)."""
        return (
            f"SELECT skill_id, occurred_at, event_id, {self.column} FROM {self.table}"
            " WHERE tenant = ? AND student_id = ?"
        )


ANSWERS = Window(
    "recent_answers",
    "score",
    "REAL",
    RECENT_ANSWERS,
    since=5,
    marks=f"type = '{EventType.QUIZ_GRADED.value}'",
    mark="CAST(json_extract(body, '$.data.score') AS REAL)",
)
FAILURES = Window(
    "recent_failures",
    "error_type",
    "TEXT",
    RECENT_FAILURES,
    since=6,
    marks=f"type = '{EventType.EXERCISE_ATTEMPTED.value}'"
    " AND json_type(body, '$.data.passed') = 'false'"
    " AND json_type(body, '$.data.error_type') = 'text'",
    mark="json_extract(body, '$.data.error_type')",
)
WINDOWS = (ANSWERS, FAILURES)
SCHEMA = "".join(window.ddl for window in WINDOWS)


def keep(db: sqlite3.Connection, tenant: str, batch: BatchRows) -> None:
    """Add a batch's marks to their windows, then cut each touched window to its K latest."""
    found: tuple[tuple[Window, Sequence[tuple[Any, ...]]], ...] = (
        (ANSWERS, batch.recent),
        (FAILURES, batch.failures),
    )
    for window, marks in found:
        db.executemany(window.insert, [(tenant, *mark) for mark in marks])
        db.executemany(window.trim, [(tenant, *pair) for pair in {m[:2] for m in marks}])


def read(db: sqlite3.Connection, tenant: str, student: str) -> list[list[Any]]:
    """The student's rows of each window, in `WINDOWS` order (read in the caller's snapshot)."""
    return [db.execute(window.select, (tenant, student)).fetchall() for window in WINDOWS]
