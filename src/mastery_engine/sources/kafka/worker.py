"""A consumer process: Kafka clients and the service from the settings, signals, one run."""

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from confluent_kafka import Consumer, Producer

from mastery_engine.service.mastery import wall_clock_us
from mastery_engine.settings import Settings
from mastery_engine.sources.kafka.config import StreamOptions, consumer_config, producer_config
from mastery_engine.sources.kafka.consumer import KafkaSource
from mastery_engine.sources.kafka.dlq import Replayer, ReplayStats
from mastery_engine.sources.kafka.metrics import serving_metrics
from mastery_engine.sources.kafka.publish import Publisher
from mastery_engine.sources.kafka.stats import ConsumeStats
from mastery_engine.wiring import open_engine

log = logging.getLogger(__name__)


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGTERM and SIGINT ask for a clean stop (only the main thread can take signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        stop()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


async def consume(
    settings: Settings,
    *,
    until_idle_s: float | None = None,
    max_messages: int | None = None,
    clock: Callable[[], int] = wall_clock_us,
) -> ConsumeStats:
    """Run one consumer-group member until stopped (or, in burst mode, idle); leave the group."""
    options = StreamOptions.of(settings)
    consumer = Consumer(consumer_config(settings))
    publisher = Publisher(Producer(producer_config(settings)), options.dlq_topic, options.out_topic)
    try:
        async with open_engine(settings, clock) as engine:
            source = KafkaSource(engine.service, consumer, publisher, options, engine.guidance)
            metrics = serving_metrics(source.stats, settings.metrics_port, settings.host)
            with stop_on_signals(source.stop), metrics as port:
                if port is not None:
                    log.info("metrics on http://%s:%d/metrics", settings.host, port)
                return await source.run(until_idle_s=until_idle_s, max_messages=max_messages)
    finally:
        publisher.close()
        consumer.close()  # leaves the group at once; commits nothing of its own


def replay_dead_letters(
    settings: Settings, *, group: str, until_idle_s: float, limit: int | None
) -> ReplayStats:
    """Send the DLQ's letters back to their source topics (a group of its own tracks progress)."""
    consumer = Consumer(consumer_config(settings, group))
    producer = Producer(producer_config(settings))
    try:
        replayer = Replayer(consumer, producer, settings.kafka_topic)
        return replayer.run(settings.kafka_dlq_topic, until_idle_s, limit)
    finally:
        producer.flush(10.0)
        consumer.close()
