"""Partition bookkeeping: which offsets a batch completes, how far behind the consumer is, and
when a message was taken."""

import logging
from collections.abc import Iterable

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaException,
    Message,
    TopicPartition,
)

from mastery_engine.core.instants import format_us

log = logging.getLogger(__name__)
Partition = tuple[str, int]


def received_at(message: Message, default: str) -> str:
    """When the broker took the message (its timestamp), else `default`: the time a record
    without one of its own happened at."""
    kind, milliseconds = message.timestamp()
    if kind == TIMESTAMP_NOT_AVAILABLE or milliseconds <= 0:
        return default
    return format_us(milliseconds * 1000)


def partition_of(message: Message) -> Partition:
    """(topic, partition) of a consumed message."""
    topic, partition = message.topic(), message.partition()
    assert topic is not None and partition is not None, "a consumed message has both"
    return topic, partition


def offset_of(message: Message) -> int:
    """The offset of a consumed message."""
    offset = message.offset()
    assert offset is not None, "a consumed message has an offset"
    return offset


def next_offsets(messages: Iterable[Message]) -> dict[Partition, int]:
    """Per partition, the offset after the last message: what committing them records."""
    offsets: dict[Partition, int] = {}
    for message in messages:
        where = partition_of(message)
        offsets[where] = max(offsets.get(where, 0), offset_of(message) + 1)
    return offsets


def commit(consumer: Consumer, offsets: dict[Partition, int]) -> int:
    """Commit (synchronously) the offsets of partitions still assigned; how many partitions.

    A partition revoked meanwhile belongs to another member, which re-reads from the last
    commit; the events it finds again are duplicates and change nothing.
    """
    owned = {(tp.topic, tp.partition) for tp in consumer.assignment()}
    mine = [TopicPartition(t, p, o) for (t, p), o in offsets.items() if (t, p) in owned]
    if not mine:
        return 0
    try:
        consumer.commit(offsets=mine, asynchronous=False)
    except KafkaException as exc:
        log.warning("commit refused (%s); those messages will be read again as duplicates", exc)
        return 0
    return len(mine)


def lag(consumer: Consumer) -> dict[Partition, int]:
    """Per assigned partition, messages not yet consumed (high watermark - position).

    The high watermark is the one the last fetch response carried; partitions with no fetch
    yet count as 0 until they have one.
    """
    assignment = consumer.assignment()
    behind: dict[Partition, int] = {}
    if not assignment:
        return behind
    try:
        for position in consumer.position(assignment):
            _, high = consumer.get_watermark_offsets(position, cached=True)
            known = position.offset >= 0 and high >= 0
            behind[(position.topic, position.partition)] = (
                max(0, high - position.offset) if known else 0
            )
    except KafkaException as exc:
        log.debug("lag unknown: %s", exc)
    return behind
