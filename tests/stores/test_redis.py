"""Redis-specific behaviour: key layout, hash slots, expiry, packed windows, URL options, a
server restart."""

import asyncio
import random
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from mastery_engine.core.aggregates import Component, StudentAggregates, contribution, fold
from mastery_engine.core.errors import InvalidConfig, StoreUnavailable
from mastery_engine.core.events import Event, EventType, parse_event
from mastery_engine.core.instants import MAX_US, MIN_US
from mastery_engine.core.recent import RECENT_ANSWERS, RECENT_FAILURES
from mastery_engine.stores import open_store
from mastery_engine.stores.base import CONFIG
from mastery_engine.stores.redis.store import RedisStore
from mastery_engine.stores.redis.windows import answer_at, failure_at, window_rows
from tests.backends import REDIS_URL, drop_redis_prefix, redis_keys, unique
from tests.conftest import NOW, event
from tests.redis_server import start_server
from tests.serving import free_port

RETENTION_DAYS = 90
DAY_S = 86_400
FIXED = ("version", "events", "seen", "scored", "completions", "activity", "skills", "days",
         "recent", "failures")  # fmt: skip
RAW = ("events", "seen", "scored")


def quiz(event_id: str, student: str = "s-1", at: str = "2026-03-10T10:00:00Z") -> Event:
    body = event(event_id, "quiz.graded", at, student=student, quiz_id="q", score=0.5)
    return parse_event(body, NOW)


def every_kind(student: str = "s-1") -> list[Event]:
    at = "2026-03-1{}T10:00:00Z".format
    bodies = [
        event(student + "q", "quiz.graded", at(0), student=student, quiz_id="q", score=1),
        event(
            student + "r", "code.reviewed", at(1), student=student, submission_id="x", quality=0.5
        ),
        event(student + "c", "exercise.completed", at(1), student=student, exercise_id="e:1"),
        event(student + "a", "activity", at(2), student=student, skill=None, kind="read"),
        event(student + "f", "exercise.attempted", at(2), student=student, exercise_id="e",
              passed=False, error_type="syntax"),
    ]  # fmt: skip
    return [parse_event(b, NOW) for b in bodies]


def quiz_count(aggregates: StudentAggregates | None) -> int:
    assert aggregates is not None
    return sum(m.n for m in aggregates.scores[("basics", Component.QUIZ)].values())


@pytest.fixture
def prefix() -> Iterator[str]:
    name = unique("mt") + ":"
    try:
        yield name
    finally:
        drop_redis_prefix(name)


@pytest.fixture
async def redis_store(prefix: str) -> AsyncIterator[RedisStore]:
    opened = await open_store(f"{REDIS_URL}?prefix={prefix}", retention_days=RETENTION_DAYS)
    assert isinstance(opened, RedisStore)
    yield opened
    await opened.close()


def names(prefix: str) -> set[str]:
    return {key.decode().removeprefix(prefix) for key in redis_keys(prefix)}


async def test_keys_follow_the_pattern_tenant_first(redis_store: RedisStore, prefix: str) -> None:
    await redis_store.apply("school-a", every_kind(), NOW)
    await redis_store.put_document("school-a", CONFIG, {"half_life_days": 7})
    await redis_store.audit("school-a", {"action": "export"})
    base = "{school-a:student:s-1}"
    assert names(prefix) == {
        "tenants",
        "{school-a}:students",
        "{school-a}:config",
        "{school-a}:audit",
        *(f"{base}:{name}" for name in FIXED),
        f"{base}:mastery:2026-03-10:quiz",
        f"{base}:mastery:2026-03-11:quality",
    }


async def test_every_key_of_a_student_hashes_to_one_slot(
    redis_store: RedisStore, prefix: str
) -> None:
    students = ["s-1", "s-2", "s-3"]
    await redis_store.apply("t", [e for s in students for e in every_kind(s)], NOW)
    for student in students:
        keys = [k for k in redis_keys(prefix) if f"{{t:student:{student}}}".encode() in k]
        assert len(keys) == len(FIXED) + 2
        assert {key_slot(k) for k in keys} == {key_slot(f"{{t:student:{student}}}".encode())}


