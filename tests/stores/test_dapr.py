"""Dapr specifics: the emulated sidecar's own contract, key names, erasure, TTL, racing
writers, a sidecar that goes away, and the component manifests.

Everything here runs against tests/dapr_sidecar.py, an emulation of the documented state API:
no real sidecar can run where these tests run.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import yaml

from mastery_engine.core.errors import InvalidConfig, StoreUnavailable
from mastery_engine.core.events import parse_event
from mastery_engine.core.recent import RECENT_FAILURES
from mastery_engine.settings import Settings
from mastery_engine.stores import open_store
from mastery_engine.stores.base import Sidecar
from mastery_engine.stores.dapr.store import DaprStore
from mastery_engine.stores.dapr.tenant import ATTEMPTS
from mastery_engine.wiring import open_configured_store
from tests.conftest import NOW, event
from tests.dapr_sidecar import DaprSidecar, Dropped, running_sidecar
from tests.stores.test_contract import ev

STATE = "/v1.0/state/statestore"
PREFIX = "p:"
# A failed attempt that names an error type: it lands in the `failures` window.
FAILED = {
    "type": "exercise.attempted",
    "data": {"exercise_id": "e", "passed": False, "error_type": "syntax"},
}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The emulator's clock."""
    return Clock()


@pytest.fixture
def sidecar(clock: Clock) -> Iterator[DaprSidecar]:
    """An emulated sidecar of this test's own."""
    with running_sidecar(clock=clock) as running:
        yield running


@pytest.fixture
def http(sidecar: DaprSidecar) -> Iterator[httpx.Client]:
    """A plain HTTP client of the sidecar."""
    with httpx.Client(base_url=sidecar.url) as client:
        yield client


def url_of(sidecar: DaprSidecar, **options: str) -> str:
    """The store URL of the sidecar under the test prefix."""
    query = "&".join(
        f"{k}={v}" for k, v in {"port": sidecar.port, "prefix": PREFIX, **options}.items()
    )
    return f"dapr://statestore?{query}"


@pytest.fixture
async def store(sidecar: DaprSidecar) -> AsyncIterator[DaprStore]:
    """A Dapr store on the emulated sidecar."""
    opened = await DaprStore.open(url_of(sidecar), 90)
    yield opened
    await opened.close()


def save(http: httpx.Client, *items: dict[str, Any], query: str = "") -> httpx.Response:
    """POST /v1.0/state/{store}."""
    return http.post(f"{STATE}{query}", json=list(items))


# --- The emulator's contract, in the documented request and response shapes ---------------


def test_save_then_get_answers_the_value_and_its_etag(http: httpx.Client) -> None:
    assert save(http, {"key": "planet", "value": {"name": "Tatooine"}}).status_code == 204
    got = http.get(f"{STATE}/planet")
    assert (got.status_code, got.json(), got.headers["etag"]) == (200, {"name": "Tatooine"}, "1")
    missing = http.get(f"{STATE}/nothing")
    assert (missing.status_code, missing.content) == (204, b"")


def test_etags_decide_who_writes(http: httpx.Client) -> None:
    save(http, {"key": "k", "value": 1})
    save(http, {"key": "k", "value": 2, "etag": "1"})
    stale = save(http, {"key": "k", "value": 3, "etag": "1"})
    assert stale.status_code == 409 and stale.json()["errorCode"] == "ERR_STATE_SAVE"
    first_write = {"concurrency": "first-write", "consistency": "strong"}
    # first-write without an ETag only creates a missing key.
    assert save(http, {"key": "k", "value": 4, "options": first_write}).status_code == 409
    assert save(http, {"key": "new", "value": 4, "options": first_write}).status_code == 204
    # An ETag never matches a missing key; a malformed one is refused.
    assert save(http, {"key": "other", "value": 5, "etag": "1"}).status_code == 409
    assert save(http, {"key": "k", "value": 5, "etag": "abc"}).status_code == 400
    assert save(http, {"key": "k", "value": 6}).status_code == 204  # last write wins
    assert http.get(f"{STATE}/k").json() == 6


def test_bulk_get_lists_every_key_and_leaves_data_out_for_missing_ones(http: httpx.Client) -> None:
    save(http, {"key": "key1", "value": "value1"})
    got = http.post(f"{STATE}/bulk", json={"keys": ["key1", "key2"], "parallelism": 10})
    assert got.status_code == 200
    assert got.json() == [{"key": "key1", "data": "value1", "etag": "1"}, {"key": "key2"}]


