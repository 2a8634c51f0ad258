"""Prometheus metrics of a consumer process, read from its running totals at scrape time."""

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mastery_engine.sources.kafka.stats import ConsumeStats

PREFIX = "mastery_kafka_"


class ConsumerCollector(Collector):
    """Counters and gauges of one consumer, straight from its `ConsumeStats`."""

    def __init__(self, stats: ConsumeStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        """One sample per total; lag per assigned partition."""
        stats = self.stats
        messages = CounterMetricFamily(
            f"{PREFIX}messages", "Messages read and settled, by outcome", labels=["outcome"]
        )
        for outcome, value in (
            ("accepted", stats.accepted),
            ("duplicate", stats.duplicates),
            ("skipped", stats.skipped),
            ("dead_letter", stats.dead_letters),
        ):
            messages.add_metric([outcome], value)
        yield messages
        yield CounterMetricFamily(f"{PREFIX}batches", "Batches applied", value=stats.batches)
        yield CounterMetricFamily(
            f"{PREFIX}changes_published", "mastery.changed events sent", value=stats.changes
        )
        yield CounterMetricFamily(
            f"{PREFIX}store_retries",
            "Batch retries while the store was unavailable",
            value=stats.retries,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}paused",
            "1 while the partitions are paused (store unavailable)",
            value=int(stats.paused),
        )
        transitions = CounterMetricFamily(
            "mastery_level_transitions",
            "Skills whose level changed in an applied batch, by old and new level",
            labels=["from_level", "to_level"],
        )
        for (old, new), count in sorted(stats.transitions.items()):
            transitions.add_metric([old, new], count)
        yield transitions
        lag = GaugeMetricFamily(
            f"{PREFIX}consumer_lag",
            "Messages on an assigned partition not yet consumed (high watermark - position)",
            labels=["topic", "partition"],
        )
        for (topic, partition), behind in sorted(stats.partition_lag.items()):
            lag.add_metric([topic, str(partition)], behind)
        yield lag


@contextmanager
def serving_metrics(stats: ConsumeStats, port: int | None, host: str) -> Iterator[int | None]:
    """Serve `/metrics` on `port` (0: any free port) while the block runs; yield the port."""
    if port is None:
        yield None
        return
    registry = CollectorRegistry()
    registry.register(ConsumerCollector(stats))
    server, thread = start_http_server(port, addr=host, registry=registry)
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5.0)
