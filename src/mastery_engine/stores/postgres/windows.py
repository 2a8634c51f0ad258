"""PostgreSQL statements of the windows of latest marks per student x skill (`core.recent`).

`recent_answers` keeps each skill's latest quiz answers, `recent_failures` its latest failed
attempts that name an error type (migrations 0004 and 0005). Both are keyed (tenant,
student_id, skill_id, occurred_at, event_id) and differ only in the mark's own column and K,
so one set of statements serves both. They are read with the rest of a student's snapshot.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from psycopg import AsyncConnection

from mastery_engine.core.recent import RECENT_ANSWERS, RECENT_FAILURES
from mastery_engine.stores.rows import BatchRows


@dataclass(frozen=True)
class Window:
    """One window's table."""

    table: str
    array_type: str  # of the mark's own column, the table's last
    k: int

    @cached_property
    def insert(self) -> str:
        """Insert marks given as columns: student_id, skill_id, occurred_at, event_id, mark."""
        return (
            f"INSERT INTO {self.table} SELECT %s, * FROM unnest(%s::text[], %s::text[],"
            f" %s::bigint[], %s::text[], %s::{self.array_type}) ON CONFLICT DO NOTHING"
        )

    @cached_property
    def trim(self) -> str:
        """Delete the marks of windows (student_ids, skill_ids, tenant) beyond their K latest."""
        # Found by a short backward scan of the primary key per window, then deleted by row
        # address: this plan does not depend on the table's statistics, which lag behind a
        # fast-growing table.
        return f"""
DELETE FROM {self.table} WHERE ctid = ANY(ARRAY(
    SELECT old.ctid FROM unnest(%s::text[], %s::text[]) AS w(student_id, skill_id)
    CROSS JOIN LATERAL (
        SELECT ctid FROM {self.table}
        WHERE tenant = %s AND student_id = w.student_id AND skill_id = w.skill_id
        ORDER BY occurred_at DESC, event_id DESC OFFSET {self.k}) AS old))"""


ANSWERS = Window("recent_answers", "float8[]", RECENT_ANSWERS)
FAILURES = Window("recent_failures", "text[]", RECENT_FAILURES)
WINDOWS = (ANSWERS, FAILURES)


async def keep(db: AsyncConnection[tuple[Any, ...]], tenant: str, batch: BatchRows) -> None:
    """Add a batch's marks to their windows, then cut each touched window to its K latest."""
    found: tuple[tuple[Window, Sequence[tuple[Any, ...]]], ...] = (
        (ANSWERS, batch.recent),
        (FAILURES, batch.failures),
    )
    for window, marks in found:
        if not marks:
            continue
        columns = [list(column) for column in zip(*sorted(marks), strict=True)]
        pairs = [list(column) for column in zip(*sorted({m[:2] for m in marks}), strict=True)]
        await db.execute(window.insert, (tenant, *columns))
        await db.execute(window.trim, (*pairs, tenant))