def test_delete_honours_if_match_and_etags_restart(http: httpx.Client) -> None:
    save(http, {"key": "k", "value": 1})
    wrong = http.delete(f"{STATE}/k", headers={"If-Match": "7"})
    assert wrong.status_code == 409 and wrong.json()["errorCode"] == "ERR_STATE_DELETE"
    assert http.delete(f"{STATE}/k", headers={"If-Match": "1"}).status_code == 204
    assert http.get(f"{STATE}/k").status_code == 204
    save(http, {"key": "k", "value": 2})
    assert http.get(f"{STATE}/k").headers["etag"] == "1"  # as the Redis component does


def test_a_transaction_applies_all_of_its_operations_or_none(http: httpx.Client) -> None:
    save(http, {"key": "a", "value": 1}, {"key": "b", "value": 1})
    ops = [
        {"operation": "upsert", "request": {"key": "a", "value": 2, "etag": "1"}},
        {"operation": "delete", "request": {"key": "b", "etag": "9"}},
    ]
    failed = http.post(f"{STATE}/transaction", json={"operations": ops})
    assert failed.status_code == 500 and failed.json()["errorCode"] == "ERR_STATE_TRANSACTION"
    assert http.get(f"{STATE}/a").json() == 1  # the first operation was rolled back
    ops[1]["request"]["etag"] = "1"
    assert http.post(f"{STATE}/transaction", json={"operations": ops}).status_code == 204
    assert (http.get(f"{STATE}/a").json(), http.get(f"{STATE}/b").status_code) == (2, 204)
    unknown = [{"operation": "merge", "request": {"key": "a", "value": 3}}]
    assert http.post(f"{STATE}/transaction", json={"operations": unknown}).status_code == 400


def test_ttl_in_seconds_expires_keys(http: httpx.Client, clock: Clock) -> None:
    save(http, {"key": "short", "value": 1, "metadata": {"ttlInSeconds": "10"}})
    save(http, {"key": "never", "value": 1, "metadata": {"ttlInSeconds": "-1"}})
    save(http, {"key": "by-url", "value": 1}, query="?metadata.ttlInSeconds=10")
    assert http.get(f"{STATE}/short").status_code == 200
    clock.now += 11
    assert [http.get(f"{STATE}/{k}").status_code for k in ("short", "never", "by-url")] == [
        204,
        200,
        204,
    ]
    bad = save(http, {"key": "bad", "value": 1, "metadata": {"ttlInSeconds": "soon"}})
    assert bad.status_code == 500


def test_reserved_keys_unknown_stores_token_and_health(http: httpx.Client) -> None:
    assert save(http, {"key": "a||b", "value": 1}).status_code == 400
    missing = http.get("/v1.0/state/nostore/k")
    assert missing.status_code == 400 and missing.json()["errorCode"] == "ERR_STATE_STORE_NOT_FOUND"
    assert http.get("/v1.0/healthz").status_code == 204
    with running_sidecar(token="s3cret") as guarded, httpx.Client(base_url=guarded.url) as other:
        assert other.get("/v1.0/healthz").status_code == 204  # health checks need no token
        assert other.get(f"{STATE}/k").status_code == 401
        assert other.get(f"{STATE}/k", headers={"dapr-api-token": "s3cret"}).status_code == 204


# --- The store on the sidecar --------------------------------------------------------------


async def test_keys_follow_the_pattern_and_ids_are_escaped(
    store: DaprStore, sidecar: DaprSidecar
) -> None:
    answer, failed = ev("a", "2026-03-10T10:00:00Z"), ev("f", "2026-03-10T10:05:00Z", **FAILED)
    await store.apply("school-a", [answer, failed], NOW)
    student = "p:school-a:student:s-1"
    assert sidecar.keys(PREFIX) == sorted(
        [
            "p:tenants",
            "p:school-a:students",
            "p:school-a:event:a",
            "p:school-a:event:f",
            f"{student}:activity",
            f"{student}:skills",
            f"{student}:recent",
            f"{student}:failures",
            f"{student}:events:2026-03-10",
            f"{student}:mastery:2026-03-10:quiz",
        ]
    )
    bucket = sidecar.entry(f"{student}:mastery:2026-03-10:quiz")
    assert bucket is not None and bucket.value["basics"][0] == 1  # n
    recent = sidecar.entry(f"{student}:recent")
    assert recent is not None and recent.value == {"basics": [[answer.occurred_at, "a", 0.5]]}
    failures = sidecar.entry(f"{student}:failures")
    assert failures is not None
    assert failures.value == {"basics": [[failed.occurred_at, "f", "syntax"]]}
    await store.apply("a:b", [ev("x%y:z", student="s:1%")], NOW)
    assert "p:a%3Ab:student:s%3A1%25:activity" in sidecar.keys(PREFIX)
    assert "p:a%3Ab:event:x%25y%3Az" in sidecar.keys(PREFIX)
    assert await store.students("a:b") == ["s:1%"]
    assert await store.read("a:b", "s:1%", NOW) is not None


