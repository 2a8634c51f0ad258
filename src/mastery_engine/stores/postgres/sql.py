"""PostgreSQL statements and the migration runner, on a plain psycopg connection.

Migrations are the SQL files in `migrations/postgres/`, applied in file-name order inside
one transaction under an advisory lock (so replicas starting together migrate once), and
recorded in `schema_migrations`.
"""

from collections.abc import Sequence
from importlib import resources
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.events import Event
from mastery_engine.core.instants import day_of, end_of_day
from mastery_engine.stores import rows
from mastery_engine.stores.base import CONFIG, Change, Document, StoredEvent
from mastery_engine.stores.postgres import windows
from mastery_engine.stores.rows import MOMENT_COLUMNS, SCORE_TYPES
from mastery_engine.stores.snapshots import Moved

Connection = AsyncConnection[tuple[Any, ...]]
STUDENT_TABLES = (
    "events", "scores", "completions", "activity", "skills", "versions",
    *(window.table for window in windows.WINDOWS),
)  # fmt: skip
MOMENTS_SQL = ", ".join(MOMENT_COLUMNS)
UPSERT_SCORES = (
    f"INSERT INTO scores VALUES (%s, %s, %s, %s, %s, %s, {', '.join(['%s'] * len(MOMENT_COLUMNS))})"
    " ON CONFLICT (tenant, student_id, date, component, skill_id) DO UPDATE SET"
    " n = scores.n + EXCLUDED.n, "
    + ", ".join(f"{c} = scores.{c} + EXCLUDED.{c}" for c in MOMENT_COLUMNS)
)
UPSERT_COMPLETIONS = (
    "INSERT INTO completions VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (tenant, student_id, skill_id, exercise_id)"
    " DO UPDATE SET first_at = LEAST(completions.first_at, EXCLUDED.first_at)"
)
UPSERT_ACTIVITY = (
    "INSERT INTO activity VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant, student_id, date)"
    " DO UPDATE SET first_at = LEAST(activity.first_at, EXCLUDED.first_at),"
    " events = activity.events + EXCLUDED.events"
)
UPSERT_SKILLS = (
    "INSERT INTO skills VALUES (%s, %s, %s, %s) ON CONFLICT (tenant, student_id, skill_id)"
    " DO UPDATE SET first_at = LEAST(skills.first_at, EXCLUDED.first_at)"
)
# The versions a batch's students have before it, locked: no other batch can move them on
# until this one commits, so the caller knows exactly which version its batch replaced.
LOCK_VERSIONS = (
    "SELECT student_id, version FROM versions WHERE tenant = %s AND student_id = ANY(%s::text[])"
    " ORDER BY student_id FOR UPDATE"
)
UPSERT_VERSIONS = (
    "INSERT INTO versions SELECT %s, s, %s FROM unnest(%s::text[]) AS s"
    " ON CONFLICT (tenant, student_id) DO UPDATE SET version = EXCLUDED.version"
)
INSERT_EVENTS = (
    "INSERT INTO events SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::text[],"
    " %s::bigint[], %s::bigint[], %s::text[]) ON CONFLICT (tenant, id) DO NOTHING RETURNING id"
)
WHERE_STUDENT = " WHERE tenant = %s AND student_id = %s"
# Two-key advisory locks live apart from the one-key lock that migrations take.
LOCK_DOCUMENT = "SELECT pg_advisory_xact_lock(hashtext('mastery:documents'), hashtext(%s))"


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every shipped migration, in order."""
    folder = resources.files("mastery_engine.stores") / "migrations" / "postgres"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.name, entry.read_text()))
    return sorted(found)


async def migrate(db: Connection, schema: str) -> list[str]:
    """Create the schema and apply the migrations it has not seen; their names."""
    applied: list[str] = []
    async with db.transaction():
        await db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"mastery:{schema}",))
        await db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
            " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = await db.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in await cursor.fetchall()}
        for version, name, text in migrations():
            if version in done:
                continue
            await db.execute(text.encode())
            await db.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
            )
            applied.append(name)
    return applied


async def apply(
    db: Connection, tenant: str, events: Sequence[Event], now: int
) -> tuple[list[bool], Moved[int]]:
    """Store the new events and add them up, in the caller's transaction; which version each
    touched student moved from and to."""
    first = list({e.id: e for e in reversed(events)}.values())  # first occurrence per id
    first.sort(key=lambda e: e.id)  # one lock order for every writer
    columns: list[list[Any]] = [[], [], [], [], [], []]
    for e in first:
        values = (e.id, e.student_id, e.type.value, e.occurred_at, now, rows.event_body(e))
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    cursor = await db.execute(INSERT_EVENTS, (tenant, *columns))
    inserted = {row[0] for row in await cursor.fetchall()}
    new = [e for e in first if e.id in inserted]
    moved = await _upsert(db, tenant, rows.batch_rows(new))
    return rows.fresh_flags(events, {e.id for e in events} - inserted), moved


async def _upsert(db: Connection, tenant: str, batch: rows.BatchRows) -> Moved[int]:
    """Add a batch's rows; which version each touched student moved from and to."""
    async with db.cursor() as cursor:
        for statement, found in (
            (UPSERT_SCORES, batch.scores),
            (UPSERT_COMPLETIONS, batch.completions),
            (UPSERT_ACTIVITY, batch.activity),
            (UPSERT_SKILLS, batch.skills),
        ):
            if found:
                await cursor.executemany(statement, [(tenant, *r) for r in sorted(found)])
    moved: Moved[int] = {}
    if batch.students:
        students = sorted(batch.students)
        was: dict[str, int] = dict(
            await (await db.execute(LOCK_VERSIONS, (tenant, students))).fetchall()
        )
        number = await (await db.execute("SELECT nextval('batch_numbers')")).fetchone()
        assert number is not None
        await db.execute(UPSERT_VERSIONS, (tenant, number[0], students))
        moved = {s: (was.get(s), int(number[0])) for s in students}
    # After the versions upsert: its row locks order the batches that touch a student, so
    # each cut sees every mark committed before it.
    await windows.keep(db, tenant, batch)
    return moved