async def test_ids_are_escaped_so_they_never_collide_or_break_the_hash_tag(
    redis_store: RedisStore, prefix: str
) -> None:
    # Unescaped, both would live under the tag {a:student:b:student:c}.
    assert await redis_store.apply("a:student:b", [quiz("e", student="c")], NOW) == [True]
    assert await redis_store.apply("a", [quiz("e", student="b:student:c")], NOW) == [True]
    assert await redis_store.apply("t{1}", [quiz("e", student="50%{x}")], NOW) == [True]
    for tenant, student in [("a:student:b", "c"), ("a", "b:student:c"), ("t{1}", "50%{x}")]:
        assert quiz_count(await redis_store.read(tenant, student, NOW)) == 1
        assert await redis_store.students(tenant) == [student]
    tagged = [k for k in names(prefix) if k.startswith("{t%7B1%7D:student:50%25%7Bx%7D}:")]
    assert len(tagged) == len(FIXED) - 1  # a quiz: no completions nor failures, one bucket
    assert len({key_slot((prefix + k).encode()) for k in tagged}) == 1


async def test_delete_student_leaves_no_key_and_leaves_the_index(
    redis_store: RedisStore, prefix: str
) -> None:
    await redis_store.apply("t", [*every_kind("s-1"), quiz("other", student="s-2")], NOW)
    assert await redis_store.delete_student("t", "s-1") > 0
    assert not [k for k in names(prefix) if "student:s-1}" in k]
    assert [k for k in names(prefix) if "student:s-2}" in k]
    assert await redis_store.students("t") == ["s-2"]
    assert await redis_store.read("t", "s-1", NOW) is None
    assert await redis_store.delete_student("t", "s-1") == 0


async def test_raw_records_expire_and_aggregates_do_not(
    redis_store: RedisStore, prefix: str
) -> None:
    await redis_store.apply("t", every_kind(), NOW)
    with redis.Redis.from_url(REDIS_URL) as client:
        ttls = {k: client.ttl(prefix + k) for k in names(prefix)}
    raw = {k: ttl for k, ttl in ttls.items() if k.rsplit(":", 1)[-1] in RAW}
    assert len(raw) == len(RAW)
    for ttl in raw.values():
        assert RETENTION_DAYS * DAY_S < ttl <= (RETENTION_DAYS + 1) * DAY_S
    assert all(ttl == -1 for k, ttl in ttls.items() if k not in raw)


async def test_duplicates_within_a_batch_count_once_even_across_students(
    redis_store: RedisStore,
) -> None:
    batch = [quiz("a"), quiz("a", student="s-2"), quiz("b", student="s-2")]
    assert await redis_store.apply("t", batch, NOW) == [True, False, True]
    assert quiz_count(await redis_store.read("t", "s-2", NOW)) == 1


@pytest.mark.parametrize(
    ("late", "early"),  # 2**53 < MAX_US; MIN_US < 0 (1970-01-01T00:00:00+23:59)
    [(MAX_US - 1, MAX_US - 2), (5, MIN_US), (-1, MIN_US)],
)
async def test_earliest_times_stay_exact_beyond_double_precision_and_before_1970(
    redis_store: RedisStore, late: int, early: int
) -> None:
    def done(event_id: str, at: int) -> Event:
        data = {"exercise_id": "e"}
        return Event(event_id, EventType.EXERCISE_COMPLETED, "s-1", "basics", at, data)

    await redis_store.apply("t", [done("late", late)], NOW)
    await redis_store.apply("t", [done("early", early)], NOW)
    aggregates = await redis_store.read("t", "s-1", NOW)
    assert aggregates is not None
    assert aggregates.completions["basics"] == {"e": early}
    assert aggregates.skills["basics"] == early
    assert min(aggregates.active.values()) == early


def answer(event_id: str, at: int, score: float = 0.5, student: str = "s-1") -> Event:
    data = {"quiz_id": "q", "score": score}
    return Event(event_id, EventType.QUIZ_GRADED, student, "basics", at, data)


