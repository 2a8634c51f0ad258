"""What the consumer writes: dead letters and mastery.changed events, confirmed before a commit."""

import logging
from typing import Any

import orjson
from confluent_kafka import KafkaError, Message, Producer

from mastery_engine.core.alerts import Alert
from mastery_engine.core.changes import MasteryChange
from mastery_engine.formats.contracts import change_message, struggle_message
from mastery_engine.formats.decode import Decoded
from mastery_engine.sources.kafka.dlq import dead_letter_headers

log = logging.getLogger(__name__)
JSON = ("content-type", b"application/json")


class DeliveryFailed(RuntimeError):
    """The broker did not acknowledge a dead letter or a change event."""


class Publisher:
    """One idempotent producer for dead letters and change events."""

    def __init__(self, producer: Producer, dlq_topic: str, out_topic: str | None) -> None:
        self.producer = producer
        self.dlq_topic = dlq_topic
        self.out_topic = out_topic
        self._failures: list[str] = []

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(f"{message.topic()}: {error.str()}")

    def dead_letter(self, message: Message, rejected: Decoded, failed_at: str) -> None:
        """Send a message that can never be ingested to the DLQ, key and value unchanged (of a
        Caliper envelope, the one event that failed, so a replay sends it alone)."""
        value = message.value() if rejected.record is None else orjson.dumps(rejected.record)
        self.producer.produce(
            self.dlq_topic,
            value=value,
            key=message.key(),
            headers=dead_letter_headers(message, rejected, failed_at),
            on_delivery=self._delivered,
        )
        self.producer.poll(0)

    def change(self, tenant: str, change: MasteryChange) -> None:
        """Announce a mastery move, keyed by student (so one student's moves stay in order)."""
        self._announce(tenant, change.student_id, change_message(tenant, change))

    def struggle(self, tenant: str, student_id: str, alert: Alert) -> None:
        """Announce a struggle alert the batch made fire, keyed by student."""
        self._announce(tenant, student_id, struggle_message(tenant, student_id, alert))

    def _announce(self, tenant: str, student_id: str, body: dict[str, Any]) -> None:
        if self.out_topic is None:
            return
        self.producer.produce(
            self.out_topic,
            value=orjson.dumps(body),
            key=student_id.encode(),
            headers=[("tenant", tenant.encode()), JSON],
            on_delivery=self._delivered,
        )
        self.producer.poll(0)

    def confirm(self, timeout_s: float = 60.0) -> None:
        """Wait until the broker acknowledged everything sent, or raise `DeliveryFailed`."""
        remaining = self.producer.flush(timeout_s)
        failures, self._failures = self._failures, []
        if remaining or failures:
            detail = "; ".join(failures[:3]) or f"{remaining} messages unacknowledged"
            raise DeliveryFailed(f"the broker did not take what the consumer sent: {detail}")

    def close(self) -> None:
        """Send what is still queued (a few seconds at most)."""
        left = self.producer.flush(5.0)
        if left:
            log.warning("%d messages were still unsent at shutdown", left)
