"""POST /v1/events on every backend: batches, duplicates, every rejection, limits."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import event

AT = "2026-03-20T10:00:00Z"


def quiz(event_id: str, score: Any = 0.5, **kw: Any) -> dict[str, Any]:
    return event(event_id, "quiz.graded", AT, quiz_id="q", score=score, **kw)


def test_single_event_is_accepted_then_a_duplicate(client: TestClient) -> None:
    first = client.post("/v1/events", json=quiz("e1"))
    assert first.status_code == 200
    assert first.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "results": [{"id": "e1", "status": "accepted"}],
    }
    again = client.post("/v1/events", json=quiz("e1"))
    assert again.json()["results"] == [{"id": "e1", "status": "duplicate"}]


def test_one_bad_event_never_blocks_the_good_ones(client: TestClient) -> None:
    batch = [quiz("a"), quiz("b", score=1.5), "not an event", quiz("a"), quiz("c")]
    body = client.post("/v1/events", json=batch).json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 2)
    statuses = [(r["id"], r["status"]) for r in body["results"]]
    assert statuses == [
        ("a", "accepted"),
        ("b", "rejected"),
        (None, "rejected"),
        ("a", "duplicate"),
        ("c", "accepted"),
    ]
    assert "data.score must be in [0, 1]" in body["results"][1]["error"]
    assert "JSON object" in body["results"][2]["error"]
    mastery = client.get("/v1/students/s-1/skills/basics/mastery").json()
    assert mastery["components"]["quiz"] == pytest.approx(0.5)


def test_empty_batch(client: TestClient) -> None:
    body = client.post("/v1/events", json=[]).json()
    assert body == {"accepted": 0, "duplicates": 0, "rejected": 0, "results": []}


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({**quiz("e"), "occurred_at": "2026-03-20T10:00:00"}, "occurred_at", "no UTC offset"),
        ({**quiz("e"), "occurred_at": "2026-03-20T12:30:00Z"}, "occurred_at", "in the future"),
        (quiz("e", score=2), "data.score", "[0, 1]"),
        (quiz("e", score="high"), "data.score", "number"),
        ({**quiz("e"), "type": "quiz.failed"}, "type", "allowed: exercise.completed"),
        ({k: v for k, v in quiz("e").items() if k != "student_id"}, "student_id", "required"),
        ({**quiz("e"), "student_id": 42}, "student_id", "string"),
    ],
)
def test_a_lone_invalid_event_is_a_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str, fragment: str
) -> None:
    response = client.post("/v1/events", json=body)
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "invalid_event"
    assert error["field"] == field
    assert fragment in error["detail"]


@pytest.mark.parametrize(
    ("content", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b'{"a": "\xff"}', 400, "UTF-8"),
        (b'"a string"', 422, "event object or an array"),
        (b"42", 422, "got a JSON int"),
        (b"null", 422, "got a JSON NoneType"),
    ],
)
def test_bodies_that_are_not_events(
    client: TestClient, content: bytes, status: int, fragment: str
) -> None:
    response = client.post(
        "/v1/events", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert fragment in response.json()["detail"]


def test_more_than_1000_events_is_413(client: TestClient) -> None:
    batch = [quiz(f"e{i}") for i in range(1001)]
    response = client.post("/v1/events", json=batch)
    assert response.status_code == 413
    assert "at most 1000" in response.json()["detail"]
    assert client.post("/v1/events", json=batch[:1000]).json()["accepted"] == 1000


def test_more_than_one_mebibyte_is_413(client: TestClient) -> None:
    big = quiz("e", note="x" * (1024 * 1024))
    response = client.post("/v1/events", content=json.dumps(big))
    assert response.status_code == 413
    assert "1048576" in response.json()["detail"]


def test_tenants_are_isolated_by_header(client: TestClient) -> None:
    client.post("/v1/events", json=quiz("e1"), headers={"X-Tenant-ID": "school-a"})
    assert (
        client.get("/v1/students/s-1/mastery", headers={"X-Tenant-ID": "school-a"}).status_code
        == 200
    )
    hidden = client.get("/v1/students/s-1/mastery", headers={"X-Tenant-ID": "school-b"})
    assert hidden.status_code == 404
    assert client.get("/v1/students/s-1/mastery").status_code == 404  # default tenant
    again = client.post("/v1/events", json=quiz("e1"), headers={"X-Tenant-ID": "school-b"})
    assert again.json()["accepted"] == 1


@pytest.mark.parametrize("tenant", ["", "a b", "x" * 65, "-lead", "a/b"])
def test_malformed_tenant_header(client: TestClient, tenant: str) -> None:
    response = client.post("/v1/events", json=quiz("e1"), headers={"X-Tenant-ID": tenant})
    assert response.status_code == 422
    assert response.json()["field"] == "X-Tenant-ID"