async def test_delete_student_leaves_no_key_of_the_student(
    store: DaprStore, sidecar: DaprSidecar
) -> None:
    done = {"type": "exercise.completed", "data": {"exercise_id": "e"}}
    batch = [ev("a"), ev("b", student="s-2"), ev("c", **done), ev("d", **FAILED)]
    await store.apply("t", batch, NOW)
    assert sidecar.entry("p:t:student:s-1:failures") is not None
    before = set(sidecar.keys(PREFIX))
    removed = await store.delete_student("t", "s-1")
    after = set(sidecar.keys(PREFIX))
    assert removed == len(before - after) and after <= before
    assert not [k for k in after if ":student:s-1:" in k]
    raw = [sidecar.entry(k) for k in after if ":event:" in k]
    assert [entry.value["student"] for entry in raw if entry is not None] == ["s-2"]
    assert await store.students("t") == ["s-2"]
    assert await store.delete_student("t", "s-1") == 0


async def test_windows_come_in_the_bulk_read_of_the_other_documents(
    store: DaprStore, sidecar: DaprSidecar
) -> None:
    batch = [ev("a"), ev("b", "2026-03-11T10:00:00Z"), ev("f", "2026-03-11T11:00:00Z", **FAILED)]
    await store.apply("t", batch, NOW)
    requests: list[tuple[str, str]] = []
    sidecar.on_request = lambda method, path: requests.append((method, path))
    got = await store.read("t", "s-1", NOW, cache=False)
    assert got is not None and [a.event_id for a in got.recent["basics"]] == ["a", "b"]
    assert [f.event_id for f in got.failures["basics"]] == ["f"]
    # The activity document, then one bulk read of the others (windows included).
    assert [(m, unquote(path.split("?")[0].rsplit("/", 1)[-1])) for m, path in requests] == [
        ("GET", "p:t:student:s-1:activity"),
        ("POST", "bulk"),
    ]


async def test_students_stored_before_windows_existed_start_with_empty_ones(
    store: DaprStore, sidecar: DaprSidecar
) -> None:
    await store.apply("t", [ev("a"), ev("f", **FAILED)], NOW)
    # The data of a student written before the window documents were kept.
    for window in ("recent", "failures"):
        sidecar.drop_prefix(f"p:t:student:s-1:{window}")
        assert sidecar.entry(f"p:t:student:s-1:{window}") is None
    before = await store.read("t", "s-1", NOW, cache=False)
    assert before is not None and (dict(before.recent), dict(before.failures)) == ({}, {})
    assert sum(m.n for m in before.scores[("basics", "quiz")].values()) == 1
    later = [ev("b", "2026-03-10T11:00:00Z"), ev("g", "2026-03-10T11:00:00Z", **FAILED)]
    await store.apply("t", later, NOW)
    after = await store.read("t", "s-1", NOW)
    assert after is not None and [a.event_id for a in after.recent["basics"]] == ["b"]
    assert [f.event_id for f in after.failures["basics"]] == ["g"]


async def test_raw_event_records_carry_the_retention_ttl(
    store: DaprStore, sidecar: DaprSidecar
) -> None:
    await store.apply("t", [ev("a")], NOW)
    ttls = {key: entry.ttl for key in sidecar.keys(PREFIX) if (entry := sidecar.entry(key))}
    assert ttls.pop("p:t:event:a") == 91 * 86_400  # 90 days of retention and a day of margin
    assert set(ttls.values()) == {None}  # aggregates never expire


async def test_an_expired_raw_record_lets_the_id_count_again(
    store: DaprStore, clock: Clock
) -> None:
    await store.apply("t", [ev("a")], NOW)
    clock.now += 92 * 86_400
    assert await store.apply("t", [ev("a")], NOW) == [True]  # as after `purge`


async def test_an_id_is_unique_per_tenant_not_per_student(store: DaprStore) -> None:
    await store.apply("t", [ev("a", student="s-1")], NOW)
    assert await store.apply("t", [ev("a", student="s-2")], NOW) == [False]
    assert await store.students("t") == ["s-1"]


