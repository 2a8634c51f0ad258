"""Recommendations, alerts and predictions over HTTP, on every store backend."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from mastery_engine.core.features import FEATURES
from tests.conftest import completions, event

DAY = "2026-03-20"  # the fixed clock's day (12:00 UTC)


def post(client: TestClient, *events: dict[str, Any]) -> None:
    answer = client.post("/v1/events", json=list(events))
    assert answer.status_code == 200 and answer.json()["rejected"] == 0, answer.text


def test_recommendations_respect_prerequisites_and_rank(client: TestClient) -> None:
    post(
        client, *completions("s-1", "basics", 10, DAY), *completions("s-1", "control-flow", 3, DAY)
    )

    answer = client.get("/v1/students/s-1/recommendations", params={"limit": 10})

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["student_id"] == "s-1" and body["as_of"].startswith(DAY)
    steps = body["recommendations"]
    skills = {r["skill_id"] for r in steps}
    # basics is Learning (0.4 + S): control-flow is not eligible yet, nor anything after it.
    assert skills <= {"basics"}, steps
    assert [r["priority"] for r in steps] == list(range(1, len(steps) + 1))
    assert all(r["reason"] and r["expected_gain"] > 0 for r in steps)
    assert {r["action"] for r in steps} <= {"quiz", "improve-quality"}
    limited = client.get("/v1/students/s-1/recommendations", params={"limit": 1}).json()
    assert limited["recommendations"] == steps[:1]


def test_a_proficient_prerequisite_opens_the_next_skills(client: TestClient) -> None:
    quizzes = [
        event(f"q{i}", "quiz.graded", f"{DAY}T09:0{i}:00Z", quiz_id=f"q{i}", score=1.0)
        for i in range(3)
    ]
    reviews = [event("r1", "code.reviewed", f"{DAY}T09:30:00Z", submission_id="r", quality=1.0)]
    post(client, *completions("s-1", "basics", 10, DAY), *quizzes, *reviews)

    steps = client.get("/v1/students/s-1/recommendations", params={"limit": 10}).json()

    found = {(r["skill_id"], r["action"]) for r in steps["recommendations"]}
    assert ("control-flow", "start") in found
    assert not any(skill in ("functions", "oop") for skill, _ in found)


def test_repeated_errors_raise_an_alert(client: TestClient) -> None:
    fails = [
        event(f"a{i}", "exercise.attempted", f"{DAY}T0{i + 1}:00:00Z", skill="functions",
              exercise_id="e1", passed=False, error_type="TypeError")
        for i in range(3)
    ]  # fmt: skip
    post(client, *fails)

    alerts = client.get("/v1/students/s-1/alerts").json()["alerts"]

    repeated = [a for a in alerts if a["kind"] == "repeated_error"]
    assert len(repeated) == 1 and repeated[0]["skill_id"] == "functions"
    assert "TypeError" in repeated[0]["message"]


def test_inactivity_and_tenant_thresholds(client: TestClient) -> None:
    post(client, *completions("s-1", "basics", 2, "2026-03-10"))

    kinds = {a["kind"] for a in client.get("/v1/students/s-1/alerts").json()["alerts"]}
    assert "inactive" in kinds  # 10 days without activity, default threshold 7

    config = client.put("/v1/config", json={"alerts": {"inactive_days": 14}})
    assert config.status_code == 200, config.text
    assert config.json()["alerts"]["inactive_days"] == 14
    kinds = {a["kind"] for a in client.get("/v1/students/s-1/alerts").json()["alerts"]}
    assert "inactive" not in kinds
    bad = client.put("/v1/config", json={"alerts": {"inactive_days": 0}})
    assert bad.status_code == 422 and bad.json()["field"] == "inactive_days"
    assert client.put("/v1/config", json={"desired_retention": 1.5}).status_code == 422


def test_predictions_follow_the_answers(client: TestClient) -> None:
    good = [
        event(f"g{i}", "quiz.graded", f"{DAY}T09:{i:02d}:00Z", skill="basics", student="good",
              quiz_id=f"q{i}", score=1.0)
        for i in range(8)
    ]  # fmt: skip
    bad = [dict(e, id=f"b{i}", student_id="bad", data={"quiz_id": f"q{i}", "score": 0.0})
           for i, e in enumerate(good)]  # fmt: skip
    post(client, *good, *bad)

    def basics(student: str) -> dict[str, Any]:
        body = client.get(f"/v1/students/{student}/predictions").json()
        skill = next(s for s in body["skills"] if s["skill_id"] == "basics")
        assert set(skill["forecast"]) == {"to_proficient", "to_mastered", "at_risk", "reason"}
        return dict(skill)

    good_p, bad_p = basics("good")["p_correct"], basics("bad")["p_correct"]
    assert 0 < bad_p < good_p < 1
    # Each explains itself: from the same base rate, wins pushed up, fails pushed down.
    good, bad = basics("good"), basics("bad")
    assert good["base_rate"] == bad["base_rate"]
    assert 1 <= len(good["drivers"]) <= 3 and 1 <= len(bad["drivers"]) <= 3
    assert good["drivers"][0]["effect"] > 0 > bad["drivers"][0]["effect"]
    assert {d["feature"] for d in good["drivers"]} <= set(FEATURES)


@pytest.mark.parametrize("path", ["recommendations", "alerts", "predictions"])
def test_an_unknown_student_is_404(client: TestClient, path: str) -> None:
    answer = client.get(f"/v1/students/nobody/{path}")
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