def failed(event_id: str, at: int, error: str = "syntax", student: str = "s-1") -> Event:
    data = {"exercise_id": "e", "passed": False, "error_type": error}
    return Event(event_id, EventType.EXERCISE_ATTEMPTED, student, "basics", at, data)


async def window_matches_fold(store: RedisStore, events: list[Event]) -> None:
    """Apply the events one by one in a random order: the windows must be the fold's."""
    random.Random(3).shuffle(events)
    for one in events:
        await store.apply("t", [one], NOW)
    got = await store.read("t", events[0].student_id, MAX_US)
    want = fold(contribution(e) for e in events)
    assert got is not None
    assert (dict(got.recent), dict(got.failures)) == (dict(want.recent), dict(want.failures))


def stored_marks(prefix: str, key: str) -> list[tuple[object, ...]]:
    """The rows of a student's window as Redis holds it."""
    with redis.Redis.from_url(REDIS_URL) as client:
        stored = client.hgetall(f"{prefix}{{t:student:s-1}}:{key}")
    flat = [f for pair in stored.items() for f in pair]
    return window_rows(flat, answer_at if key == "recent" else failure_at)


async def test_windows_keep_instants_and_scores_exact_and_order_ids_bytewise(
    redis_store: RedisStore, prefix: str
) -> None:
    # Neighbours beyond 2**53 are one double; instants before 1970 are negative.
    # The cut falls between 2**53 and 2**53 + 1: the same high 32-bit half.
    instants = [MIN_US, -1, 0, 2**53, 2**53 + 1, 2**53 + 2, 2**53 + 3, MAX_US - 1, MAX_US]
    await window_matches_fold(redis_store, [answer(f"e{at}", at, 1 / 3) for at in instants])
    assert len(stored_marks(prefix, "recent")) == RECENT_ANSWERS  # cut when stored
    # At one instant: code point order (prefixes first), not a collation's.
    ids = ["Zed", "a b", "ab", "a", "é", "\U0001f600", "ﬀ", "a:b|%"]
    await window_matches_fold(redis_store, [answer(i, 7, 0.1 + 0.2, "s-2") for i in ids])


async def test_purge_keeps_windows_and_an_answer_sent_again_after_it_counts_once(
    redis_store: RedisStore,
) -> None:
    day = 86_400_000_000
    first = [answer(f"e{i}", i, -0.0) for i in range(RECENT_ANSWERS)]
    await redis_store.apply("t", first, NOW - 100 * day)
    assert await redis_store.purge(NOW - 90 * day) == RECENT_ANSWERS
    again = [answer(f"e{i}", i, 0.0) for i in range(RECENT_ANSWERS)]  # -0.0 == 0.0
    assert await redis_store.apply("t", again, NOW) == [True] * RECENT_ANSWERS
    got = await redis_store.read("t", "s-1", NOW)
    assert got is not None  # a repeat taking a place in the window would push e0 out
    assert [a.event_id for a in got.recent["basics"]] == [e.id for e in first]


async def test_failure_windows_keep_instants_and_error_types_exact_and_order_ids_bytewise(
    redis_store: RedisStore, prefix: str
) -> None:
    # 12 instants, 10 kept: the cut falls between -2 and -1, the same high 32-bit half.
    instants = [MIN_US, -2, -1, 0, 5, 2**32 - 1, 2**32, 2**53, 2**53 + 1, MAX_US - 1, MAX_US]
    errors = ["", "Zed", "a b", "a", "é", "\U0001f600", "ﬀ", "a:b|%", "\x00", "x" * 1024]
    marks = [failed(f"e{at}", at, errors[i % 10]) for i, at in enumerate([*instants, 7])]
    await window_matches_fold(redis_store, marks)
    assert len(stored_marks(prefix, "failures")) == RECENT_FAILURES  # cut when stored
    # At one instant: ids in code point order (prefixes first), not a collation's.
    ids = ["Zed", "a b", "ab", "a", "é", "\U0001f600", "ﬀ", "a:b|%", "a\x00", "~", "Z", "b"]
    attempts = [failed(i, 7, e, "s-2") for i, e in zip(ids, [*errors, "y", "z"], strict=True)]
    await window_matches_fold(redis_store, attempts)


