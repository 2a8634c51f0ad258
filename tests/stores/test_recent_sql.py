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
from mastery_engine.core.recent import RECENT_ANSWERS
from mastery_engine.stores import Store, open_store
from tests.backends import POSTGRES_URL, fresh_store_url
from tests.conftest import NOW, event
from tests.stores.test_recent import quiz


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """The two SQL backends."""
    return str(request.param)


def window_sizes(url: str) -> Counter[tuple[str, str, str]]:
    """Rows kept per (tenant, student, skill) in the store's `recent_answers` table."""
    columns = "tenant, student_id, skill_id"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return Counter(db.execute(f"SELECT {columns} FROM recent_answers").fetchall())
    schema = parse_qs(urlsplit(url).query)["schema"][0]
    with psycopg.connect(POSTGRES_URL) as db:
        found = db.execute(f'SELECT {columns} FROM "{schema}".recent_answers').fetchall()
        return Counter(found)


def history() -> list[Event]:
    """Answers of two students in two skills (ties included), a review and a completion."""
    answers = [quiz(f"e{i}", i % 6, i / 10, skill=("basics", "oop")[i % 2]) for i in range(10)]
    # Event ids sort by code point ("Y" < "e2"), whatever the database's collation.
    answers += [quiz("Z", 5, 1.0), quiz("a", 5, 0.0), quiz("Y", 2, 0.25)]
    answers.append(quiz("x", 1, 0.5, student="s-2"))
    others = [
        event("r1", "code.reviewed", "2026-03-10T11:00:00Z", submission_id="x", quality=1.0),
        event("c1", "exercise.completed", "2026-03-10T11:00:00Z", exercise_id="e"),
    ]
    return answers + [parse_event(body, NOW) for body in others]


async def windows_match_the_fold(store: Store, events: list[Event]) -> None:
    for student in {e.student_id for e in events}:
        got = await store.read("t", student, NOW)
        want = fold(contribution(e) for e in events if e.student_id == student)
        assert got is not None
        assert dict(got.recent) == dict(want.recent)


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


async def test_concurrent_batches_of_one_student_leave_k_rows(
    store: Store, backend_url: str
) -> None:
    events = [
        quiz(f"e{i:02d}", i % 50, i % 3 / 2, skill=("basics", "oop")[i % 2]) for i in range(64)
    ]
    await asyncio.gather(*(store.apply("t", events[i::8], NOW) for i in range(8)))
    await windows_match_the_fold(store, events)
    assert set(window_sizes(backend_url).values()) == {RECENT_ANSWERS}


async def test_purge_keeps_the_windows(store: Store, backend_url: str) -> None:
    await store.apply("t", history(), NOW)
    before = await store.read("t", "s-1", NOW, cache=False)
    assert await store.purge(NOW + 1) > 0
    after = await store.read("t", "s-1", NOW, cache=False)
    assert before is not None and after is not None
    assert after.recent == before.recent
    assert sum(window_sizes(backend_url).values()) == 2 * RECENT_ANSWERS + 1


async def test_sqlite_schema_4_files_get_windows_from_the_kept_events(tmp_path: Path) -> None:
    with fresh_store_url("sqlite", tmp_path) as url:
        await sqlite_schema_4_is_migrated(url)


async def sqlite_schema_4_is_migrated(backend_url: str) -> None:
    store = await open_store(backend_url)
    await store.apply("t", history(), NOW)
    await store.close()
    with sqlite3.connect(backend_url.removeprefix("sqlite:///")) as db:  # as schema 4 was
        db.execute("DROP TABLE recent_answers")
        db.execute("PRAGMA user_version = 4")
    migrated = await open_store(backend_url)
    try:
        await windows_match_the_fold(migrated, history())
        assert window_sizes(backend_url)[("t", "s-1", "basics")] == RECENT_ANSWERS
    finally:
        await migrated.close()


async def test_postgres_migration_4_fills_the_windows_from_the_kept_events(
    tmp_path: Path,
) -> None:
    with fresh_store_url("postgres", tmp_path) as url:
        await postgres_migration_4_is_applied(url)


async def postgres_migration_4_is_applied(backend_url: str) -> None:
    store = await open_store(backend_url)
    await store.apply("t", history(), NOW)
    await store.close()
    schema = parse_qs(urlsplit(backend_url).query)["schema"][0]
    with psycopg.connect(POSTGRES_URL) as db:  # as the schema was before migration 4
        db.execute(f'DROP TABLE "{schema}".recent_answers')
        db.execute(f'DELETE FROM "{schema}".schema_migrations WHERE version = 4')
    migrated = await open_store(backend_url)
    try:
        assert (await migrated.migrations())[-1] == "0004_recent_answers.sql"
        await windows_match_the_fold(migrated, history())
        assert window_sizes(backend_url)[("t", "s-1", "basics")] == RECENT_ANSWERS
    finally:
        await migrated.close()
