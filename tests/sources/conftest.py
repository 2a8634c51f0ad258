"""One Kafka-protocol broker for the whole session; each test gets its own topics and group."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kafka_broker import Broker, BrokerUnavailable, start_broker
from tests.sources.streams import Topics


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """tansu on a free port; a broker that cannot start fails the tests (never skips them)."""
    try:
        started = start_broker(Path(tmp_path_factory.mktemp("broker")))
    except BrokerUnavailable as exc:
        pytest.fail(str(exc))
    yield started
    started.stop()


@pytest.fixture
def topics(broker: Broker) -> Topics:
    """Fresh topics (4 partitions) and a fresh consumer group."""
    return Topics.fresh(broker)
