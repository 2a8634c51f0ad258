"""Mastery, explanation and history endpoints on every backend; probes and OpenAPI."""

import pytest
from fastapi.testclient import TestClient

from tests.conftest import event


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    events = [
        event("c1", "exercise.completed", "2026-03-01T09:00:00Z", exercise_id="e1"),
        event("c2", "exercise.completed", "2026-03-10T09:00:00Z", exercise_id="e2"),
        event("q1", "quiz.graded", "2026-03-01T10:00:00Z", quiz_id="a", score=1.0),
        event("q2", "quiz.graded", "2026-03-20T11:00:00Z", quiz_id="b", score=0.0),
        event(
            "r1",
            "code.reviewed",
            "2026-03-15T10:00:00Z",
            skill="regex",
            submission_id="s",
            quality=0.9,
        ),
        event(
            "t1",
            "exercise.attempted",
            "2026-03-16T10:00:00Z",
            skill="git",
            exercise_id="g",
            passed=False,
        ),
    ]
    assert client.post("/v1/events", json=events).json()["accepted"] == 6
    return client


def test_mastery_covers_the_curriculum_then_the_student_s_other_skills(loaded: TestClient) -> None:
    body = loaded.get("/v1/students/s-1/mastery").json()
    assert body["student_id"] == "s-1"
    assert body["as_of"] == "2026-03-20T12:00:00Z"
    ids = [s["skill_id"] for s in body["skills"]]
    assert ids[:8] == [
        "basics",
        "control-flow",
        "data-structures",
        "functions",
        "oop",
        "files",
        "errors",
        "libraries",
    ]
    assert ids[8:] == ["git", "regex"]
    regex = body["skills"][-1]
    assert regex["components"]["quality"] == pytest.approx(0.9)
    assert set(regex) == {"skill_id", "mastery", "level", "components"}


def test_as_of_a_date_means_the_end_of_that_utc_day(loaded: TestClient) -> None:
    by_date = loaded.get("/v1/students/s-1/skills/basics/mastery?as_of=2026-03-01").json()
    by_time = loaded.get(
        "/v1/students/s-1/skills/basics/mastery", params={"as_of": "2026-03-01T23:59:59.999999Z"}
    ).json()
    assert by_date["as_of"] == "2026-03-01T23:59:59.999999Z"
    assert by_date["mastery"] == by_time["mastery"]
    # C = 1/10, Q = 1.0, S = 1/14.
    assert by_date["mastery"] == pytest.approx(0.04 + 0.3 + 0.1 / 14, abs=1e-9)


def test_as_of_mid_day_excludes_that_day_s_later_events(loaded: TestClient) -> None:
    early = loaded.get(
        "/v1/students/s-1/skills/basics/mastery", params={"as_of": "2026-03-20T10:59:59+00:00"}
    ).json()
    late = loaded.get("/v1/students/s-1/skills/basics/mastery").json()
    assert early["components"]["quiz"] == pytest.approx(1.0)
    assert late["components"]["quiz"] == pytest.approx(
        1 / (1 + 2 ** ((19 + 1 / 24) / 30)), abs=1e-9
    )


@pytest.mark.parametrize(
    ("as_of", "fragment"),
    [
        ("2026-03-01T10:00:00", "no UTC offset"),
        ("03/01/2026", "RFC 3339"),
        ("2026-13-01", "not a valid date"),
        ("", "RFC 3339"),
    ],
)
def test_bad_as_of_is_a_422(loaded: TestClient, as_of: str, fragment: str) -> None:
    response = loaded.get("/v1/students/s-1/mastery", params={"as_of": as_of})
    assert response.status_code == 422
    assert response.json()["field"] == "as_of"
    assert fragment in response.json()["detail"]


def test_skill_explanation(loaded: TestClient) -> None:
    body = loaded.get("/v1/students/s-1/skills/basics/mastery").json()
    explanation = body["explanation"]
    parts = {p["component"]: p for p in explanation["components"]}
    assert set(parts) == {"completion", "quiz", "quality", "consistency"}
    assert sum(p["contribution"] for p in parts.values()) == pytest.approx(body["mastery"])
    assert parts["completion"]["weight"] == 0.4
    assert parts["quality"]["next_step"] == "get a first code review (none yet)"
    # A first code review scored 1.0 adds 0.2: the biggest single step here.
    assert explanation["raise_most"] == "quality"
    assert parts["quality"]["next_step_gain"] == pytest.approx(0.2)
    assert explanation["change"]["since"] == "2026-03-13T23:59:59.999999Z"


