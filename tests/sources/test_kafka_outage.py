"""The store goes away mid-stream: the consumer pauses and retries, sets nothing aside, loses
nothing, and resumes by itself when the store is back."""

import asyncio
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mastery_engine.settings import Settings
from mastery_engine.sources.kafka.stats import ConsumeStats
from mastery_engine.sources.kafka.worker import consume
from tests.kafka_broker import produce, read_topic
from tests.postgres_server import postgres_server
from tests.redis_server import start_server
from tests.serving import free_port
from tests.sources.streams import (
    Topics,
    assert_same_state,
    make_events,
    record,
    reference,
    stored_state,
)

OUTAGE_S = 3.0
FREEZE_S = 5.0  # longer than the store deadline (2 s): every call times out while it lasts


@contextmanager
def consumer_thread(settings: Settings) -> Iterator[list[ConsumeStats]]:
    """A burst-mode consumer in a thread of its own; its stats once it has finished."""
    done: list[ConsumeStats] = []
    worker = threading.Thread(
        target=lambda: done.append(asyncio.run(consume(settings, until_idle_s=6.0))), daemon=True
    )
    worker.start()
    yield done
    worker.join(timeout=180)
    assert done, "the consumer did not finish"


def wait_until_applied(url: str, events: list[dict[str, Any]]) -> None:
    """Until the store holds exactly what a direct ingest of `events` gives."""
    expected, deadline = reference(events), time.monotonic() + 90
    while stored_state(url) != expected:
        assert time.monotonic() < deadline, "the first events were never applied"
        time.sleep(0.3)


def run_with_outage(
    topics: Topics,
    url: str,
    outage: Callable[[Callable[[], None]], None],
    *,
    exact: bool = True,
    **options: Any,
) -> ConsumeStats:
    """First half applied; store gone while the second half arrives; store back."""
    first = make_events(2_000, seed=21, prefix="a")
    second = make_events(2_000, seed=22, prefix="b")
    produce(topics.broker.bootstrap, topics.topic, [record(e) for e in first])
    settings = topics.settings(url, kafka_retry_max_seconds=0.5, **options)
    with consumer_thread(settings) as done:
        wait_until_applied(url, first)
        outage(lambda: produce(topics.broker.bootstrap, topics.topic, map(record, second)))
    stats = done[0]
    assert stats.retries > 0
    assert (stats.accepted + stats.duplicates, stats.dead_letters) == (4_000, 0)
    if exact:  # a frozen store may still apply a batch it was waiting on: then it is a duplicate
        assert stats.accepted == 4_000
    assert_same_state(stored_state(url), reference(first + second))
    assert read_topic(topics.broker.bootstrap, topics.dlq, quiet_s=1.0) == []
    return stats


def test_redis_server_stopped_and_restarted(topics: Topics, tmp_path: Path) -> None:
    port = free_port()
    servers = [start_server(port, tmp_path)]

    def outage(send_second_half: Callable[[], None]) -> None:
        servers[0].terminate()  # refused connections from now on
        servers[0].wait()
        send_second_half()
        time.sleep(OUTAGE_S)
        servers.append(start_server(port, tmp_path))  # same port, same append-only file

    try:
        run_with_outage(topics, f"redis://127.0.0.1:{port}/0?prefix=outage:", outage)
    finally:
        for server in servers:
            server.kill()
            server.wait()


def test_sqlite_write_lock_held_by_another_process(topics: Topics, tmp_path: Path) -> None:
    db = tmp_path / "locked.db"

    def outage(send_second_half: Callable[[], None]) -> None:
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # every other writer now waits, then gives up
        try:
            send_second_half()
            time.sleep(OUTAGE_S)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()

    run_with_outage(topics, f"sqlite:///{db}?busy_timeout_ms=200", outage)


def frozen(
    pause: Callable[[], None], wake: Callable[[], None]
) -> Callable[[Callable[[], None]], None]:
    """An outage in which the store's processes are stopped (SIGSTOP), not gone."""

    def outage(send_second_half: Callable[[], None]) -> None:
        pause()
        try:
            send_second_half()
            time.sleep(FREEZE_S)
        finally:
            wake()

    return outage


def test_redis_server_frozen_and_woken(topics: Topics, tmp_path: Path) -> None:
    port = free_port()
    server = start_server(port, tmp_path)
    stop, wake = (
        (lambda: server.send_signal(signal.SIGSTOP)),
        (lambda: server.send_signal(signal.SIGCONT)),
    )
    try:
        url = f"redis://127.0.0.1:{port}/0?prefix=frozen:"
        stats = run_with_outage(topics, url, frozen(stop, wake), exact=False)
    finally:
        server.kill()
        server.wait()
    assert stats.retries >= 2  # each attempt gave up at the deadline, then backed off


def test_postgres_server_frozen_and_woken(topics: Topics) -> None:
    with postgres_server(free_port()) as server:
        stop = lambda: server.signal_all(signal.SIGSTOP)  # noqa: E731
        wake = lambda: server.signal_all(signal.SIGCONT)  # noqa: E731
        stats = run_with_outage(topics, server.url, frozen(stop, wake), exact=False)
    assert stats.retries >= 2
