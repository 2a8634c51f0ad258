"""Reads without a round trip on Redis: a process answers from a cached snapshot while the
store has announced no newer version; losing the announcements makes reads ask the store
(real servers: standalone and cluster; read-after-write on every backend is in
`test_read_after_write`)."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from mastery_engine.core.events import parse_event
from mastery_engine.stores import Store, open_store
from mastery_engine.stores.redis.announcements import CHANNEL
from mastery_engine.stores.redis.store import RedisStore
from tests.backends import redis_client
from tests.conftest import NOW, event

pytestmark = pytest.mark.parametrize("backend", ["redis", "redis-cluster"])


def quiz(i: int, student: str) -> Any:
    at = f"2026-03-20T{8 + i // 60:02d}:{i % 60:02d}:00Z"
    body = event(f"e{i}", "quiz.graded", at, student=student, quiz_id="q", score=0.5)
    return parse_event(body, NOW)


def quizzes_of(aggregates: Any) -> float:
    return sum(m.n for buckets in aggregates.scores.values() for m in buckets.values())


def round_trips(store: Store) -> Callable[[], int]:
    """Counts the store's pipelines (every call to the server goes through one)."""
    assert isinstance(store, RedisStore)
    sent = [0]
    send = store._pipeline

    async def counted(*stages: Any, atomic: bool) -> list[Any]:
        sent[0] += 1
        return await send(*stages, atomic=atomic)

    store._pipeline = counted  # type: ignore[method-assign]
    return lambda: sent[0]


async def listening(store: Store) -> None:
    """Until the store's announcements listener has subscribed (bounded)."""
    assert isinstance(store, RedisStore)
    for _ in range(100):
        if store._fresh.listening:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the store never subscribed to its announcements")


@asynccontextmanager
async def two_processes(url: str) -> AsyncIterator[tuple[Store, Store]]:
    """A writer and a reader on one store, as two processes would hold it (the reader listens
    to a Redis store's announcements before it is handed over)."""
    writer, reader = await open_store(url), await open_store(url)
    try:
        if isinstance(reader, RedisStore):
            await listening(reader)
        yield writer, reader
    finally:
        await writer.close()
        await reader.close()


async def test_an_unchanged_student_is_read_without_a_round_trip(backend_url: str) -> None:
    store = await open_store(backend_url)
    try:
        await listening(store)
        await store.apply("t", [quiz(1, "s1")], NOW)
        sent = round_trips(store)
        first = await store.read("t", "s1", NOW)
        asked = sent()
        for _ in range(20):
            assert await store.read("t", "s1", NOW) == first
        assert sent() == asked <= 1
        # A scored event later than the read leaves the tail to the store: it is asked.
        await store.read("t", "s1", NOW - 10**12)
        assert sent() == asked + 1
    finally:
        await store.close()


async def test_a_lost_subscription_makes_reads_ask_the_store(
    backend: str, backend_url: str
) -> None:
    async with two_processes(backend_url) as (writer, reader):
        await writer.apply("t", [quiz(1, "s1")], NOW)
        assert quizzes_of(await reader.read("t", "s1", NOW)) == 1
        kill_subscriptions(backend, backend_url)
        await writer.apply("t", [quiz(2, "s1")], NOW)  # its announcement cannot reach them
        assert quizzes_of(await reader.read("t", "s1", NOW)) == 2
        await writer.apply("t", [quiz(3, "s1")], NOW)
        assert quizzes_of(await reader.read("t", "s1", NOW)) == 3
        await listening(reader)  # subscribed again, on its own
        sent = round_trips(reader)
        for _ in range(3):  # at most the first asks the store again
            assert quizzes_of(await reader.read("t", "s1", NOW)) == 3
        assert sent() <= 1


async def test_an_unreadable_announcement_makes_reads_ask_the_store(
    backend: str, backend_url: str
) -> None:
    async with two_processes(backend_url) as (writer, reader):
        await writer.apply("t", [quiz(1, "s1")], NOW)
        for i, garbage in enumerate(("not json", '{"a": 1}', '["t", 5, ["s1"]]')):
            await listening(reader)  # again, after the last one was dropped
            assert quizzes_of(await reader.read("t", "s1", NOW)) == i + 1
            publish(backend, backend_url, garbage)
            await writer.apply("t", [quiz(10 + i, "s1")], NOW)
            assert quizzes_of(await reader.read("t", "s1", NOW)) == i + 2


def publish(backend: str, url: str, message: str) -> None:
    """Send anything on the announcements' channel, as another client could."""
    channel = url.split("prefix=")[1] + CHANNEL
    with redis_client(backend) as client:
        if backend == "redis":
            client.publish(channel, message)
        else:
            client.execute_command("SPUBLISH", channel, message)


def kill_subscriptions(backend: str, url: str) -> None:
    """Drop every subscriber's connection on the server that holds the announcements."""
    prefix = url.split("prefix=")[1]
    with redis_client(backend) as client:
        if backend == "redis":
            client.client_kill_filter(_type="pubsub")
            return
        node = client.get_node_from_key(f"{prefix}{CHANNEL}")
        client.execute_command("CLIENT KILL", "TYPE", "pubsub", target_nodes=node)
