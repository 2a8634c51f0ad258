"""What a consumer run did: running totals, read by its log lines and its metrics."""

import logging
import time
from dataclasses import dataclass, field

from confluent_kafka import Consumer

from mastery_engine.sources.kafka.offsets import lag

log = logging.getLogger("mastery_engine.sources.kafka.consumer")
PROGRESS_EVERY_S = 10.0
LAG_EVERY_S = 1.0


@dataclass
class ConsumeStats:
    """What a run did; `lag` is the messages left on its partitions when last measured."""

    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    skipped: int = 0  # learning records that make no event by design (enrolment, ...)
    warnings: int = 0  # records kept as activity for want of a skill (each one logged)
    dead_letters: int = 0
    changes: int = 0
    struggles: int = 0
    batches: int = 0
    retries: int = 0
    lag: int = 0
    paused: bool = False
    first_batch_at: float | None = None  # time.monotonic() when the first batch arrived
    last_batch_at: float | None = None  # ... and when the last one was committed
    partition_lag: dict[tuple[str, int], int] = field(default_factory=dict)
    transitions: dict[tuple[str, str], int] = field(default_factory=dict)  # (old, new) level

    def measure_lag(self, consumer: Consumer) -> None:
        """Refresh the lag of every assigned partition and their total."""
        self.partition_lag = lag(consumer)
        self.lag = sum(self.partition_lag.values())


class Progress:
    """Measures the lag every second and logs the totals every ten."""

    def __init__(self) -> None:
        self._measured_at = self._reported_at = time.monotonic()

    def tick(self, stats: ConsumeStats, consumer: Consumer) -> None:
        """Measure or log if it is time to."""
        now = time.monotonic()
        if now - self._measured_at >= LAG_EVERY_S:
            self._measured_at = now
            stats.measure_lag(consumer)
        if now - self._reported_at < PROGRESS_EVERY_S:
            return
        self._reported_at = now
        log.info(
            "consumed %d messages (%d accepted, %d duplicates, %d skipped, %d dead letters),"
            " lag %d",
            stats.messages,
            stats.accepted,
            stats.duplicates,
            stats.skipped,
            stats.dead_letters,
            stats.lag,
        )
