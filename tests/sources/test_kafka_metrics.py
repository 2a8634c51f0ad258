"""A consumer serves Prometheus metrics while it runs: outcomes, lag per partition, pauses."""

import asyncio
import json
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from mastery_engine.sources.kafka.worker import consume
from tests.kafka_broker import produce, read_topic
from tests.serving import free_port
from tests.sources.streams import Topics, mixed_stream

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    """Every sample of /metrics, by name and labels."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2.0).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_outcomes_and_lag_are_served_while_consuming(topics: Topics, tmp_path: Path) -> None:
    stream = mixed_stream(400, duplicates=0.05, poison=0.02, seed=11)
    produce(topics.broker.bootstrap, topics.topic, stream.records)
    port = free_port()
    settings = topics.settings(f"sqlite:///{tmp_path}/m.db", metrics_port=port)
    worker = threading.Thread(target=lambda: asyncio.run(consume(settings, until_idle_s=4.0)))
    worker.start()
    accepted = ("mastery_kafka_messages_total", (("outcome", "accepted"),))
    samples: Samples = {}
    deadline = time.monotonic() + 60
    while samples.get(accepted) != 372 and time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            samples = scrape(port)
        except httpx.TransportError:  # not listening yet
            continue
    time.sleep(1.5)  # one more lag measurement after the last batch
    samples = scrape(port)
    worker.join(60)

    assert samples[accepted] == 372
    assert samples[("mastery_kafka_messages_total", (("outcome", "duplicate"),))] == 20
    assert samples[("mastery_kafka_messages_total", (("outcome", "dead_letter"),))] == 8
    assert samples[("mastery_kafka_paused", ())] == 0
    lags = {k[1]: v for k, v in samples.items() if k[0] == "mastery_kafka_consumer_lag"}
    assert {dict(labels)["partition"] for labels in lags} == {"0", "1", "2", "3"}
    assert all(dict(labels)["topic"] == topics.topic for labels in lags)
    assert sum(lags.values()) == 0
    assert not worker.is_alive()

    # Level transitions: exactly the level moves the out-topic announced, by (from, to).
    out = [json.loads(m.value() or b"") for m in read_topic(topics.broker.bootstrap, topics.out)]
    announced = Counter(
        (body["old_level"], body["new_level"])
        for body in out
        if body["type"] == "mastery.changed" and body["old_level"] != body["new_level"]
    )
    served = {
        (dict(labels)["from_level"], dict(labels)["to_level"]): value
        for (name, labels), value in samples.items()
        if name == "mastery_level_transitions_total"
    }
    assert sum(announced.values()) > 0
    assert served == dict(announced)
