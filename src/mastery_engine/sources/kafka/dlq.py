"""Dead letters: the headers that say why and where from, and their replay into the source topic.

A dead letter keeps the original key, value and headers (such as `tenant`), and adds the
`dlq.*` headers of `contracts.DeadLetterHeaders`. Replay sends key, value and original headers
back to `dlq.source.topic`, then commits its own group's offsets on the DLQ. Letters that
arrive after the replay began (a message that fails again) are left for the next replay.
"""

import logging
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from mastery_engine.formats.decode import Decoded
from mastery_engine.sources.kafka.offsets import Partition, next_offsets, partition_of

log = logging.getLogger(__name__)
PREFIX = "dlq."
SOURCE_TOPIC = "dlq.source.topic"
JOIN_WAIT_S = 30.0
Headers = list[tuple[str, str | bytes | None]]


def _text(value: str) -> bytes:
    return value.encode("utf-8", "backslashreplace")


def headers_of(message: Message) -> list[tuple[str, bytes]]:
    """A message's headers as (name, bytes) pairs, in order."""
    raw = message.headers() or []
    pairs = list(raw.items()) if isinstance(raw, dict) else raw
    return [(k, _text(v) if isinstance(v, str) else v) for k, v in pairs if v is not None]


def original_headers(message: Message) -> Headers:
    """The headers a dead letter had before it failed."""
    return [(k, v) for k, v in headers_of(message) if not k.startswith(PREFIX)]


def dead_letter_headers(message: Message, rejected: Decoded, failed_at: str) -> Headers:
    """The original headers plus why the message failed, where it came from, and when."""
    kept = original_headers(message)
    ours = {
        "dlq.reason": rejected.reason,
        "dlq.error": rejected.error,
        "dlq.field": rejected.field,
        "dlq.event_id": rejected.event_id,
        SOURCE_TOPIC: message.topic(),
        "dlq.source.partition": str(message.partition()),
        "dlq.source.offset": str(message.offset()),
        "dlq.failed_at": failed_at,
    }
    return kept + [(name, _text(value)) for name, value in ours.items() if value is not None]


def header(message: Message, name: str) -> str | None:
    """A header's value as text (the last one, if repeated)."""
    found = [v for k, v in headers_of(message) if k == name]
    return found[-1].decode("utf-8", "replace") if found else None


@dataclass
class ReplayStats:
    """What a replay did."""

    replayed: int = 0
    left_for_later: int = 0


class Replayer:
    """Moves dead letters back to their source topic; commits each batch once it is delivered."""

    def __init__(self, consumer: Consumer, producer: Producer, default_topic: str) -> None:
        self.consumer = consumer
        self.producer = producer
        self.default_topic = default_topic
        self.started_ms = time.time() * 1000
        self.stats = ReplayStats()
        self._later: set[Partition] = set()
        self._failures: list[str] = []
        self._assigned_at: float | None = None

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(error.str())

    def _due(self, message: Message) -> bool:
        if message.error() is not None:
            return False
        where = partition_of(message)
        if where in self._later:
            return False
        if message.timestamp()[1] >= self.started_ms:
            self._later.add(where)  # failed again during this replay: not in this pass
            self.stats.left_for_later += 1
            return False
        return True

    def _send(self, letters: list[Message]) -> None:
        for letter in letters:
            self.producer.produce(
                header(letter, SOURCE_TOPIC) or self.default_topic,
                value=letter.value(),
                key=letter.key(),
                headers=original_headers(letter),
                on_delivery=self._delivered,
            )
        if self.producer.flush(60.0) or self._failures:
            raise RuntimeError(f"replay not acknowledged by the broker: {self._failures[:3]}")
        offsets = next_offsets(letters)
        commit = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        self.consumer.commit(offsets=commit, asynchronous=False)
        self.stats.replayed += len(letters)

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned_at = time.monotonic()

    def run(self, dlq_topic: str, until_idle_s: float, limit: int | None = None) -> ReplayStats:
        """Replay until nothing arrived for `until_idle_s` seconds, or `limit` letters."""
        self.consumer.subscribe([dlq_topic], on_assign=self._assigned)
        started = last_seen = time.monotonic()
        while limit is None or self.stats.replayed < limit:
            messages = self.consumer.consume(500, 0.5)
            now = time.monotonic()
            if messages:
                last_seen = now
            elif self._assigned_at is None:  # still joining: give up only after a long wait
                if now - started >= until_idle_s + JOIN_WAIT_S:
                    break
            elif now - max(last_seen, self._assigned_at) >= until_idle_s:
                break
            letters = [m for m in messages if self._due(m)]
            if limit is not None:
                letters = letters[: limit - self.stats.replayed]
            if letters:
                self._send(letters)
                log.info("replayed %d dead letters", self.stats.replayed)
        return self.stats
