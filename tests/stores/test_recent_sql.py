"""SQLite and PostgreSQL keep each window cut to its K rows, and older schemas get theirs."""

import asyncio
import sqlite3
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from mastery_engine.core.aggregates import contribution, fold
from mastery_engine.core.events import Event, parse_event
from mastery_engine.core.recent import RECENT_ANSWERS, RECENT_FAILURES
from mastery_engine.stores import Store, open_store
from mastery_engine.stores.postgres.sql import migrations
from tests.backends import POSTGRES_URL, fresh_store_url
from tests.conftest import NOW, event
from tests.stores.test_recent import attempt, quiz

ANSWERS, FAILURES = "recent_answers", "recent_failures"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """The two SQL backends."""
    return str(request.param)


def window_sizes(url: str, table: str = ANSWERS) -> Counter[tuple[str, str, str]]:
    """Rows kept per (tenant, student, skill) in one of the store's window tables."""
    columns = "tenant, student_id, skill_id"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return Counter(db.execute(f"SELECT {columns} FROM {table}").fetchall())
    schema = parse_qs(urlsplit(url).query)["schema"][0]
    with psycopg.connect(POSTGRES_URL) as db:
        found = db.execute(f'SELECT {columns} FROM "{schema}".{table}').fetchall()
        return Counter(found)


def history() -> list[Event]:
    """Answers and failed attempts of two students in two skills (ties included), a passed
    attempt, one without an error type, a review and a completion."""
    answers = [quiz(f"e{i}", i % 6, i / 10, skill=("basics", "oop")[i % 2]) for i in range(10)]
    # Event ids sort by code point ("Y" < "e2"), whatever the database's collation.
    answers += [quiz("Z", 5, 1.0), quiz("a", 5, 0.0), quiz("Y", 2, 0.25)]
    answers.append(quiz("x", 1, 0.5, student="s-2"))
    failed = [attempt(f"f{i:02d}", i, error=("syntax", "type")[i % 2]) for i in range(12)]
    # "Y2" < "f02" by code point: Y2 is the older of the two and falls out of the window.
    failed += [attempt("Y2", 2, error="name"), attempt("ok", 20, passed=True)]
    failed.append(attempt("no-type", 21, error=None))
    others = [
        event("r1", "code.reviewed", "2026-03-10T11:00:00Z", submission_id="x", quality=1.0),
        event("c1", "exercise.completed", "2026-03-10T11:00:00Z", exercise_id="e"),
        event(
            "g1", "exercise.attempted", "2026-03-10T11:00:00Z", student="s-2", skill="oop",
            exercise_id="e", passed=False, error_type="syntax",
        ),
    ]  # fmt: skip
    return answers + failed + [parse_event(body, NOW) for body in others]


async def windows_match_the_fold(store: Store, events: list[Event]) -> None:
    for student in {e.student_id for e in events}:
        got = await store.read("t", student, NOW)
        want = fold(contribution(e) for e in events if e.student_id == student)
        assert got is not None
        assert dict(got.recent) == dict(want.recent)
        assert dict(got.failures) == dict(want.failures)


def windows_are_full(url: str) -> None:
    """The windows of `history()` that have more marks than K hold K rows."""
    assert window_sizes(url)[("t", "s-1", "basics")] == RECENT_ANSWERS
    assert window_sizes(url, FAILURES)[("t", "s-1", "basics")] == RECENT_FAILURES


async def test_each_batch_cuts_the_windows_it_touches_to_k_rows(
    store: Store, backend_url: str
) -> None:
    events = history()
    for e in reversed(events):  # one per batch, neither in time nor in id order
        await store.apply("t", [e], NOW)
    await windows_match_the_fold(store, events)
    assert window_sizes(backend_url) == {
        ("t", "s-1", "basics"): RECENT_ANSWERS,
        ("t", "s-1", "oop"): RECENT_ANSWERS,
        ("t", "s-2", "basics"): 1,
    }
    assert window_sizes(backend_url, FAILURES) == {
        ("t", "s-1", "basics"): RECENT_FAILURES,
        ("t", "s-2", "oop"): 1,
    }


