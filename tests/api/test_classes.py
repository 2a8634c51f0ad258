"""Classes, the class matrix and tenant analytics over HTTP, on every backend."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mastery_engine.api import create_app
from mastery_engine.settings import Settings
from tests.api.test_security import SECRET, bearer, hs
from tests.conftest import NOW, completions, event, fixed_clock

COMPLETION_ONLY = {"weights": {"completion": 1.0, "quiz": 0.0, "quality": 0.0, "consistency": 0.0}}


def load(client: TestClient, events: list[dict[str, Any]]) -> None:
    answer = client.post("/v1/events", json=events)
    assert answer.status_code == 200 and answer.json()["rejected"] == 0, answer.text


def test_roster_crud(client: TestClient) -> None:
    assert client.get("/v1/classes").json() == {"classes": []}
    created = client.put("/v1/classes/7a", json={"students": ["s-2", "s-1", "new-kid"]})
    assert created.status_code == 200, created.text
    assert created.json() == {"class_id": "7a", "students": ["new-kid", "s-1", "s-2"]}
    client.put("/v1/classes/7 b:é", json={"students": []})
    assert client.get("/v1/classes").json() == {"classes": ["7 b:é", "7a"]}
    assert client.get("/v1/classes/7a").json()["students"] == ["new-kid", "s-1", "s-2"]
    replaced = client.put("/v1/classes/7a", json={"students": ["s-3"]})
    assert replaced.json() == {"class_id": "7a", "students": ["s-3"]}
    assert client.delete("/v1/classes/7a").json() == {"class_id": "7a", "deleted": True}
    assert client.get("/v1/classes").json() == {"classes": ["7 b:é"]}
    for answer in (client.get("/v1/classes/7a"), client.delete("/v1/classes/7a")):
        assert answer.status_code == 404
        assert answer.json()["detail"] == "class '7a' does not exist in this tenant"
    actions = [e["action"] for e in client.get("/v1/audit").json()["entries"]]
    assert actions == ["delete_class", "put_class", "put_class", "put_class"]


BAD_REQUESTS = [
    ("7a", {"students": ["s-1", "s-1"]}, "students[1] 's-1' is already listed at students[0]"),
    ("7a", {"students": ["s\x01"]}, "students[0] must be printable"),
    ("7a", {"students": ["a/b"]}, "students[0] must not contain '/'"),
    ("7a", {"students": [" "]}, "students[0] must be a non-empty string"),
    ("7a", {"students": [""]}, "students[0] must be a non-empty string"),
    ("7a", {"students": ["x" * 257]}, "students[0] is longer than 256 characters"),
    ("7a", {"students": [f"s-{i}" for i in range(1001)]}, "at most 1000 items"),
    ("7a", {"students": "s-1"}, "body.students"),
    ("7a", {"pupils": []}, "body.students: Field required"),
    ("%20", {"students": []}, "class_id must be a non-empty string"),
    ("a%09b", {"students": []}, "class_id must be printable"),
    ("x" * 257, {"students": []}, "class_id is longer than 256 characters"),
]


@pytest.mark.parametrize(("class_id", "body", "message"), BAD_REQUESTS)
def test_invalid_classes_are_422_saying_why(
    client: TestClient, class_id: str, body: dict[str, Any], message: str
) -> None:
    answer = client.put(f"/v1/classes/{class_id}", json=body)
    assert answer.status_code == 422, answer.text
    assert message in answer.json()["detail"]
    assert client.get("/v1/classes").json() == {"classes": []}


def test_matrix_cells_are_each_student_s_own_mastery(client: TestClient) -> None:
    load(
        client,
        [
            *completions("s-1", "basics", 4, "2026-03-18"),
            event("q1", "quiz.graded", "2026-03-19T09:00:00Z", quiz_id="q", score=0.7),
            event("r1", "code.reviewed", "2026-03-01T09:00:00Z", student="s-2", skill="regex",
                  submission_id="x", quality=0.9),
            event("a1", "activity", "2026-03-20T08:00:00Z", student="s-3", skill=None, kind="read"),
        ],
    )  # fmt: skip
    client.put("/v1/classes/7a", json={"students": ["s-3", "s-2", "s-1", "ghost"]})
    for as_of in (None, "2026-03-19", "2026-03-18T10:02:30Z"):
        query = {} if as_of is None else {"as_of": as_of}
        matrix = client.get("/v1/classes/7a/mastery", params=query).json()
        assert [r["student_id"] for r in matrix["students"]] == ["ghost", "s-1", "s-2", "s-3"]
        assert matrix["skills"][-1] == "regex" and len(matrix["skills"]) == 9
        ghost = matrix["students"][0]
        assert ghost["has_events"] is False and set(ghost["cells"]) == {None}
        for row in matrix["students"][1:]:
            own = client.get(f"/v1/students/{row['student_id']}/mastery", params=query).json()
            expected = {s["skill_id"]: (s["mastery"], s["level"]) for s in own["skills"]}
            cells = {
                skill: (cell["mastery"], cell["level"])
                for skill, cell in zip(matrix["skills"], row["cells"], strict=True)
                if cell is not None
            }
            assert cells == expected
            assert matrix["as_of"] == own["as_of"]
    summary = {column["skill_id"]: column for column in matrix["summary"]}
    assert summary["regex"]["students"] == 1
    assert summary["basics"]["students"] == 3


def test_matrix_of_an_unknown_class_is_404(client: TestClient) -> None:
    assert client.get("/v1/classes/nope/mastery").status_code == 404


def test_tenant_analytics_computed_by_hand(client: TestClient) -> None:
    assert client.put("/v1/config", json=COMPLETION_ONLY).status_code == 200
    load(
        client,
        completions("A", "basics", 10, "2026-03-19")
        + completions("B", "basics", 5, "2026-03-10")
        + completions("B", "regex", 1, "2026-03-10")
        + completions("C", "basics", 2, "2026-03-05")
        + completions("D", "control-flow", 6, "2026-03-12"),
    )
    body = client.get("/v1/analytics/skills", params={"weeks": 3}).json()
    assert body["as_of"] == "2026-03-20T12:00:00Z" and body["students"] == 4
    assert body["weeks"] == 3 and body["age_seconds"] == 0
    skills = {s["skill_id"]: s for s in body["skills"]}
    assert list(skills)[-1] == "regex"
    basics = skills["basics"]
    assert (basics["students"], basics["started"], basics["min"], basics["max"]) == (4, 3, 0, 1)
    assert (basics["mean"], basics["q1"], basics["median"], basics["q3"]) == pytest.approx(
        (0.425, 0.15, 0.35, 0.625)
    )
    assert basics["levels"] == {"Beginner": 2, "Learning": 1, "Proficient": 0, "Mastered": 1}
    assert [(p["at"], p["students"]) for p in basics["trend"]] == [
        ("2026-03-06T23:59:59.999999Z", 1),
        ("2026-03-13T23:59:59.999999Z", 3),
        ("2026-03-20T12:00:00Z", 4),
    ]
    assert [p["mean"] for p in basics["trend"]] == pytest.approx([0.2, 0.7 / 3, 0.425])
    assert skills["regex"]["students"] == 1 and skills["regex"]["mean"] == pytest.approx(0.1)
    assert skills["oop"]["mean"] == 0 and skills["oop"]["started"] == 0
    past = client.get("/v1/analytics/skills", params={"as_of": "2026-03-13", "weeks": 1}).json()
    assert past["students"] == 3 and past["as_of"] == "2026-03-13T23:59:59.999999Z"
    assert {s["skill_id"]: s["mean"] for s in past["skills"]}["basics"] == pytest.approx(0.7 / 3)
    default = client.get("/v1/analytics/skills").json()
    assert default["weeks"] == 8 and len(default["skills"][0]["trend"]) == 8


@pytest.mark.parametrize("weeks", ["0", "13", "x"])
def test_weeks_out_of_range_are_422(client: TestClient, weeks: str) -> None:
    answer = client.get("/v1/analytics/skills", params={"weeks": weeks})
    assert answer.status_code == 422 and answer.json()["field"] == "query.weeks"


def test_an_empty_tenant_has_curriculum_skills_with_no_figures(client: TestClient) -> None:
    body = client.get("/v1/analytics/skills").json()
    assert body["students"] == 0
    assert all(s["students"] == 0 and s["mean"] is None for s in body["skills"])


def test_the_latest_summary_is_kept_until_it_is_max_age_old() -> None:
    now = [NOW]
    settings = Settings(store_url="memory://", auth="off", analytics_max_age_seconds=60)
    with TestClient(create_app(settings, clock=lambda: now[0])) as client:
        load(client, completions("A", "basics", 1, "2026-03-19"))
        assert client.get("/v1/analytics/skills").json()["students"] == 1
        load(client, completions("B", "basics", 1, "2026-03-19"))
        now[0] += 59 * 1_000_000
        kept = client.get("/v1/analytics/skills").json()
        assert (kept["students"], kept["age_seconds"], kept["max_age_seconds"]) == (1, 59, 60)
        now[0] += 1_000_000
        fresh = client.get("/v1/analytics/skills").json()
        assert (fresh["students"], fresh["age_seconds"]) == (2, 0)


# --- roles and tenants ------------------------------------------------------------------


@pytest.fixture
def secured() -> Iterator[TestClient]:
    """JWT auth; tenant a has class 7a with s-1 (who has an event)."""
    settings = Settings(store_url="memory://", auth="jwt", jwt_secret=SECRET)
    with TestClient(create_app(settings, clock=fixed_clock())) as c:
        quiz = event("e1", "quiz.graded", "2026-03-19T10:00:00Z", quiz_id="q", score=0.9)
        assert c.post("/v1/events", json=quiz, headers=bearer(hs())).status_code == 200
        answer = c.put("/v1/classes/7a", json={"students": ["s-1"]}, headers=bearer(hs()))
        assert answer.status_code == 200
        yield c


ROLES = ["student", "teacher", "service", "admin"]
READERS = {"teacher", "service", "admin"}
MATRIX: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/v1/classes", None, READERS),
    ("GET", "/v1/classes/7a", None, READERS),
    ("GET", "/v1/classes/7a/mastery", None, READERS),
    ("GET", "/v1/analytics/skills", None, READERS),
    ("PUT", "/v1/classes/7b", {"students": ["s-1"]}, {"admin"}),
    ("DELETE", "/v1/classes/7a", None, {"admin"}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_class_roles(secured: TestClient, role: str, case: tuple[str, str, Any, set[str]]) -> None:
    method, path, body, allowed = case
    token = hs(sub="s-1" if role == "student" else f"{role}-1", roles=[role])
    answer = secured.request(method, path, json=body, headers=bearer(token))
    assert answer.status_code == (200 if role in allowed else 403), (role, answer.text)
    if role not in allowed:
        assert "allowed roles: " in answer.json()["detail"]


def test_another_tenant_s_class_is_404_and_its_analytics_are_its_own(secured: TestClient) -> None:
    b = bearer(hs(tenant="b"))
    assert secured.get("/v1/classes", headers=b).json() == {"classes": []}
    for path in ("/v1/classes/7a", "/v1/classes/7a/mastery"):
        assert secured.get(path, headers=b).status_code == 404
    assert secured.delete("/v1/classes/7a", headers=b).status_code == 404
    assert secured.put("/v1/classes/7a", json={"students": ["x"]}, headers=b).status_code == 200
    assert secured.get("/v1/classes/7a", headers=bearer(hs())).json()["students"] == ["s-1"]
    assert secured.get("/v1/analytics/skills", headers=b).json()["students"] == 0
    assert secured.get("/v1/analytics/skills", headers=bearer(hs())).json()["students"] == 1
