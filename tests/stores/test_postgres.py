"""PostgreSQL specifics: migrations, rows, erasure by scan, and a server that goes away."""

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from mastery_engine.core.errors import InvalidConfig, StoreUnavailable
from mastery_engine.stores import Store, open_store
from mastery_engine.stores.base import CONFIG
from mastery_engine.stores.postgres.store import PostgresStore
from tests.backends import POSTGRES_URL, drop_postgres_schema, postgres_rows, unique
from tests.conftest import NOW
from tests.serving import free_port
from tests.stores.test_contract import ev


@pytest.fixture
def schema() -> Iterator[str]:
    """A schema of its own in the test database, dropped afterwards."""
    name = unique("mt")
    yield name
    drop_postgres_schema(name)


@pytest.fixture
async def store(schema: str) -> AsyncIterator[PostgresStore]:
    """A PostgreSQL store on its own schema."""
    opened = await PostgresStore.open(f"{POSTGRES_URL}?schema={schema}")
    yield opened
    await opened.close()


async def test_migrations_are_recorded_and_applied_once(schema: str) -> None:
    url = f"{POSTGRES_URL}?schema={schema}"
    # Replicas starting together: the advisory lock lets one of them migrate.
    stores = await asyncio.gather(*(PostgresStore.open(url) for _ in range(3)))
    try:
        for opened in stores:
            assert await opened.migrations() == [
                "0001_initial.sql",
                "0002_config_and_audit.sql",
                "0003_documents.sql",
                "0004_recent_answers.sql",
                "0005_recent_failures.sql",
            ]
    finally:
        for opened in stores:
            await opened.close()


async def test_rows_follow_the_key_pattern(store: PostgresStore, schema: str) -> None:
    await store.apply("school-a", [ev("a", "2026-03-10T10:00:00Z")], NOW)
    with psycopg.connect(POSTGRES_URL) as db:
        found = db.execute(
            f'SELECT tenant, student_id, date::text, component, skill_id, n FROM "{schema}".scores'
        ).fetchall()
    assert found == [("school-a", "s-1", "2026-03-10", "quiz", "basics", 1)]


async def test_the_configuration_keeps_its_own_table(store: PostgresStore, schema: str) -> None:
    await store.put_document("t", CONFIG, {"half_life_days": 7})
    await store.put_document("t", "classes", {"7a": []})
    with psycopg.connect(POSTGRES_URL) as db:
        config = db.execute(f'SELECT tenant, body FROM "{schema}".tenant_config').fetchall()
        documents = db.execute(f'SELECT name FROM "{schema}".documents').fetchall()
    assert config == [("t", {"half_life_days": 7})]
    assert documents == [("classes",)]


async def test_delete_student_leaves_no_row_of_the_student(
    store: PostgresStore, schema: str
) -> None:
    done = {"type": "exercise.completed", "data": {"exercise_id": "e"}}
    failed = {"exercise_id": "e", "passed": False, "error_type": "syntax"}
    tried = {"type": "exercise.attempted", "data": failed}
    await store.apply(
        "t", [ev("a"), ev("b", student="s-2"), ev("c", **done), ev("d", **tried)], NOW
    )
    before = postgres_rows(schema)
    assert before["recent_answers"] == 2 and before["recent_failures"] == 1
    removed = await store.delete_student("t", "s-1")
    after = postgres_rows(schema)
    assert removed == sum(before.values()) - sum(after.values())
    with psycopg.connect(POSTGRES_URL) as db:
        for table in (
            *("events", "scores", "completions", "activity", "skills", "versions"),
            *("recent_answers", "recent_failures"),
        ):
            left = db.execute(
                f'SELECT count(*) FROM "{schema}".{table} WHERE student_id = %s', ("s-1",)
            ).fetchone()
            assert left == (0,), table
    assert await store.students("t") == ["s-2"]


async def test_a_connection_killed_mid_batch_is_retried_and_counts_once(
    store: PostgresStore, schema: str
) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as blocker:
        blocker.execute("BEGIN")
        blocker.execute(f'LOCK TABLE "{schema}".scores IN EXCLUSIVE MODE')
        applying = asyncio.create_task(store.apply("t", [ev("a"), ev("b")], NOW))
        await asyncio.sleep(0.5)  # the batch has inserted its events and waits for the lock
        killed = blocker.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'mastery-engine' AND wait_event_type = 'Lock'"
        ).fetchall()
        assert killed == [(True,)]
        await asyncio.sleep(0.3)
        blocker.execute("COMMIT")
        assert await applying == [True, True]
    aggregates = await store.read("t", "s-1", NOW)
    assert aggregates is not None
    assert sum(m.n for m in aggregates.scores[("basics", "quiz")].values()) == 2


@pytest.mark.parametrize(
    ("option", "message"),
    [("pool_max=many", "pool_max must be a whole number"), ("schema=a;b", "plain identifier")],
)
async def test_bad_url_options_are_refused(option: str, message: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        await open_store(f"{POSTGRES_URL}?{option}")


async def test_an_unreachable_server_is_a_clear_error() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test?timeout=1"
    with pytest.raises(StoreUnavailable, match="unreachable"):
        await open_store(url)


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    assert found, "PostgreSQL server binaries are not installed (Debian package postgresql)"
    return Path(found[-1])


class PrivateServer:
    """A PostgreSQL server of this test's own, which the test can stop and start."""

    def __init__(self, root: Path) -> None:
        self.data, self.port = root / "data", free_port()
        self.user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        shutil.chown(root, "postgres") if os.geteuid() == 0 else None
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.user, str(_pg_bin() / tool), *args], check=True, capture_output=True)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data}"
        self._run("pg_ctl", "-D", str(self.data), "-w", "-o", options, "-l", "/dev/null", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def private_server() -> Iterator[PrivateServer]:
    """A fresh server in a directory the server's user can reach, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="mastery-pg-"))
    server = PrivateServer(root)
    server.start()
    try:
        yield server
    finally:
        stop = [*server.user, str(_pg_bin() / "pg_ctl"), "-D", str(server.data), "-m", "immediate"]
        subprocess.run([*stop, "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


async def until_reachable(store: Store, seconds: float = 30.0) -> None:
    """Wait for the store's reconnection (the pool backs off between attempts)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            await store.ping()
            return
        except StoreUnavailable:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_a_server_that_goes_away_and_comes_back(private_server: PrivateServer) -> None:
    url = f"postgresql://postgres@127.0.0.1:{private_server.port}/postgres?timeout=1"
    store = await open_store(url)
    try:
        assert await store.apply("t", [ev("a")], NOW) == [True]
        private_server.stop()
        with pytest.raises(StoreUnavailable, match="PostgreSQL store"):
            await store.apply("t", [ev("b"), ev("c")], NOW)
        with pytest.raises(StoreUnavailable):
            await store.read("t", "s-1", NOW)
        with pytest.raises(StoreUnavailable):
            await store.ping()
        private_server.start()
        await until_reachable(store)
        # Nothing of the refused batch was kept; the acknowledged one was.
        assert await store.apply("t", [ev("a"), ev("b"), ev("c")], NOW) == [False, True, True]
        aggregates = await store.read("t", "s-1", NOW)
        assert aggregates is not None
        assert sum(m.n for m in aggregates.scores[("basics", "quiz")].values()) == 3
    finally:
        await store.close()
