"""What a consumer run did: running totals, read by its log lines and its metrics."""

from dataclasses import dataclass, field

from confluent_kafka import Consumer

from mastery_engine.sources.kafka.offsets import lag


@dataclass
class ConsumeStats:
    """What a run did; `lag` is the messages left on its partitions when last measured."""

    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    skipped: int = 0  # learning records that make no event by design (enrolment, ...)
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
