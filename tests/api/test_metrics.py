"""GET /metrics: requests by route template, events by channel and outcome, store calls."""

import io
import json
import logging

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mastery_engine.logs import JsonFormatter, RequestIdFilter
from tests.conftest import event
from tests.sources.test_dapr_route import dapr_cloudevent, quiz
from tests.sources.test_xapi_route import COURSE, statement

AT = "2026-03-10T10:00:00Z"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_events_are_counted_by_channel_and_outcome(client: TestClient) -> None:
    good = [event(f"e{i}", "quiz.graded", AT, quiz_id="q", score=0.5) for i in range(3)]
    bad = event("bad", "quiz.graded", AT, quiz_id="q", score=7)
    assert client.post("/v1/events", json=[*good, good[0], bad]).status_code == 200
    xapi = statement("x1", "completed", f"{COURSE}/skills/oop/exercises/1")
    assert client.post("/v1/xapi/statements", json=[xapi, xapi]).status_code == 200
    assert client.post("/dapr/events", json=dapr_cloudevent(quiz("d1"))).status_code == 200

    samples = scrape(client)

    assert value(samples, "mastery_events_total", channel="http", outcome="accepted") == 3
    assert value(samples, "mastery_events_total", channel="http", outcome="duplicate") == 1
    assert value(samples, "mastery_events_total", channel="http", outcome="rejected") == 1
    assert value(samples, "mastery_events_total", channel="xapi", outcome="accepted") == 1
    assert value(samples, "mastery_events_total", channel="xapi", outcome="duplicate") == 1
    assert value(samples, "mastery_events_total", channel="dapr", outcome="accepted") == 1


def test_requests_are_timed_by_route_template_and_status(client: TestClient) -> None:
    client.post("/v1/events", json=event("e1", "quiz.graded", AT, quiz_id="q", score=0.5))
    for student in ("s-1", "s-1", "nobody"):
        client.get(f"/v1/students/{student}/mastery")

    samples = scrape(client)

    route = "/v1/students/{student_id}/mastery"
    requests = "mastery_http_requests_total"
    assert value(samples, requests, method="GET", route=route, status="200") == 2
    assert value(samples, requests, method="GET", route=route, status="404") == 1
    duration = "mastery_http_request_duration_seconds_count"
    assert value(samples, duration, method="GET", route=route) == 3
    assert value(samples, requests, method="POST", route="/v1/events", status="200") == 1
    assert value(samples, "mastery_store_operation_duration_seconds_count", operation="apply") >= 1
    assert value(samples, "mastery_store_operation_duration_seconds_count", operation="read") >= 3


def test_each_answer_carries_a_request_id(client: TestClient) -> None:
    fresh = client.get("/healthz").headers["x-request-id"]
    kept = client.get("/healthz", headers={"X-Request-ID": "trace-42.a"})
    unsafe = client.get("/healthz", headers={"X-Request-ID": "bad id\x7f"})

    assert len(fresh) == 32
    assert kept.headers["x-request-id"] == "trace-42.a"
    assert unsafe.headers["x-request-id"] not in ("bad id\x7f", fresh)


def test_json_logs_carry_the_request_id(client: TestClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("mastery_engine")
    logger.addHandler(handler)
    try:
        dropped = client.post("/dapr/events", content=b"{", headers={"X-Request-ID": "req-7"})
    finally:
        logger.removeHandler(handler)

    assert dropped.json()["status"] == "DROP"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines, "the dropped delivery was not logged"
    assert {line["request_id"] for line in lines} == {"req-7"}
    assert "dropping a delivery that is not JSON" in lines[0]["message"]
