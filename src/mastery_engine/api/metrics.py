"""Prometheus metrics of a serving process, in a registry of its own (built by `create_app`)."""

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.registry import Collector

from mastery_engine.service.outcomes import IngestReport, Status

# Seconds; the service answers in about a millisecond, so the fine end matters most.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """Request, ingestion and store-operation metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mastery_http_requests",
            "HTTP requests by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mastery_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events = Counter(
            "mastery_events",
            "Events by channel (http, xapi, caliper, dapr) and outcome",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.store_latency = Histogram(
            "mastery_store_operation_duration_seconds",
            "Time a store operation took, by operation",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.store_failures = Counter(
            "mastery_store_operation_failures",
            "Store operations that raised, by operation",
            ["operation"],
            registry=self.registry,
        )
        # Labelled children, looked up once: `labels()` costs a lock and a tuple per call.
        self._answers: dict[tuple[str, str, int], tuple[Histogram, Counter]] = {}
        self._operations: dict[str, Histogram] = {}

    def answered(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count and time one HTTP answer."""
        key = (method, route, status)
        children = self._answers.get(key)
        if children is None:
            count = self.requests.labels(method, route, str(status))
            children = self._answers[key] = (self.latency.labels(method, route), count)
        children[0].observe(seconds)
        children[1].inc()

    def ingested(self, channel: str, report: IngestReport) -> None:
        """Count a batch's outcomes."""
        for status in Status:
            count = report.count(status)
            if count:
                self.events.labels(channel, status.value).inc(count)

    def store_operation(self, operation: str, seconds: float, failed: bool) -> None:
        """Record one store call."""
        timer = self._operations.get(operation)
        if timer is None:
            timer = self._operations[operation] = self.store_latency.labels(operation)
        timer.observe(seconds)
        if failed:
            self.store_failures.labels(operation).inc()

    def add(self, collector: Collector) -> None:
        """Serve another collector's metrics too (the Kafka consumer's)."""
        self.registry.register(collector)

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