@pytest.mark.parametrize(
    ("make", "values"),  # more than K: which are cut depends on the order of the third field
    [
        (lambda v: answer("e", 5, v), [0.5, 0.25, 1.0, 0.5, -0.5, 0.0, 0.75, 0.125]),
        (
            lambda v: failed("e", 5, v),
            ["b", "", "é", "Z", "b", "ﬀ", "\U0001f600", "a", "a b", "ab", "~", "Zed", "a:b"],
        ),
    ],
)
async def test_an_event_whose_body_changed_after_purge_is_ordered_as_in_python(
    redis_store: RedisStore, make: Callable[[Any], Event], values: list[Any]
) -> None:
    day = 86_400_000_000
    for value in values:  # the same event id each time, its record purged in between
        assert await redis_store.apply("t", [make(value)], NOW - 100 * day) == [True]
        assert await redis_store.purge(NOW - 90 * day) == 1
    got = await redis_store.read("t", "s-1", NOW)
    want = fold(contribution(make(v)) for v in values)
    assert got is not None
    assert (dict(got.recent), dict(got.failures)) == (dict(want.recent), dict(want.failures))


@pytest.mark.parametrize(("key", "make"), [("recent", answer), ("failures", failed)])
async def test_a_student_stored_before_windows_were_kept_fills_them_from_new_events(
    redis_store: RedisStore, prefix: str, key: str, make: Callable[[str, int], Event]
) -> None:
    await redis_store.apply("t", [make("before", 1)], NOW)
    with redis.Redis.from_url(REDIS_URL) as client:
        assert client.delete(f"{prefix}{{t:student:s-1}}:{key}") == 1
    older = await redis_store.read("t", "s-1", NOW)
    assert older is not None and getattr(older, key) == {}
    await redis_store.apply("t", [make("after", 2)], NOW)  # a new version: no stale cache
    got = await redis_store.read("t", "s-1", NOW)
    assert got is not None
    assert [m.event_id for m in getattr(got, key)["basics"]] == ["after"]


async def test_snapshot_cache_follows_writes_from_another_client(prefix: str) -> None:
    url = f"{REDIS_URL}?prefix={prefix}"
    reader, writer = await open_store(url), await open_store(url)
    try:
        await writer.apply("t", [quiz("a")], NOW)
        first = await reader.read("t", "s-1", NOW)
        assert first is not None and await reader.read("t", "s-1", NOW) is first  # cached
        await writer.apply("t", [quiz("b")], NOW)
        assert quiz_count(await reader.read("t", "s-1", NOW)) == 2
        # Erased and back with one event: the reader must not serve the old snapshot.
        await writer.delete_student("t", "s-1")
        assert await reader.read("t", "s-1", NOW) is None
        await writer.apply("t", [quiz("c")], NOW)
        assert quiz_count(await reader.read("t", "s-1", NOW)) == 1
    finally:
        await reader.close()
        await writer.close()