async def test_purge_removes_raw_records_and_index_entries(
    store: DaprStore, sidecar: DaprSidecar
) -> None:
    day = 86_400_000_000
    old = [ev("old", "2026-03-01T10:00:00Z"), ev("old-f", "2026-03-01T10:00:00Z", **FAILED)]
    await store.apply("t", old, NOW - 100 * day)
    await store.apply("t", [ev("new", "2026-03-01T11:00:00Z")], NOW)
    assert await store.purge(NOW - 90 * day) == 2
    assert {"p:t:event:old", "p:t:event:old-f"}.isdisjoint(sidecar.keys(PREFIX))
    index = sidecar.entry("p:t:student:s-1:events:2026-03-01")
    assert index is not None and list(index.value) == ["new"]
    # Windows are aggregates, not raw events: purging leaves them whole.
    got = await store.read("t", "s-1", NOW)
    assert got is not None and [a.event_id for a in got.recent["basics"]] == ["old", "new"]
    assert [f.event_id for f in got.failures["basics"]] == ["old-f"]


async def test_a_reader_s_cache_follows_another_writer(sidecar: DaprSidecar) -> None:
    reader, writer = [await DaprStore.open(url_of(sidecar), 90) for _ in range(2)]
    try:
        await writer.apply("t", [ev("a")], NOW)
        first = await reader.read("t", "s-1", NOW)
        assert first is not None and await reader.read("t", "s-1", NOW) is first  # cached
        await writer.apply("t", [ev("b")], NOW)
        second = await reader.read("t", "s-1", NOW)
        assert (
            second is not None and sum(m.n for m in second.scores[("basics", "quiz")].values()) == 2
        )
        # Erased and back with one event: ETags restart, the snapshot must not come back.
        await writer.delete_student("t", "s-1")
        await writer.apply("t", [ev("c")], NOW)
        third = await reader.read("t", "s-1", NOW)
        assert (
            third is not None and sum(m.n for m in third.scores[("basics", "quiz")].values()) == 1
        )
    finally:
        await reader.close()
        await writer.close()


def racing_event(i: int) -> dict[str, Any]:
    """Quiz answers and failed attempts in turn, so both windows fill past their length."""
    at, student = f"2026-03-{1 + i % 9:02d}T10:{i % 60:02d}:00Z", f"s-{i % 3}"
    if i % 2:
        data = {"exercise_id": "e", "passed": False, "error_type": f"k{i % 4}"}
        return event(f"e{i}", "exercise.attempted", at, student=student, **data)
    return event(f"e{i}", "quiz.graded", at, student=student, quiz_id="q", score=(i % 10) / 10)


async def test_two_concurrent_appliers_race_and_both_end_correct(
    sidecar: DaprSidecar,
) -> None:
    one, two = [await DaprStore.open(url_of(sidecar), 90) for _ in range(2)]
    reference = await open_store("memory://")
    bodies = [racing_event(i) for i in range(120)]
    events = [parse_event(b, NOW) for b in bodies]
    try:
        fresh = 0
        for start in range(0, 120, 20):
            # Overlapping batches on the same students, sent at the same time.
            a, b = events[start : start + 15], events[start + 5 : start + 20]
            flags = await asyncio.gather(one.apply("t", a, NOW), two.apply("t", b, NOW))
            fresh += sum(flags[0]) + sum(flags[1])
        assert fresh == 120  # every event counted once, whichever writer won
        assert sidecar.conflicts > 0  # the race really happened
        await reference.apply("t", events, NOW)
        for student in ("s-0", "s-1", "s-2"):
            got, want = await one.read("t", student, NOW), await reference.read("t", student, NOW)
            assert got is not None and want is not None
            for key, days in want.scores.items():
                assert {d: m.n for d, m in got.scores[key].items()} == {
                    d: m.n for d, m in days.items()
                }
                for d, m in days.items():
                    assert got.scores[key][d].s == pytest.approx(m.s, rel=1e-12, abs=1e-15)
            assert got.active == want.active
            assert dict(got.recent) == dict(want.recent)
            assert dict(got.failures) == dict(want.failures)
            assert len(got.failures["basics"]) == RECENT_FAILURES
    finally:
        await one.close()
        await two.close()


