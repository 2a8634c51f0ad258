"""POST /v1/xapi/statements with xAPI 1.0.3 statement shapes, accepted and rejected."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mastery_engine.api import create_app
from mastery_engine.settings import Settings
from tests.conftest import fixed_clock

ADL = "http://adlnet.gov/expapi/verbs/"
COURSE = "https://lms.example/courses/python"
SKILL_EXTENSION = "https://lms.example/xapi/extensions/skill"


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(store_url="memory://", auth="off", xapi_skill_extension=SKILL_EXTENSION)
    with TestClient(create_app(settings, clock=fixed_clock())) as test_client:
        yield test_client


def statement(
    statement_id: str, verb: str, activity: str, result: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A statement as a learning record provider sends it (account actor, ADL verb)."""
    body: dict[str, Any] = {
        "id": statement_id,
        "actor": {
            "objectType": "Agent",
            "name": "Ada",
            "account": {"homePage": "https://lms.example", "name": "ada"},
        },
        "verb": {"id": f"{ADL}{verb}", "display": {"en-US": verb}},
        "object": {
            "objectType": "Activity",
            "id": activity,
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "name": {"en-US": "Question"},
            },
        },
        "timestamp": "2026-03-10T10:15:00.000Z",
        "version": "1.0.3",
    }
    if result is not None:
        body["result"] = result
    return body | extra


def post(client: TestClient, body: Any, tenant: str = "default") -> Any:
    return client.post("/v1/xapi/statements", json=body, headers={"X-Tenant-ID": tenant})


def components(client: TestClient, student: str, skill: str) -> dict[str, float]:
    found = client.get(f"/v1/students/{student}/skills/{skill}/mastery").json()
    return dict(found["components"])


def stored(client: TestClient, student: str) -> dict[str, dict[str, Any]]:
    """The canonical events kept for a student (from the export), by id."""
    found = client.get(f"/v1/students/{student}/export")
    assert found.status_code == 200, found.text
    return {
        e["id"]: {k: v for k, v in e.items() if k not in ("id", "ingested_at")}
        for e in found.json()["events"]
    }


def canonical(event_type: str, skill: str | None, **data: Any) -> dict[str, Any]:
    """A canonical event of Ada at the statements' timestamp, as the store keeps it."""
    at = "2026-03-10T10:15:00Z"
    body = {"type": event_type, "student_id": "ada", "skill_id": skill, "occurred_at": at}
    return body | {"data": data}


def test_each_mapped_verb_is_accepted(client: TestClient) -> None:
    functions = f"{COURSE}/skills/functions"
    batch = [
        statement("x1", "completed", f"{functions}/exercises/3", {"completion": True}),
        statement("x2", "answered", f"{functions}/quiz/1/q/2", {"score": {"scaled": 0.8}}),
        statement(
            "x3", "scored", f"{functions}/quiz/2", {"score": {"raw": 6, "min": 0, "max": 10}}
        ),
        statement("x4", "passed", f"{functions}/exercises/4"),
        statement("x5", "failed", f"{functions}/exercises/5", {"success": False}),
        statement("x6", "answered", f"{functions}/quiz/1/q/3", {"success": True}),
        statement("x7", "progressed", f"{COURSE}/modules/2", {"duration": "PT12M30S"}),
        statement("x8", "experienced", f"{COURSE}/videos/intro"),
    ]

    answer = post(client, batch)

    assert answer.status_code == 200, answer.text
    types = ["exercise.completed", "quiz.graded", "quiz.graded"]
    types += ["exercise.attempted"] * 3 + ["activity"] * 2
    assert answer.json() == {
        "accepted": 8,
        "duplicates": 0,
        "rejected": 0,
        "skipped": 0,
        "results": [
            {"id": f"x{i}", "status": "accepted", "type": t} for i, t in enumerate(types, 1)
        ],
    }
    found_events = stored(client, "ada")
    assert found_events["x4"]["data"] == {"exercise_id": f"{functions}/exercises/4", "passed": True}
    assert found_events["x5"]["data"]["passed"] is False
    assert found_events["x7"] == canonical("activity", None, kind="progressed", duration_s=750.0)
    assert found_events["x8"] == canonical("activity", None, kind="experienced")
    found = components(client, "ada", "functions")
    assert found["completion"] == pytest.approx(1 / 10)  # one exercise of ten
    assert found["quiz"] == pytest.approx((0.8 + 0.6) / 2)  # same instant, equal weights


def test_a_resent_statement_is_a_duplicate(client: TestClient) -> None:
    one = statement("x1", "completed", f"{COURSE}/skills/oop/exercises/1")
    first = {"id": "x1", "status": "accepted", "type": "exercise.completed"}
    assert post(client, one).json()["results"] == [first]
    assert post(client, [one]).json()["results"] == [first | {"status": "duplicate"}]


def test_skill_from_an_extension_and_student_from_mbox(client: TestClient) -> None:
    body = statement(
        "x1",
        "answered",
        "https://quiz.example/items/77",
        {"score": {"scaled": 0.5}},
        actor={"mbox": "mailto:grace@example.com"},
        context={"extensions": {SKILL_EXTENSION: "errors"}},
    )
    assert post(client, body, tenant="school-b").status_code == 200
    found = client.get(
        "/v1/students/grace@example.com/skills/errors/mastery", headers={"X-Tenant-ID": "school-b"}
    )
    assert found.json()["components"]["quiz"] == pytest.approx(0.5)


