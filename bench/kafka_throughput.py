"""Kafka to store: events/s of one consumer process per backend, against the raw consume rate.

Starts a Kafka-protocol broker (tansu, in memory) on a free port, produces the synthetic data
set once (keyed by student, tenant in a header) to a topic of 4 partitions, then:

1. the raw rate: a plain confluent-kafka consumer in a fresh group reads every message and
   does nothing with it;
2. for each store, `consume` (the service's consumer: decode, validate, apply de-duplicated
   batches, publish mastery.changed events, commit) reads the same topic in a fresh group
   into a fresh store, and every event must be accepted.

Rates count from the first batch received to the last batch committed (group joining and the
idle wait at the end are left out); the ratio is end-to-end rate / raw rate.
"""

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer

import dataset
import report
from store_bench import cleanup, url_for

sys.path.insert(0, str(report.ROOT))  # the broker helper shared with the tests
from tests.kafka_broker import Broker, produce, start_broker

from mastery_engine.settings import Settings
from mastery_engine.sources.kafka.worker import consume

TENANT = "bench"
TARGETS = {"redis": 20_000.0}
CONSUMER_TIMING = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def parse_args() -> argparse.Namespace:
    """Command-line options; the defaults are the documented benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["sqlite", "redis", "postgresql"])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--batch", type=int, default=1000, help="messages per poll")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=5)
    return parser.parse_args()


def produce_dataset(broker: Broker, topic: str, args: argparse.Namespace) -> int:
    """Send the data set to `topic`; how many messages."""
    records = (
        (e["student_id"].encode(), json.dumps(e).encode(), [("tenant", TENANT.encode())])
        for e in dataset.stream(args.students, args.days, args.seed)
    )
    return produce(broker.bootstrap, topic, records)


def raw_rate(broker: Broker, topic: str, expected: int, batch: int) -> dict[str, Any]:
    """Read every message with a bare consumer in a fresh group; messages/s."""
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"raw-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **CONSUMER_TIMING,
        }
    )
    consumer.subscribe([topic])
    seen, first, last = 0, None, time.monotonic()
    deadline = time.monotonic() + 300
    try:
        while seen < expected and time.monotonic() < deadline:
            messages = [m for m in consumer.consume(batch, 0.2) if m.error() is None]
            if messages:
                first = first or time.monotonic()
                seen += len(messages)
                last = time.monotonic()
    finally:
        consumer.close()
    if seen != expected or first is None:
        raise SystemExit(f"raw consumer read {seen} of {expected} messages")
    return {"messages": seen, "seconds": last - first, "events_per_s": seen / (last - first)}


def settings_for(broker: Broker, topic: str, url: str, batch: int, announce: bool) -> Settings:
    """A consumer of `topic` in a fresh group, writing into `url`."""
    return Settings(
        store_url=url,
        kafka_bootstrap=broker.bootstrap,
        kafka_topic=topic,
        kafka_group=f"bench-{uuid.uuid4().hex[:8]}",
        kafka_dlq_topic=f"{topic}.dlq",
        kafka_out_topic=f"{topic}.out" if announce else "",
        kafka_batch_size=batch,
        kafka_session_timeout_ms=CONSUMER_TIMING["session.timeout.ms"],
        kafka_heartbeat_interval_ms=CONSUMER_TIMING["heartbeat.interval.ms"],
    )


def end_to_end(
    broker: Broker, topic: str, backend: str, *, announce: bool, expected: int, args: Any, tmp: Path
) -> dict[str, Any]:
    """One consumer process-worth of `consume` from the topic into a fresh store."""
    url, scope = url_for(backend, tmp, cache=2000)
    try:
        settings = settings_for(broker, topic, url, args.batch, announce)
        stats = asyncio.run(consume(settings, until_idle_s=2.0))
    finally:
        cleanup(backend, scope)
    if (stats.messages, stats.accepted) != (expected, expected):
        raise SystemExit(f"{backend}: {stats.accepted} of {expected} accepted ({stats})")
    assert stats.first_batch_at is not None and stats.last_batch_at is not None
    seconds = stats.last_batch_at - stats.first_batch_at
    return {
        "backend": backend,
        "announce": announce,
        "messages": stats.messages,
        "batches": stats.batches,
        "changes_published": stats.changes,
        "seconds": seconds,
        "events_per_s": stats.messages / seconds,
    }


def main() -> None:
    """Produce once, measure the raw rate and each backend, print and save the figures."""
    args = parse_args()
    source = report.source_state()
    with tempfile.TemporaryDirectory(prefix="mastery-kafka-bench-") as tmp:
        broker = start_broker(Path(tmp))
        try:
            topic = f"bench-{uuid.uuid4().hex[:8]}"
            broker.create_topics(topic, f"{topic}.dlq", f"{topic}.out", partitions=args.partitions)
            expected = produce_dataset(broker, topic, args)
            print(f"produced {expected:,} events to {topic} ({args.partitions} partitions)")
            raw = raw_rate(broker, topic, expected, args.batch)
            rows = []
            for backend, announce in itertools.product(args.backend, (True, False)):
                print(f"{backend}: consuming (announcing changes: {announce}) ...", flush=True)
                row = end_to_end(
                    broker,
                    topic,
                    backend,
                    announce=announce,
                    expected=expected,
                    args=args,
                    tmp=Path(tmp),
                )
                row["ratio"] = row["events_per_s"] / raw["events_per_s"]
                target = TARGETS.get(backend)
                row["status"] = (
                    "-"
                    if target is None
                    else ("MET" if row["events_per_s"] >= target else "MISSED")
                )
                rows.append(row)
        finally:
            broker.stop()
    report.print_table(
        f"Topic to store, one consumer ({expected:,} events, batches of {args.batch})",
        ["path", "events/s", "seconds", "ratio to raw", "mastery.changed", "status"],
        [["raw consume (no processing)", raw["events_per_s"], raw["seconds"], 1.0, "-", "-"]]
        + [
            [f"consume -> {r['backend']}" + ("" if r["announce"] else ", no mastery.changed"),
             r["events_per_s"], r["seconds"], r["ratio"],
             r["changes_published"], r["status"]]
            for r in rows
        ],
    )  # fmt: skip
    report.write_result(
        "kafka_throughput",
        {"settings": vars(args), "source_at_start": source, "raw": raw, "backends": rows},
    )


if __name__ == "__main__":
    main()