def test_unknown_skill_and_student_are_404(loaded: TestClient) -> None:
    missing_skill = loaded.get("/v1/students/s-1/skills/cobol/mastery")
    assert missing_skill.status_code == 404
    assert "cobol" in missing_skill.json()["detail"]
    assert loaded.get("/v1/students/s-1/skills/regex/mastery").status_code == 200
    assert loaded.get("/v1/students/nobody/mastery").status_code == 404


def test_history_has_one_point_per_day_matching_point_queries(loaded: TestClient) -> None:
    body = loaded.get(
        "/v1/students/s-1/skills/basics/history", params={"from": "2026-02-28", "to": "2026-03-20"}
    ).json()
    points = body["points"]
    assert len(points) == 21
    assert points[0] == {"date": "2026-02-28", "mastery": 0.0, "level": "Beginner"}
    for point in points[::5]:
        single = loaded.get(
            "/v1/students/s-1/skills/basics/mastery", params={"as_of": point["date"]}
        ).json()
        assert point["mastery"] == pytest.approx(single["mastery"], abs=1e-12)
        assert point["level"] == single["level"]


def test_history_defaults_to_the_last_30_days(loaded: TestClient) -> None:
    points = loaded.get("/v1/students/s-1/skills/basics/history").json()["points"]
    assert (len(points), points[-1]["date"]) == (30, "2026-03-20")


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"from": "2025-03-19", "to": "2026-03-20"}, "at most 366 days"),
        ({"from": "2026-03-21", "to": "2026-03-20"}, "from (2026-03-21) must not be after to"),
        ({"from": "2026-03-01T00:00:00Z"}, "date YYYY-MM-DD"),
    ],
)
def test_bad_history_ranges(loaded: TestClient, params: dict[str, str], fragment: str) -> None:
    response = loaded.get("/v1/students/s-1/skills/basics/history", params=params)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def test_366_days_is_allowed(loaded: TestClient) -> None:
    response = loaded.get(
        "/v1/students/s-1/skills/basics/history", params={"from": "2025-03-20", "to": "2026-03-20"}
    )
    assert len(response.json()["points"]) == 366


def test_students_listing(loaded: TestClient) -> None:
    assert loaded.get("/v1/students").json() == {"students": ["s-1"]}


def test_probes_and_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["checks"]["store"]["status"] == "ok"
    assert ready["checks"]["store"]["backend"] in (
        "memory",
        "sqlite",
        "redis",
        "redis-cluster",
        "postgresql",
        "dapr",
    )
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/v1/events" in spec["paths"]
    body_schema = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert len(body_schema["schema"]["oneOf"]) == 2
    assert "swagger" in client.get("/docs").text.lower()


def test_openapi_says_which_operations_take_a_token(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    secured = {
        (path, method)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == [{"bearer": []}]
    }
    assert ("/v1/students/{student_id}/mastery", "get") in secured
    assert ("/v1/events", "post") in secured
    assert ("/v1/classes/{class_id}", "put") in secured
    assert ("/healthz", "get") not in secured and ("/metrics", "get") not in secured
    assert ("/dapr/events", "post") not in secured  # the sidecar's own token, not a JWT
    mastery = spec["paths"]["/v1/students/{student_id}/mastery"]["get"]
    headers = [p["name"] for p in mastery["parameters"] if p["in"] == "header"]
    assert headers == ["X-Tenant-ID"]
    # Every operation with a token is one whose route checks the caller, and vice versa:
    # /healthz, /readyz, /metrics, the Dapr routes are the only open ones.
    open_ = {(p, m) for p, ops in spec["paths"].items() for m in ops} - secured
    assert {p for p, _ in open_} == {"/healthz", "/readyz", "/metrics", "/dapr/subscribe",
                                     "/dapr/events"}  # fmt: skip


def test_unknown_route_and_method_are_json_errors(client: TestClient) -> None:
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json()["code"] == "http_error"
    assert client.delete("/v1/events").status_code == 405
