"""A consumer SIGKILLed mid-stream again and again ends exactly where a clean run ends."""

import random
import time
from pathlib import Path

from tests.kafka_broker import produce, read_topic
from tests.sources.members import start_member, stored_events
from tests.sources.streams import Topics, assert_same_state, mixed_stream, reference, stored_state


def test_sigkill_at_random_points_then_restart_loses_and_doubles_nothing(
    topics: Topics, tmp_path: Path
) -> None:
    stream = mixed_stream(6_000, duplicates=0.05, poison=0.01, seed=11)
    produce(topics.broker.bootstrap, topics.topic, stream.records)
    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    env = topics.env(url, MASTERY_KAFKA_BATCH_SIZE="50")
    rng = random.Random(4)
    total = len(stream.valid)
    killed_at = []
    for low, high in ((0.05, 0.3), (0.35, 0.6), (0.65, 0.9)):  # a random point in each third
        member = start_member(env, tmp_path / "consumer.log")
        target = int(total * rng.uniform(low, high))
        deadline = time.monotonic() + 90
        while stored_events(db) < target and time.monotonic() < deadline:
            time.sleep(0.005)
        member.kill()
        killed_at.append(stored_events(db))

    start_member(env, tmp_path / "consumer.log").finish()

    assert all(0 < n < total for n in killed_at), f"not killed mid-stream: {killed_at} / {total}"
    assert stored_events(db) == total
    assert_same_state(stored_state(url), reference(stream.valid))
    dead = read_topic(topics.broker.bootstrap, topics.dlq, expect=len(stream.poison))
    # A letter sent just before a kill is sent again after the restart: at least once.
    assert {m.value() for m in dead} == set(stream.poison)