async def test_endless_conflicts_end_in_store_unavailable(
    store: DaprStore, sidecar: DaprSidecar
) -> None:
    await store.apply("t", [ev("a")], NOW)

    def another_writer(method: str, path: str) -> None:
        if path.endswith("/transaction"):  # someone always writes first
            entry = sidecar.entry("p:t:student:s-1:activity")
            assert entry is not None
            entry.version += 1

    sidecar.on_request = another_writer
    with pytest.raises(StoreUnavailable, match=f"refused {ATTEMPTS} times in a row"):
        await store.apply("t", [ev("b")], NOW)


async def test_a_sidecar_that_goes_away_mid_run(store: DaprStore, sidecar: DaprSidecar) -> None:
    await store.apply("t", [ev("a"), ev("b")], NOW)

    def die_during_the_transaction(method: str, path: str) -> None:
        if path.endswith("/transaction"):
            raise Dropped

    sidecar.on_request = die_during_the_transaction
    batch = [ev("c"), ev("d", student="s-2")]
    with pytest.raises(StoreUnavailable, match="unreachable or dropped the request"):
        await store.apply("t", batch, NOW)
    port = sidecar.port
    sidecar.stop()
    sidecar.on_request = None
    with pytest.raises(StoreUnavailable, match=f"sidecar at http://127.0.0.1:{port} is unreach"):
        await store.ping()
    with pytest.raises(StoreUnavailable):
        await store.read("t", "s-1", NOW)
    sidecar.start(port)
    # The same store object works again, and nothing of the failed batch was applied.
    await store.ping()
    assert await store.students("t") == ["s-1"]
    assert await store.apply("t", batch, NOW) == [True, True]
    aggregates = await store.read("t", "s-1", NOW)
    assert aggregates is not None
    assert sum(m.n for m in aggregates.scores[("basics", "quiz")].values()) == 3


async def test_errors_and_timeouts_become_store_unavailable(sidecar: DaprSidecar) -> None:
    wrong = await DaprStore.open(f"dapr://nostore?port={sidecar.port}", 90)
    try:
        with pytest.raises(StoreUnavailable, match=r"400 .*ERR_STATE_STORE_NOT_FOUND"):
            await wrong.read("t", "s-1", NOW)
    finally:
        await wrong.close()
    slow = await DaprStore.open(url_of(sidecar, timeout_ms="100"), 90)
    sidecar.on_request = lambda method, path: time.sleep(0.5)
    try:
        with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.1 s"):
            await slow.students("t")
    finally:
        sidecar.on_request = None
        await slow.close()


async def test_the_api_token_is_sent_when_set() -> None:
    with running_sidecar(token="s3cret") as guarded:
        url = f"dapr://statestore?port={guarded.port}"
        refused = await DaprStore.open(url, 90)
        with pytest.raises(StoreUnavailable, match="401"):
            await refused.students("t")
        await refused.close()
        accepted = await DaprStore.open(url, 90, sidecar=Sidecar(token="s3cret"))
        assert await accepted.students("t") == []
        await accepted.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("dapr://", "names no state store"),
        ("dapr://statestore?db=1", "unknown Dapr URL options"),
        ("dapr://statestore?port=http", "port must be a positive whole number"),
        ("dapr://statestore?timeout_ms=0", "timeout_ms must be a positive whole number"),
        ("dapr://statestore?prefix=a||b", "may not contain"),
    ],
)
async def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        await open_store(url)


async def test_the_port_defaults_to_dapr_http_port(sidecar: DaprSidecar) -> None:
    # The sidecar's own variables, without the MASTERY_ prefix, reach the store via wiring.
    settings = Settings(
        store_url="dapr://statestore", DAPR_HTTP_PORT=str(sidecar.port), DAPR_API_TOKEN="t"
    )
    assert settings.dapr_api_token is not None
    assert settings.dapr_api_token.get_secret_value() == "t"
    store = await open_configured_store(settings)
    try:
        await store.ping()
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("name", "kind", "secret"),
    [
        ("redis", "state.redis", "redisPassword"),
        ("postgresql", "state.postgresql", "connectionString"),
    ],
)
def test_component_manifests_reference_their_secrets(name: str, kind: str, secret: str) -> None:
    path = Path(__file__).parents[2] / "deploy" / "dapr" / f"statestore-{name}.yaml"
    component = yaml.safe_load(path.read_text())
    assert (component["kind"], component["spec"]["type"], component["spec"]["version"]) == (
        "Component",
        kind,
        "v1",
    )
    fields = {m["name"]: m for m in component["spec"]["metadata"]}
    assert set(fields[secret]) == {"name", "secretKeyRef"}  # never an inline value
    assert fields["actorStateStore"]["value"] == "false"
    assert component["metadata"]["name"] == "mastery-state"
