"""A consumer SIGKILLed mid-stream again and again ends exactly where a clean run ends, on
SQLite and on a Redis Cluster."""

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.backends import fresh_store_url, redis_client
from tests.kafka_broker import produce, read_topic
from tests.sources.members import start_member, stored_events
from tests.sources.streams import Topics, assert_same_state, mixed_stream, reference, stored_state


@pytest.fixture(params=["sqlite", "redis-cluster"])
def target(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Callable[[], int]]]:
    """A fresh store's URL, and how many distinct events it holds so far."""
    with fresh_store_url(str(request.param), tmp_path) as url:
        if request.param == "sqlite":
            db = Path(url.removeprefix("sqlite://"))
            yield url, lambda: stored_events(db)
            return
        prefix = parse_qs(urlsplit(url).query)["prefix"][0]
        with redis_client("redis-cluster") as cluster:

            def count() -> int:  # each student's de-duplication set, on every primary
                keys = cluster.scan_iter(match=f"{prefix}*:seen", count=1000)
                return sum(int(cluster.zcard(key)) for key in keys)

            yield url, count


def test_sigkill_at_random_points_then_restart_loses_and_doubles_nothing(
    topics: Topics, tmp_path: Path, target: tuple[str, Callable[[], int]]
) -> None:
    stream = mixed_stream(6_000, duplicates=0.05, poison=0.01, seed=11)
    produce(topics.broker.bootstrap, topics.topic, stream.records)
    url, stored = target
    env = topics.env(url, MASTERY_KAFKA_BATCH_SIZE="50")
    rng = random.Random(4)
    total = len(stream.valid)
    killed_at = []
    for low, high in ((0.05, 0.3), (0.35, 0.6), (0.65, 0.9)):  # a random point in each third
        member = start_member(env, tmp_path / "consumer.log")
        goal = int(total * rng.uniform(low, high))
        deadline = time.monotonic() + 90
        while stored() < goal and time.monotonic() < deadline:
            time.sleep(0.005)
        member.kill()
        killed_at.append(stored())

    start_member(env, tmp_path / "consumer.log").finish()

    assert all(0 < n < total for n in killed_at), f"not killed mid-stream: {killed_at} / {total}"
    assert stored() == total
    assert_same_state(stored_state(url), reference(stream.valid))
    dead = read_topic(topics.broker.bootstrap, topics.dlq, expect=len(stream.poison))
    # A letter sent just before a kill is sent again after the restart: at least once.
    assert {m.value() for m in dead} == set(stream.poison)