async def test_concurrent_batches_of_one_student_leave_k_rows(
    store: Store, backend_url: str
) -> None:
    skills = ("basics", "oop")
    events = [quiz(f"e{i:02d}", i % 50, i % 3 / 2, skill=skills[i % 2]) for i in range(64)]
    events += [attempt(f"f{i:02d}", i % 50, str(i % 3), skill=skills[i % 2]) for i in range(64)]
    await asyncio.gather(*(store.apply("t", events[i::8], NOW) for i in range(8)))
    await windows_match_the_fold(store, events)
    assert set(window_sizes(backend_url).values()) == {RECENT_ANSWERS}
    assert set(window_sizes(backend_url, FAILURES).values()) == {RECENT_FAILURES}


async def test_purge_keeps_the_windows(store: Store, backend_url: str) -> None:
    await store.apply("t", history(), NOW)
    before = await store.read("t", "s-1", NOW, cache=False)
    assert await store.purge(NOW + 1) > 0
    after = await store.read("t", "s-1", NOW, cache=False)
    assert before is not None and after is not None
    assert after.recent == before.recent
    assert after.failures == before.failures
    assert sum(window_sizes(backend_url).values()) == 2 * RECENT_ANSWERS + 1
    assert sum(window_sizes(backend_url, FAILURES).values()) == RECENT_FAILURES + 1


# The window tables each schema version (SQLite) or migration (PostgreSQL) lacked.
SQLITE_LACKED = {4: (ANSWERS, FAILURES), 5: (FAILURES,)}
POSTGRES_LACKED = {3: (ANSWERS, FAILURES), 4: (FAILURES,)}


@pytest.mark.parametrize("version", sorted(SQLITE_LACKED))
async def test_sqlite_older_files_get_windows_from_the_kept_events(
    tmp_path: Path, version: int
) -> None:
    with fresh_store_url("sqlite", tmp_path) as url:
        await sqlite_older_schema_is_migrated(url, version)


async def sqlite_older_schema_is_migrated(backend_url: str, version: int) -> None:
    store = await open_store(backend_url)
    await store.apply("t", history(), NOW)
    await store.close()
    with sqlite3.connect(backend_url.removeprefix("sqlite:///")) as db:  # as that schema was
        for table in SQLITE_LACKED[version]:
            db.execute(f"DROP TABLE {table}")
        db.execute(f"PRAGMA user_version = {version}")
    migrated = await open_store(backend_url)
    try:
        await windows_match_the_fold(migrated, history())
        windows_are_full(backend_url)
    finally:
        await migrated.close()


@pytest.mark.parametrize("version", sorted(POSTGRES_LACKED))
async def test_postgres_later_migrations_fill_the_windows_from_the_kept_events(
    tmp_path: Path, version: int
) -> None:
    with fresh_store_url("postgres", tmp_path) as url:
        await postgres_later_migrations_are_applied(url, version)


async def postgres_later_migrations_are_applied(backend_url: str, version: int) -> None:
    store = await open_store(backend_url)
    await store.apply("t", history(), NOW)
    await store.close()
    schema = parse_qs(urlsplit(backend_url).query)["schema"][0]
    with psycopg.connect(POSTGRES_URL) as db:  # as the schema was after migration `version`
        for table in POSTGRES_LACKED[version]:
            db.execute(f'DROP TABLE "{schema}".{table}')
        db.execute(f'DELETE FROM "{schema}".schema_migrations WHERE version > %s', (version,))
    migrated = await open_store(backend_url)
    try:
        assert (await migrated.migrations())[-1] == "0005_recent_failures.sql"
        await windows_match_the_fold(migrated, history())
        windows_are_full(backend_url)
    finally:
        await migrated.close()


def test_postgres_backfills_keep_k_marks() -> None:
    texts = {name: text for _, name, text in migrations()}  # K is spelt out in the SQL files
    assert f"rank <= {RECENT_ANSWERS};" in texts["0004_recent_answers.sql"]
    assert f"rank <= {RECENT_FAILURES};" in texts["0005_recent_failures.sql"]