async def versions(db: Connection, tenant: str, students: Sequence[str]) -> dict[str, int]:
    """The number of the last batch that touched each student (an unknown one is left out)."""
    cursor = await db.execute(
        "SELECT student_id, version FROM versions WHERE tenant = %s AND student_id = ANY(%s)",
        (tenant, list(students)),
    )
    return {student: int(number) for student, number in await cursor.fetchall()}


# One statement sees one snapshot, so a student's rows are read consistently in one round
# trip. Columns: kind, text a, b, c, a number, the moments.
SNAPSHOT = " UNION ALL ".join(
    [
        "SELECT 0, NULL, NULL, NULL, version, NULL::float8[] FROM versions" + WHERE_STUDENT,
        "SELECT 1, date::text, NULL, NULL, first_at, NULL FROM activity" + WHERE_STUDENT,
        f"SELECT 2, date::text, component, skill_id, n, ARRAY[{MOMENTS_SQL}] FROM scores"
        + WHERE_STUDENT,
        "SELECT 3, skill_id, exercise_id, NULL, first_at, NULL FROM completions" + WHERE_STUDENT,
        "SELECT 4, skill_id, NULL, NULL, first_at, NULL FROM skills" + WHERE_STUDENT,
        "SELECT 5, skill_id, event_id, NULL, occurred_at, ARRAY[score] FROM recent_answers"
        + WHERE_STUDENT,
        "SELECT 6, skill_id, event_id, error_type, occurred_at, NULL FROM recent_failures"
        + WHERE_STUDENT,
    ]
)


