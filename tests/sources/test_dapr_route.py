"""Dapr pub/sub: the programmatic subscription and CloudEvent deliveries as Dapr sends them."""

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mastery_engine.api import create_app
from mastery_engine.settings import Settings
from tests.conftest import event, fixed_clock

AT = "2026-03-10T10:00:00Z"


def app_client(**settings: Any) -> TestClient:
    """A client of an app on its own store, authentication off."""
    options = {"store_url": "memory://", "auth": "off"} | settings
    return TestClient(create_app(Settings(**options), clock=fixed_clock()))


@pytest.fixture
def client() -> Iterator[TestClient]:
    with app_client(kafka_default_tenant="school-a") as test_client:
        yield test_client


def dapr_cloudevent(data: Any, **attributes: Any) -> dict[str, Any]:
    """A CloudEvent as the Dapr sidecar delivers it (the envelope of Dapr's documentation)."""
    return {
        "topic": "learning-events",
        "pubsubname": "pubsub",
        "traceid": "00-113ad9c4e42b27583ae98ba698d54255-e3743e35ff56f219-01",
        "tracestate": "",
        "data": data,
        "id": "5929aaac-a5e2-4ca1-859c-edfe73f11565",
        "specversion": "1.0",
        "datacontenttype": "application/json; charset=utf-8",
        "source": "tutor-agent",
        "type": "com.dapr.event.sent",
        "time": "2026-03-10T10:00:01Z",
        "traceparent": "00-113ad9c4e42b27583ae98ba698d54255-e3743e35ff56f219-01",
        **attributes,
    }


def deliver(client: TestClient, body: Any, **headers: str) -> dict[str, Any]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = client.post(
        "/dapr/events",
        content=content,
        headers={"content-type": "application/cloudevents+json", **headers},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def quiz(event_id: str, score: Any = 0.9, student: str = "s-1") -> dict[str, Any]:
    return event(event_id, "quiz.graded", AT, student=student, quiz_id="q1", score=score)


def students(client: TestClient, tenant: str) -> list[str]:
    return list(client.get("/v1/students", headers={"X-Tenant-ID": tenant}).json()["students"])


def test_subscription_names_component_topic_and_route() -> None:
    with app_client(dapr_pubsub="kafka-pubsub", kafka_topic="events-in") as client:
        assert client.get("/dapr/subscribe").json() == [
            {"pubsubname": "kafka-pubsub", "topic": "events-in", "route": "/dapr/events"}
        ]


def test_an_event_is_applied_once_and_acknowledged_twice(client: TestClient) -> None:
    assert deliver(client, dapr_cloudevent(quiz("e1"))) == {"status": "SUCCESS"}
    assert deliver(client, dapr_cloudevent(quiz("e1"))) == {"status": "SUCCESS"}  # redelivery
    assert students(client, "school-a") == ["s-1"]  # the default tenant of deliveries
    mastery = client.get("/v1/students/s-1/mastery", headers={"X-Tenant-ID": "school-a"}).json()
    basics = next(s for s in mastery["skills"] if s["skill_id"] == "basics")
    assert basics["components"]["quiz"] == pytest.approx(0.9)


def test_the_tenant_extension_attribute_chooses_the_tenant(client: TestClient) -> None:
    assert deliver(client, dapr_cloudevent(quiz("e1"), tenant="school-b"))["status"] == "SUCCESS"
    assert students(client, "school-b") == ["s-1"]
    assert students(client, "school-a") == []


def test_other_encodings_of_the_data(client: TestClient) -> None:
    as_text = dapr_cloudevent(json.dumps(quiz("e2")), datacontenttype="text/plain")
    encoded = base64.b64encode(json.dumps(quiz("e3")).encode()).decode()
    as_base64 = dapr_cloudevent(None, data_base64=encoded)
    del as_base64["data"]
    for body in (quiz("e1"), as_text, as_base64):  # the first: a raw payload, no envelope
        assert deliver(client, body) == {"status": "SUCCESS"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (dapr_cloudevent(quiz("e1", score=3)), "data.score must be in [0, 1]"),
        (dapr_cloudevent({"id": "e1", "type": "lesson.watched"}), "type 'lesson.watched'"),
        (dapr_cloudevent(quiz("e1"), specversion="0.3"), "specversion '0.3' is not supported"),
        (dapr_cloudevent(quiz("e1"), datacontenttype="application/xml"), "is not JSON"),
        (dapr_cloudevent(quiz("e1"), tenant="no tenant!"), "tenant 'no tenant!'"),
        (dapr_cloudevent([quiz("e1")]), "got a JSON list"),
        (b"{not json", "the body is not valid JSON"),
    ],
)
def test_events_that_can_never_succeed_are_dropped(
    client: TestClient, body: Any, reason: str
) -> None:
    answer = deliver(client, body)
    assert answer["status"] == "DROP"
    assert reason in answer["reason"]
    assert students(client, "school-a") == []


def test_a_locked_store_asks_dapr_to_retry(tmp_path: Path) -> None:
    db = tmp_path / "dapr.db"
    with app_client(store_url=f"sqlite:///{db}?busy_timeout_ms=100") as client:
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            answer = deliver(client, dapr_cloudevent(quiz("e1")))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert answer["status"] == "RETRY"
        assert "locked" in answer["reason"]
        assert deliver(client, dapr_cloudevent(quiz("e1"))) == {"status": "SUCCESS"}


def test_the_app_token_is_required_when_configured() -> None:
    with app_client(dapr_app_token="sidecar-secret") as client:
        refused = client.post("/dapr/events", json=dapr_cloudevent(quiz("e1")))
        assert refused.status_code == 401
        wrong = deliver_status(client, "other")
        assert wrong == 401
        answer = deliver(
            client, dapr_cloudevent(quiz("e1")), **{"dapr-api-token": "sidecar-secret"}
        )
        assert answer == {"status": "SUCCESS"}


def deliver_status(client: TestClient, token: str) -> int:
    body = dapr_cloudevent(quiz("e1"))
    return client.post("/dapr/events", json=body, headers={"dapr-api-token": token}).status_code


def test_with_authentication_on_and_no_app_token_the_routes_are_off_and_the_log_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "dapr-route-secret-" + "0123456789" * 4
    with caplog.at_level("INFO"), app_client(auth="jwt", jwt_secret=secret) as client:
        assert client.post("/dapr/events", json=dapr_cloudevent(quiz("e1"))).status_code == 404
        assert client.get("/dapr/subscribe").status_code == 404
    said = [r.getMessage() for r in caplog.records if "Dapr routes" in r.getMessage()]
    assert len(said) == 1
    assert "set MASTERY_DAPR_APP_TOKEN" in said[0]