OOP = f"{COURSE}/skills/oop/1"
NO_SKILL = "no skill for activity '{}': put a prefix of its id (or of its course) in a curriculum"
# Statements the old mapping refused that are now kept: an unlisted verb or one without a score
# or a success flag is the learner's activity, a negative scaled score counts as 0, a graded
# statement without a skill is an activity with a warning, an openid names the student.
KEPT: list[tuple[dict[str, Any], dict[str, Any], str | None]] = [
    (statement("k1", "launched", OOP), canonical("activity", "oop", kind="launched"), None),
    (
        statement("k2", "answered", OOP, {"score": {"scaled": -0.5}}),
        canonical("quiz.graded", "oop", quiz_id=OOP, score=0.0),
        None,
    ),
    (
        statement("k3", "answered", OOP, {"response": "b"}),
        canonical("activity", "oop", kind="answered"),
        None,
    ),
    (
        statement("k4", "completed", f"{COURSE}/lessons/1"),
        canonical("activity", None, kind="completed"),
        NO_SKILL.format(f"{COURSE}/lessons/1"),
    ),
    (
        statement("k5", "completed", OOP, actor={"openid": "https://id.example/ada"}),
        canonical("exercise.completed", "oop", exercise_id=OOP),
        None,
    ),
    (
        statement("k6", "completed", OOP, object={"objectType": "StatementRef", "id": "x"}),
        canonical("activity", None, kind="completed"),
        NO_SKILL.format("x"),
    ),
    (
        # raw without min and max is not a score
        statement("k7", "scored", OOP, {"score": {"raw": 5}}),
        canonical("activity", "oop", kind="scored"),
        None,
    ),
]


def test_statements_without_a_graded_meaning_are_kept(client: TestClient) -> None:
    answer = post(client, [body for body, _, _ in KEPT]).json()

    assert (answer["accepted"], answer["rejected"], answer["skipped"]) == (len(KEPT), 0, 0)
    for (body, kept, warning), result in zip(KEPT, answer["results"], strict=True):
        assert result["id"] == body["id"] and result["status"] == "accepted", result
        assert result["type"] == kept["type"], result
        if warning is None:
            assert "warning" not in result, result
        else:
            assert warning in result["warning"], result
            assert result["warning"].endswith("; kept as the learner's activity")
    assert stored(client, "ada") == {body["id"]: kept for body, kept, _ in KEPT}
    assert components(client, "ada", "oop")["quiz"] == 0.0  # the negative score counts 0


REJECTIONS = [
    (
        statement("r5", "completed", OOP, timestamp="2026-03-10T10:15:00"),
        "timestamp has no UTC offset",
    ),
    (
        statement("r6", "completed", OOP, actor={"objectType": "Group", "member": []}),
        "actor.objectType",
    ),
    (
        statement("r7", "completed", OOP, actor={"name": "Ada"}),
        "actor needs account.name, mbox, mbox_sha1sum or openid",
    ),
    (statement("r9", "answered", OOP, {"score": {"scaled": 1.5}}), "result.score.scaled"),
    (
        statement("r10", "scored", OOP, {"score": {"raw": 11, "min": 0, "max": 10}}),
        "result.score.raw 11 is outside min 0 .. max 10",
    ),
    (
        statement("r11", "progressed", f"{COURSE}/m/1", {"duration": "12 minutes"}),
        "not an ISO 8601 duration",
    ),
    (statement("r12", "completed", OOP, timestamp="2099-01-01T00:00:00Z"), "in the future"),
]


def test_unmappable_statements_get_their_own_error(client: TestClient) -> None:
    valid = statement("ok", "completed", f"{COURSE}/skills/oop/exercises/1")
    no_id = {k: v for k, v in valid.items() if k != "id"}
    batch = [valid, *(body for body, _ in REJECTIONS), no_id, "not a statement", None]

    answer = post(client, batch).json()

    assert (answer["accepted"], answer["rejected"]) == (2, len(REJECTIONS) + 2)
    results = answer["results"]
    assert results[0] == {"id": "ok", "status": "accepted", "type": "exercise.completed"}
    for (body, message), result in zip(REJECTIONS, results[1:], strict=False):
        assert result["id"] == body["id"] and result["status"] == "rejected"
        assert message in result["error"], (message, result["error"])
    # A statement without an id gets one derived from its content (a UUID).
    derived = results[-3]
    assert derived == {"id": derived["id"], "status": "accepted", "type": "exercise.completed"}
    assert len(derived["id"]) == 36 and derived["id"] != "ok"
    for result, kind in ((results[-2], "str"), (results[-1], "null")):
        error = f"a statement must be an object with actor, verb and object, got a JSON {kind}"
        assert result == {"id": None, "status": "rejected", "error": error}
    assert set(stored(client, "ada")) == {"ok", derived["id"]}


def test_a_lone_unmappable_statement_gets_its_result(client: TestClient) -> None:
    answer = post(client, REJECTIONS[0][0])
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"] == 1
    assert "timestamp has no UTC offset" in answer.text


def test_a_body_that_is_no_statement_is_a_422(client: TestClient) -> None:
    lone = {k: v for k, v in statement("s1", "completed", OOP).items() if k != "verb"}
    answer = post(client, lone)
    assert answer.status_code == 422
    assert answer.json()["field"] == "verb"
    assert "a statement needs actor, verb, object; missing: verb" in answer.json()["detail"]
    assert post(client, {}).status_code == 422
    assert post(client, "a string").status_code == 422
    broken = client.post(
        "/v1/xapi/statements", content=b"{", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