async def snapshot(
    db: Connection, tenant: str, student: str
) -> tuple[int, StudentAggregates] | None:
    """Every aggregate of a student with its version, in one statement."""
    cursor = await db.execute(SNAPSHOT, (tenant, student) * 7)
    found: int | None = None
    parts: tuple[list[Any], ...] = ([], [], [], [], [], [])
    for kind, a, b, c, number, moments in await cursor.fetchall():
        if kind == 0:
            found = int(number)
        elif kind == 1:
            parts[0].append((a, number))
        elif kind == 2:
            parts[1].append((a, b, c, number, *moments))
        elif kind == 5:
            parts[4].append((a, number, b, moments[0]))
        elif kind == 6:
            parts[5].append((a, number, b, c))
        else:
            parts[kind - 1].append((a, b, number) if kind == 3 else (a, number))
    if found is None:
        return None
    return found, rows.aggregates_from_rows(*parts[:5], failures=parts[5])


async def tails(
    db: Connection, tenant: str, students: Sequence[str], as_of: int
) -> dict[str, tuple[Event, ...]]:
    """Each student's quiz and review events later on `as_of`'s UTC day than `as_of`."""
    cursor = await db.execute(
        "SELECT student_id, body, occurred_at FROM events WHERE tenant = %s"
        " AND student_id = ANY(%s) AND occurred_at > %s AND occurred_at <= %s AND type = ANY(%s)",
        (tenant, list(students), as_of, end_of_day(day_of(as_of)), list(SCORE_TYPES)),
    )
    found: dict[str, list[Event]] = {}
    for student, body, at in await cursor.fetchall():
        found.setdefault(student, []).append(rows.restore(body, at))
    return {student: tuple(events) for student, events in found.items()}


async def delete_student(db: Connection, tenant: str, student: str) -> int:
    """Delete every row of the student, in the caller's transaction."""
    removed = 0
    for table in STUDENT_TABLES:
        cursor = await db.execute(f"DELETE FROM {table}" + WHERE_STUDENT, (tenant, student))
        removed += cursor.rowcount
    return removed


async def events_of(db: Connection, tenant: str, student: str) -> list[StoredEvent]:
    """The student's kept raw events, oldest first."""
    cursor = await db.execute(
        "SELECT body, occurred_at, ingested_at FROM events"
        + WHERE_STUDENT
        + " ORDER BY occurred_at, id",
        (tenant, student),
    )
    found = await cursor.fetchall()
    return [StoredEvent(rows.restore(body, at), ingested) for body, at, ingested in found]


def _document_sql(tenant: str, name: str) -> tuple[str, str, tuple[str, ...]]:
    """How to read and replace a document, and its key; the configuration keeps its table."""
    if name == CONFIG:
        return (
            "SELECT body FROM tenant_config WHERE tenant = %s",
            "INSERT INTO tenant_config VALUES (%s, %s)"
            " ON CONFLICT (tenant) DO UPDATE SET body = EXCLUDED.body",
            (tenant,),
        )
    return (
        "SELECT body FROM documents WHERE tenant = %s AND name = %s",
        "INSERT INTO documents VALUES (%s, %s, %s)"
        " ON CONFLICT (tenant, name) DO UPDATE SET body = EXCLUDED.body",
        (tenant, name),
    )


async def get_document(db: Connection, tenant: str, name: str) -> Document | None:
    """The tenant's document called `name`, or None."""
    select, _, key = _document_sql(tenant, name)
    found = await one_value(db, select, key)
    return None if found is None else dict(found)


async def put_document(db: Connection, tenant: str, name: str, document: Document) -> None:
    """Replace the tenant's document called `name`."""
    _, replace, key = _document_sql(tenant, name)
    await db.execute(replace, (*key, Jsonb(document)))


async def update_document(
    db: Connection, tenant: str, name: str, change: Change
) -> Document | None:
    """Read, change and write one document, in the caller's transaction.

    The lock serialises writers of the document, including the first ones, when no row
    exists yet for `SELECT ... FOR UPDATE` to lock.
    """
    await db.execute(LOCK_DOCUMENT, (f"{tenant}/{name}",))
    current = await get_document(db, tenant, name)
    new = change(current)
    if new is None:
        return current
    await put_document(db, tenant, name, new)
    return new


async def one_value(db: Connection, query: str, parameters: tuple[Any, ...]) -> Any:
    """The first column of the first row, or None."""
    row = await (await db.execute(query, parameters)).fetchone()
    return None if row is None else row[0]
