"""One contract every store backend meets (run against each URL in BACKENDS)."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mastery_engine.core.errors import InvalidConfig, NotFound
from mastery_engine.core.events import Event, parse_event
from mastery_engine.core.instants import day_of, parse_as_of
from mastery_engine.stores import Store, open_store
from mastery_engine.stores.base import CONFIG
from tests.conftest import NOW, event, store_url


def ev(
    event_id: str, at: str = "2026-03-10T10:00:00Z", student: str = "s-1", **kw: object
) -> Event:
    body = event(event_id, "quiz.graded", at, student=student, quiz_id="q", score=0.5)
    body.update(kw)
    return parse_event(body, NOW)


async def test_batch_applies_and_reports_duplicates_within_and_across_batches(store: Store) -> None:
    first = await store.apply("t", [ev("a"), ev("b"), ev("a")], NOW)
    assert first == [True, True, False]
    second = await store.apply("t", [ev("b"), ev("c")], NOW)
    assert second == [False, True]
    aggregates = await store.read("t", "s-1", NOW)
    assert aggregates is not None
    moments = aggregates.scores[("basics", "quiz")]
    assert sum(m.n for m in moments.values()) == 3  # a, b, c once each


async def test_empty_batch(store: Store) -> None:
    assert await store.apply("t", [], NOW) == []


async def test_tenants_are_isolated(store: Store) -> None:
    await store.apply("t1", [ev("a")], NOW)
    assert await store.apply("t2", [ev("a")], NOW) == [True]  # same id, other tenant
    assert await store.read("t3", "s-1", NOW) is None
    assert await store.students("t1") == ["s-1"]
    assert await store.students("t3") == []
    await store.delete_student("t1", "s-1")
    assert await store.read("t2", "s-1", NOW) is not None


async def test_read_unknown_student_is_none(store: Store) -> None:
    assert await store.read("t", "nobody", NOW) is None


async def test_read_returns_buckets_through_as_of_day_and_that_day_s_later_events(
    store: Store,
) -> None:
    await store.apply(
        "t",
        [
            ev("d1", "2026-03-01T08:00:00Z"),
            ev("d2", "2026-03-02T08:00:00Z"),
            ev("d2-late", "2026-03-02T20:00:00Z"),
            ev("d3", "2026-03-03T08:00:00Z"),
        ],
        NOW,
    )
    aggregates = await store.read("t", "s-1", parse_as_of("2026-03-02T12:00:00Z"))
    assert aggregates is not None
    days = aggregates.scores[("basics", "quiz")]
    # Later buckets may be returned too (the formula filters by as_of); these must be there.
    assert sum(m.n for d, m in days.items() if d <= day_of(parse_as_of("2026-03-02"))) == 3
    assert [e.id for e in aggregates.tail] == ["d2-late"]
    assert len(aggregates.active) >= 2
    later = await store.read("t", "s-1", parse_as_of("2026-03-02T21:00:00Z"))
    assert later is not None and later.tail == ()


async def test_completion_keeps_the_earliest_time(store: Store) -> None:
    late = parse_event(
        event("x2", "exercise.completed", "2026-03-05T10:00:00Z", exercise_id="e"), NOW
    )
    early = parse_event(
        event("x1", "exercise.completed", "2026-03-01T10:00:00Z", exercise_id="e"), NOW
    )
    await store.apply("t", [late], NOW)
    await store.apply("t", [early], NOW)
    aggregates = await store.read("t", "s-1", NOW)
    assert aggregates is not None
    assert aggregates.completions["basics"] == {"e": early.occurred_at}


async def test_delete_student_removes_everything_and_ids_can_be_reused(store: Store) -> None:
    await store.apply("t", [ev("a"), ev("b", student="s-2")], NOW)
    removed = await store.delete_student("t", "s-1")
    assert removed >= 1
    assert await store.read("t", "s-1", NOW) is None
    assert await store.students("t") == ["s-2"]
    assert await store.delete_student("t", "s-1") == 0  # idempotent
    assert await store.apply("t", [ev("a")], NOW) == [True]


async def test_ping(store: Store) -> None:
    await store.ping()


async def test_sqlite_survives_reopening(tmp_path: Path) -> None:
    url = store_url("sqlite", tmp_path)
    store = await open_store(url)
    await store.apply("t", [ev("a"), ev("b", "2026-03-11T10:00:00Z")], NOW)
    await store.close()
    reopened = await open_store(url)
    try:
        assert await reopened.apply("t", [ev("a")], NOW) == [False]
        aggregates = await reopened.read("t", "s-1", NOW)
        assert aggregates is not None
        assert sum(m.n for m in aggregates.scores[("basics", "quiz")].values()) == 2
    finally:
        await reopened.close()


async def test_sqlite_rows_follow_the_key_pattern(tmp_path: Path) -> None:
    import sqlite3

    url = store_url("sqlite", tmp_path)
    store = await open_store(url)
    await store.apply("school-a", [ev("a", "2026-03-10T10:00:00Z")], NOW)
    await store.close()
    with sqlite3.connect(tmp_path / "mastery.db") as db:
        rows = db.execute(
            "SELECT tenant, student_id, date, component, skill_id, n FROM scores"
        ).fetchall()
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert rows == [("school-a", "s-1", "2026-03-10", "quiz", "basics", 1)]
    assert mode == "wal"


@pytest.mark.parametrize("url", ["redis2://x", "postgres", "sqlite://"])
async def test_unknown_or_incomplete_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidConfig, match="store URL"):
        await open_store(url)


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite:///x.db?mode=memory"])
async def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(InvalidConfig):
        await open_store(url)


async def test_sqlite_snapshot_cache_follows_writes_from_another_process(tmp_path: Path) -> None:
    url = store_url("sqlite", tmp_path)
    reader, writer = await open_store(url), await open_store(url)
    try:
        await writer.apply("t", [ev("a")], NOW)
        first = await reader.read("t", "s-1", NOW)
        assert first is not None and await reader.read("t", "s-1", NOW) is first  # cached
        await writer.apply("t", [ev("b")], NOW)
        second = await reader.read("t", "s-1", NOW)
        assert second is not None
        assert sum(m.n for m in second.scores[("basics", "quiz")].values()) == 2
        # Erased and back with one event: the reader must not serve the old snapshot.
        await writer.delete_student("t", "s-1")
        assert await reader.read("t", "s-1", NOW) is None
        await writer.apply("t", [ev("c")], NOW)
        third = await reader.read("t", "s-1", NOW)
        assert third is not None
        assert sum(m.n for m in third.scores[("basics", "quiz")].values()) == 1
    finally:
        await reader.close()
        await writer.close()


async def test_sqlite_schema_1_files_are_migrated(tmp_path: Path) -> None:
    import sqlite3

    url = store_url("sqlite", tmp_path)
    store = await open_store(url)
    await store.apply("t", [ev("a")], NOW)
    await store.close()
    with sqlite3.connect(tmp_path / "mastery.db") as db:  # as a schema-1 file looked
        db.execute("DROP TABLE versions")
        db.execute("DROP TABLE batches")
        db.execute("PRAGMA user_version = 1")
    migrated = await open_store(url)
    try:
        assert await migrated.students("t") == ["s-1"]
        assert await migrated.read("t", "s-1", NOW) is not None
        await migrated.apply("t", [ev("b")], NOW)
        again = await migrated.read("t", "s-1", NOW)
        assert again is not None
        assert sum(m.n for m in again.scores[("basics", "quiz")].values()) == 2
    finally:
        await migrated.close()


async def test_purge_drops_raw_records_ingested_before_the_cutoff_and_keeps_aggregates(
    store: Store,
) -> None:
    day = 86_400_000_000
    await store.apply("t", [ev("old", "2026-03-01T10:00:00Z")], NOW - 100 * day)
    await store.apply("t", [ev("new", "2026-03-01T11:00:00Z")], NOW)
    assert await store.purge(NOW - 90 * day) == 1
    aggregates = await store.read("t", "s-1", NOW)
    assert aggregates is not None
    assert sum(m.n for m in aggregates.scores[("basics", "quiz")].values()) == 2
    assert await store.apply("t", [ev("new")], NOW) == [False]  # still de-duplicated
    assert await store.purge(NOW - 90 * day) == 0
    # The raw record is gone: a mid-day as_of no longer sees the purged event as "later".
    tail = await store.read("t", "s-1", parse_as_of("2026-03-01T09:00:00Z"))
    assert tail is not None and [e.id for e in tail.tail] == ["new"]


async def test_many_students_in_one_batch(store: Store) -> None:
    batch = [ev(f"e{i}", student=f"s-{i % 7}") for i in range(70)]
    assert await store.apply("t", batch, NOW) == [True] * 70
    assert await store.students("t") == sorted(f"s-{i}" for i in range(7))
    for i in range(7):
        aggregates = await store.read("t", f"s-{i}", NOW)
        assert aggregates is not None
        assert sum(m.n for m in aggregates.scores[("basics", "quiz")].values()) == 10


async def test_every_aggregate_kind_round_trips(store: Store) -> None:
    bodies = [
        event("c1", "exercise.completed", "2026-03-01T10:00:00Z", exercise_id="e1"),
        event("c2", "exercise.completed", "2026-03-02T10:00:00Z", skill="oop", exercise_id="e1"),
        event("r1", "code.reviewed", "2026-03-02T11:00:00Z", submission_id="x", quality=0.25),
        event("a1", "activity", "2026-03-03T09:00:00Z", skill=None, kind="video"),
        event("t1", "exercise.attempted", "2026-03-04T09:00:00Z", exercise_id="e", passed=False),
        event("q1", "quiz.graded", "2026-03-04T10:00:00.123456Z", quiz_id="q", score=0.75),
    ]
    events = [parse_event(b, NOW) for b in bodies]
    await store.apply("t", events, NOW)
    got = await store.read("t", "s-1", NOW)
    from mastery_engine.core.aggregates import contribution, fold

    want = fold(contribution(e) for e in events)
    assert got is not None
    assert got.completions == want.completions
    assert got.active == want.active
    assert got.skills == want.skills
    assert set(got.scores) == set(want.scores)
    for key, days in want.scores.items():
        for day, moments in days.items():
            stored = got.scores[key][day]
            assert stored.n == moments.n
            assert stored.w == pytest.approx(moments.w, rel=1e-12, abs=1e-15)
            assert stored.s == pytest.approx(moments.s, rel=1e-12, abs=1e-15)


async def test_events_of_lists_the_kept_raw_events_oldest_first(store: Store) -> None:
    await store.apply("t", [ev("b", "2026-03-02T10:00:00Z"), ev("a", "2026-03-01T10:00:00Z")], NOW)
    await store.apply("t", [ev("x", student="s-2")], NOW)
    kept = await store.events_of("t", "s-1")
    assert [(s.event.id, s.ingested_at) for s in kept] == [("a", NOW), ("b", NOW)]
    assert kept[0].event.score == 0.5
    assert await store.events_of("t", "nobody") == []
    assert await store.events_of("other", "s-1") == []


async def test_config_documents_are_per_tenant(store: Store) -> None:
    assert await store.get_document("t", CONFIG) is None
    document = {"weights": {"completion": 0.5, "quiz": 0.5}, "skills": [{"id": "a"}]}
    await store.put_document("t", CONFIG, document)
    await store.put_document("u", CONFIG, {"half_life_days": 7})
    assert await store.get_document("t", CONFIG) == document
    await store.put_document("t", CONFIG, {"half_life_days": 10.5})
    assert await store.get_document("t", CONFIG) == {"half_life_days": 10.5}
    assert await store.get_document("u", CONFIG) == {"half_life_days": 7}
    changed = await store.update_document("t", CONFIG, lambda d: (d or {}) | {"skills": []})
    assert changed == {"half_life_days": 10.5, "skills": []}
    assert await store.get_document("t", CONFIG) == changed


async def test_audit_log_is_per_tenant_newest_first(store: Store) -> None:
    for i in range(5):
        await store.audit("t", {"action": "export", "n": i})
    await store.audit("u", {"action": "erase"})
    assert [e["n"] for e in await store.audit_log("t", 3)] == [4, 3, 2]
    assert await store.audit_log("u", 10) == [{"action": "erase"}]
    assert await store.audit_log("v", 10) == []


async def test_documents_are_per_tenant_and_replaced_whole(store: Store) -> None:
    assert await store.get_document("t", "classes") is None
    await store.put_document("t", "classes", {"7a": ["s-1", "s-2"], "7b": []})
    await store.put_document("u", "classes", {"x": ["s-1"]})
    summary = {"n": 1.5, "nested": {"a": [1, 2], "b": None}, "text": "é:{x}%"}
    await store.put_document("t", "summary:é/1", summary)
    assert await store.get_document("t", "classes") == {"7a": ["s-1", "s-2"], "7b": []}
    assert await store.get_document("t", "summary:é/1") == summary
    await store.put_document("t", "classes", {"7c": []})
    assert await store.get_document("t", "classes") == {"7c": []}
    assert await store.get_document("u", "classes") == {"x": ["s-1"]}
    assert await store.get_document("v", "classes") is None
    assert await store.get_document("t", CONFIG) is None  # other documents are not it


def adding(key: str) -> Callable[[dict[str, Any] | None], dict[str, Any]]:
    """A document change that adds one key."""
    return lambda document: (document or {}) | {key: True}


async def test_update_document_reads_changes_and_writes_atomically(store: Store) -> None:
    assert await store.update_document("t", "d", adding("a")) == {"a": True}
    await asyncio.gather(*(store.update_document("t", "d", adding(f"k{i}")) for i in range(8)))
    document = await store.get_document("t", "d")
    assert document == {"a": True} | {f"k{i}": True for i in range(8)}  # no update lost
    assert await store.update_document("t", "d", lambda _: None) == document  # no change
    assert await store.update_document("t", "none", lambda _: None) is None
    assert await store.get_document("t", "none") is None

    def failing(document: dict[str, Any] | None) -> dict[str, Any]:
        raise NotFound("no such thing")

    with pytest.raises(NotFound):
        await store.update_document("t", "d", failing)
    assert await store.get_document("t", "d") == document
    assert await store.get_document("u", "d") is None


async def test_delete_student_leaves_the_tenant_documents_alone(store: Store) -> None:
    # Class rosters are the service's to change (see tests/service/test_erase.py).
    await store.apply("t", [ev("a")], NOW)
    await store.put_document("t", "classes", {"7a": ["s-1"]})
    assert await store.delete_student("t", "s-1") >= 1
    assert await store.get_document("t", "classes") == {"7a": ["s-1"]}


async def test_read_many_answers_as_read_does_in_the_order_given(store: Store) -> None:
    await store.apply("t", [ev("a"), ev("b", student="s-2"), ev("c", student="s-3")], NOW)
    await store.apply("u", [ev("d", student="s-4")], NOW)
    wanted = ["s-3", "nobody", "s-1", "s-4", "s-1"]
    many = await store.read_many("t", wanted, NOW)
    one_by_one = [await store.read("t", s, NOW) for s in wanted]
    assert many == one_by_one
    assert [a is None for a in many] == [False, True, False, True, False]
    assert await store.read_many("t", [], NOW) == []
    assert await store.read_many("t", ["s-1"], NOW, cache=False) == one_by_one[2:3]


async def test_sqlite_schema_3_files_get_the_documents_table(tmp_path: Path) -> None:
    import sqlite3

    from mastery_engine.stores.sqlite.tables import SCHEMA_VERSION

    url = store_url("sqlite", tmp_path)
    store = await open_store(url)
    await store.apply("t", [ev("a")], NOW)
    await store.close()
    with sqlite3.connect(tmp_path / "mastery.db") as db:  # as a schema-3 file looked
        db.execute("DROP TABLE documents")
        db.execute("PRAGMA user_version = 3")
    migrated = await open_store(url)
    try:
        await migrated.put_document("t", "classes", {"7a": ["s-1"]})
        assert await migrated.get_document("t", "classes") == {"7a": ["s-1"]}
        assert await migrated.students("t") == ["s-1"]
    finally:
        await migrated.close()
    with sqlite3.connect(tmp_path / "mastery.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_sqlite_keeps_the_configuration_in_its_own_table(tmp_path: Path) -> None:
    import sqlite3

    store = await open_store(store_url("sqlite", tmp_path))
    try:
        await store.put_document("t", CONFIG, {"half_life_days": 7})
        await store.put_document("t", "classes", {"7a": []})
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "mastery.db") as db:
        config = db.execute("SELECT tenant, body FROM tenant_config").fetchall()
        documents = db.execute("SELECT name FROM documents").fetchall()
    assert config == [("t", '{"half_life_days": 7}')]
    assert documents == [("classes",)]


async def test_a_read_that_keeps_nothing_still_uses_what_is_kept(store: Store) -> None:
    await store.apply("t", [ev("a"), ev("b", "2026-03-11T10:00:00Z")], NOW)
    first = await store.read("t", "s-1", NOW, cache=False)
    again = await store.read("t", "s-1", NOW, cache=False)
    assert first is not None and first == again and first is not again  # nothing was kept
    kept = await store.read("t", "s-1", NOW)
    assert kept == first
    assert await store.read("t", "s-1", NOW, cache=False) is kept
    assert await store.read("t", "nobody", NOW, cache=False) is None


async def test_migrations_are_part_of_the_port(
    store: Store, request: pytest.FixtureRequest
) -> None:
    applied = await store.migrations()
    versioned = "postgres" in request.node.callspec.id
    assert applied == (sorted(applied) if versioned else [])
    if versioned:  # the SQL files of stores/migrations/postgres, in order
        assert applied[0].startswith("0001") and len(applied) >= 3