async def test_own_options_are_stripped_and_redis_options_passed_on(prefix: str) -> None:
    url = f"{REDIS_URL}?prefix={prefix}&cache_students=0&socket_timeout=3"
    store = await open_store(url)
    try:
        await store.apply("t", [quiz("a")], NOW)
        first = await store.read("t", "s-1", NOW)
        assert first is not None and await store.read("t", "s-1", NOW) is not first  # no cache
        assert names(prefix)
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?prefx=a", r"options \['prefx'\]; allowed with redis://: prefix, cache_students, "),
        ("?ssl_cert_reqs=none", r"options \['ssl_cert_reqs'\]; allowed with redis://"),
        ("?cache_students=lots", "cache_students must be a whole number"),
        ("?prefix=a{b}", "must not contain"),
        ("?socket_timeout=soon", "Invalid value for 'socket_timeout'"),
    ],
)
async def test_bad_url_options_are_refused(query: str, message: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        await open_store(REDIS_URL + query)


@pytest.mark.parametrize(
    ("url", "message"),
    [("redis://127.0.0.1:port/0", "invalid port"), ("redis://127.0.0.1/db1", "must be a number")],
)
async def test_bad_addresses_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        await open_store(url)


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[tuple[int, list["subprocess.Popen[bytes]"]]]:
    port = free_port()
    servers = [start_server(port, tmp_path)]
    try:
        yield port, servers
    finally:
        for server in servers:
            server.kill()
            server.wait()


@pytest.mark.slow
async def test_a_batch_is_one_transaction(
    private_server: tuple[int, list["subprocess.Popen[bytes]"]],
) -> None:
    port, _ = private_server
    store = await open_store(f"redis://127.0.0.1:{port}/0")
    try:
        with redis.Redis(port=port) as client:
            client.config_resetstat()
            batch = [quiz(f"e{i}", student=f"s-{i % 3}") for i in range(9)]
            assert await store.apply("t", batch, NOW) == [True] * 9
            stats = client.info("commandstats")
        assert stats["cmdstat_exec"]["calls"] == 1
        assert stats["cmdstat_evalsha"]["calls"] == 3  # one script per student
    finally:
        await store.close()


@pytest.mark.slow
async def test_a_server_that_goes_away_answers_unavailable_then_recovers(
    private_server: tuple[int, list["subprocess.Popen[bytes]"]], tmp_path: Path
) -> None:
    port, servers = private_server
    store = await open_store(f"redis://127.0.0.1:{port}/0")
    try:
        acked = [quiz(f"a{i}", student=f"s-{i % 2}") for i in range(4)]
        assert await store.apply("t", acked, NOW) == [True] * 4
        servers[0].kill()
        servers[0].wait()
        failed = [quiz(f"b{i}", student=f"s-{i % 2}") for i in range(4)]
        gone = f"Redis store 127.0.0.1:{port}/0 is unavailable: .*{port}"
        with pytest.raises(StoreUnavailable, match=gone):
            await store.apply("t", failed, NOW)
        with pytest.raises(StoreUnavailable, match=gone):
            await store.read("t", "s-1", NOW)
        with pytest.raises(StoreUnavailable, match=gone):
            await store.ping()
        servers.append(start_server(port, tmp_path))  # same port, same append-only file
        assert await store.apply("t", failed, NOW) == [True] * 4  # nothing half-applied
        with redis.Redis(port=port) as client:  # the new server had lost the scripts
            assert client.info("commandstats")["cmdstat_script|load"]["calls"] >= 1
        assert await store.apply("t", acked, NOW) == [False] * 4  # nothing acknowledged lost
        assert quiz_count(await store.read("t", "s-1", NOW)) == 4
        assert await store.students("t") == ["s-0", "s-1"]
    finally:
        await store.close()


@pytest.mark.slow
async def test_a_read_only_replica_refuses_the_whole_batch_then_recovers(
    private_server: tuple[int, list["subprocess.Popen[bytes]"]],
) -> None:
    port, _ = private_server
    store = await open_store(f"redis://127.0.0.1:{port}/0")
    try:
        with redis.Redis(port=port) as client:
            client.replicaof("127.0.0.1", str(free_port()))  # demoted: writes are refused
            with pytest.raises(StoreUnavailable, match="can't write against a read only replica"):
                await store.apply("t", [quiz("a")], NOW)
            assert client.keys("*") == []  # the transaction was aborted as a whole
            client.replicaof("NO", "ONE")
        assert await store.apply("t", [quiz("a")], NOW) == [True]
    finally:
        await store.close()


async def test_an_unreachable_server_is_unavailable_at_open() -> None:
    port = free_port()
    with pytest.raises(StoreUnavailable, match=f"Redis store 127.0.0.1:{port}/0"):
        await open_store(f"redis://127.0.0.1:{port}/0")


async def test_concurrent_reads_that_evict_each_other_from_the_cache(prefix: str) -> None:
    store = await open_store(f"{REDIS_URL}?prefix={prefix}&cache_students=1")
    try:
        students = ("s-1", "s-2", "s-3")
        await store.apply("t", [quiz(f"q{s}", student=s) for s in students], NOW)
        for _ in range(20):  # a cached version confirmed while another read evicts it
            found = await asyncio.gather(*(store.read("t", s, NOW) for s in students * 4))
            assert [quiz_count(f) for f in found] == [1] * 12
    finally:
        await store.close()
