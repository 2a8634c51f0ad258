"""Two consumers of one group share the partitions; when one dies, the other takes them over."""

import time
from pathlib import Path

from tests.kafka_broker import produce
from tests.sources.members import start_member, stored_events
from tests.sources.streams import (
    Topics,
    assert_same_state,
    make_events,
    record,
    reference,
    stored_state,
)

SHARE = "assigned partitions {t}[{a}], {t}[{b}]"


def test_two_members_share_then_one_takes_over_without_loss(topics: Topics, tmp_path: Path) -> None:
    first = make_events(3_000, seed=31, prefix="a")
    second = make_events(3_000, seed=32, prefix="b")
    db = tmp_path / "group.db"
    url = f"sqlite:///{db}"
    env = topics.env(url, MASTERY_KAFKA_BATCH_SIZE="100")
    one = start_member(env, tmp_path / "one.log", idle_s=12.0)
    other = start_member(env, tmp_path / "other.log", idle_s=12.0)
    one.wait_for("assigned partitions")
    other.wait_for("assigned partitions")
    time.sleep(1.0)  # a member joining late triggers a second round; let it settle
    produce(topics.broker.bootstrap, topics.topic, [record(e) for e in first])
    deadline = time.monotonic() + 60
    while stored_events(db) < len(first) and time.monotonic() < deadline:
        time.sleep(0.05)
    shares = {log: member.text() for log, member in (("one", one), ("other", other))}

    one.kill()
    produce(topics.broker.bootstrap, topics.topic, [record(e) for e in second])
    log = other.finish()

    assert all("consumed" in text or "assigned" in text for text in shares.values())
    halves = [SHARE.format(t=topics.topic, a=a, b=b) for a, b in ((0, 1), (2, 3), (0, 2), (1, 3))]
    assert sum(any(h in text for h in halves) for text in shares.values()) == 2, shares
    everything = f"assigned partitions {', '.join(f'{topics.topic}[{p}]' for p in range(4))}"
    assert everything in log.split("revoked partitions")[-1] or everything in log, log[-3000:]
    assert stored_events(db) == len(first) + len(second)
    assert_same_state(stored_state(url), reference(first + second))
