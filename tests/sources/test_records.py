"""Learning records over HTTP, on every store: real emitters' statements and events mapped with
the tenant's curriculum and tables, the configuration that drives them, dry runs, reasons."""

import itertools
import random
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from mastery_engine.api import create_app
from mastery_engine.settings import Settings
from tests.conftest import fixed_clock
from tests.emitters import adl_statements, named, samples

XAPI_FAMILIES = ("openedx_xapi", "moodle_xapi", "h5p_xapi")
CALIPER_FAMILIES = ("openedx_caliper", "canvas_caliper", "caliper_spec")
ROUTES = {"xapi": "/v1/xapi/statements", "caliper": "/v1/caliper/events"}
STATUSES = {"accepted", "duplicate", "rejected", "skipped"}

EDX_STUDENT = "32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb"
CANVAS_QUIZZER = "21070000000987123"
H5P_CONTENT = "https://example.org/wp-admin/admin-ajax.php?action=h5p_embed&id=1"
COURSES = {
    # Open edX names its course `.../course/...`; older releases `.../courses/...`.
    "edx": [
        "http://localhost:18000/course/course-v1:edX+DemoX+Demo_Course",
        "http://localhost:18000/courses/course-v1:edX+DemoX+Demo_Course",
    ],
    "moodle": ["http://www.example.org/course/view.php?id=1"],
    "canvas": ["urn:instructure:canvas:course:21070000000000565"],
    "canvas-quizzes": ["urn:instructure:canvas:course:21070000000100123"],
    "cps435": ["https://example.edu/terms/201601/courses/7/sections/1"],
    "h5p": [H5P_CONTENT],
}
CURRICULUM = {
    "skills": [
        {"id": skill, "exercises": 10, "activities": prefixes}
        for skill, prefixes in COURSES.items()
    ]
}


def channel(family: str) -> str:
    return "xapi" if family in XAPI_FAMILIES else "caliper"


def headers(tenant: str) -> dict[str, str]:
    return {"X-Tenant-ID": tenant}


def configure(client: TestClient, tenant: str, document: dict[str, Any] | None = None) -> Any:
    """PUT the tenant's configuration (the emitters' curriculum unless said otherwise)."""
    body = {"curriculum": CURRICULUM} if document is None else document
    answer = client.put("/v1/config", json=body, headers=headers(tenant))
    assert answer.status_code == 200, answer.text
    return answer.json()


def post(
    client: TestClient, kind: str, body: Any, tenant: str, *, dry_run: bool = False
) -> dict[str, Any]:
    """POST records to a channel's route; the answer (always a 200 here)."""
    route = ROUTES[kind] + ("?dry_run=true" if dry_run else "")
    answer = client.post(route, json=body, headers=headers(tenant))
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def exported(client: TestClient, tenant: str) -> dict[str, dict[str, Any]]:
    """Every event the tenant keeps, by id (the export of each of its students)."""
    students = client.get("/v1/students", headers=headers(tenant)).json()["students"]
    found: dict[str, dict[str, Any]] = {}
    for student in students:
        answer = client.get(f"/v1/students/{student}/export", headers=headers(tenant))
        assert answer.status_code == 200, answer.text
        found |= {e["id"]: e for e in answer.json()["events"]}
    return found


def skill_mastery(client: TestClient, tenant: str, student: str, skill: str) -> dict[str, Any]:
    answer = client.get(f"/v1/students/{student}/mastery", headers=headers(tenant))
    assert answer.status_code == 200, answer.text
    (found,) = [s for s in answer.json()["skills"] if s["skill_id"] == skill]
    return dict(found)


def assert_well_formed(answer: dict[str, Any], count: int) -> None:
    """One result per record, each with what its status calls for, and counts that add up."""
    results = answer["results"]
    assert len(results) == count
    for result in results:
        status = result["status"]
        assert status in STATUSES, result
        assert ("type" in result) == (status in ("accepted", "duplicate")), result
        assert ("error" in result) == (status == "rejected"), result
        assert ("reason" in result) == (status == "skipped"), result
    tally = {
        key: sum(r["status"] == status for r in results)
        for key, status in (
            ("accepted", "accepted"),
            ("duplicates", "duplicate"),
            ("rejected", "rejected"),
            ("skipped", "skipped"),
        )
    }
    assert {key: answer[key] for key in tally} == tally


@pytest.mark.parametrize("family", XAPI_FAMILIES + CALIPER_FAMILIES)
def test_every_emitter_sample_gets_a_result_of_its_own(client: TestClient, family: str) -> None:
    configure(client, "emitters")
    for name, body in samples(family).items():
        answer = post(client, channel(family), body, "emitters")
        records = len(body["data"]) if channel(family) == "caliper" and "data" in body else 1
        assert_well_formed(answer, records)
        for result in answer["results"]:
            assert result["status"] != "rejected" or result["error"], name


# (family, sample, type or "skipped", skill, student)
IMPORTANT = [
    ("openedx_xapi", "problem_check (server) - evaluated", "quiz.graded", "edx", EDX_STUDENT),
    ("openedx_xapi", "edx.grades.subsection.grade_calculated -", "quiz.graded", "edx", EDX_STUDENT),
    ("openedx_caliper", "problem_check (server) - GradeEvent", "quiz.graded", "edx", EDX_STUDENT),
    ("moodle_xapi", "mod_quiz attempt_submitted (truefalse) - c", "quiz.graded", "moodle", "1"),
    ("moodle_xapi", "core course_module_completion_updated", "exercise.completed", "moodle", "1"),
    ("h5p_xapi", "answered sub-content question", "quiz.graded", "h5p", "jane@example.org"),
    ("canvas_caliper", "quiz_submitted", "exercise.completed", "canvas-quizzes", CANVAS_QUIZZER),
    ("caliper_spec", "GradeEvent Graded", "quiz.graded", "cps435", "554433"),
    ("openedx_xapi", "edx.ui.lms.sequence.next_selected", "activity", "edx", EDX_STUDENT),
    ("openedx_caliper", "edx.ui.lms.sequence.next_selected", "activity", None, EDX_STUDENT),
    ("canvas_caliper", "asset_accessed (assignment)", "activity", "canvas", "21070000000000001"),
    ("moodle_xapi", "core user_enrolment_created", "skipped", None, None),
    ("openedx_xapi", "edx.course.enrollment.activated", "skipped", None, None),
    ("openedx_caliper", "edx.course.enrollment.activated", "skipped", None, None),
]


def test_the_important_samples_land_as_their_type_on_their_skill(client: TestClient) -> None:
    for n, (family, name, kind, skill, student) in enumerate(IMPORTANT):
        tenant = f"important-{n}"  # Open edX fixtures share ids: one tenant per sample
        configure(client, tenant)
        body = named(family, name)
        dry = post(client, channel(family), body, tenant, dry_run=True)
        answer = post(client, channel(family), body, tenant)

        (result,) = answer["results"]
        (planned,) = dry["results"]
        event = planned.pop("event")
        assert result == planned, name  # the dry run adds `event`, nothing else
        if kind == "skipped":
            assert result["status"] == "skipped" and event is None, (name, result)
            assert "is ignored (enrolment or bookkeeping" in result["reason"]
            assert exported(client, tenant) == {}
            continue
        assert (result["status"], result["type"]) == ("accepted", kind), (name, result)
        assert "warning" not in result, (name, result)
        assert (event["student_id"], event.get("skill_id")) == (student, skill), name
        assert exported(client, tenant)[result["id"]]["skill_id"] == skill
        if skill is None or student is None:
            continue
        found = skill_mastery(client, tenant, student, skill)
        if kind == "quiz.graded":
            assert found["components"]["quiz"] == pytest.approx(event["data"]["score"]), name
        if kind == "exercise.completed":
            assert found["components"]["completion"] == pytest.approx(1 / 10), name
            assert found["mastery"] > 0, name
    # Mastery moves: the positive grades count on their skill.
    moodle = skill_mastery(client, "important-3", "1", "moodle")
    assert moodle["components"]["quiz"] == pytest.approx(0.5) and moodle["mastery"] > 0
    edx = skill_mastery(client, "important-1", EDX_STUDENT, "edx")
    assert edx["components"]["quiz"] == pytest.approx(1.0) and edx["mastery"] > 0


ADL_REFUSED = {"actor": "actor", "no_actor": "actor", "no_object": "object", "verb": "verb.id"}


def test_the_adl_templates_get_results_and_refusals_name_the_field(client: TestClient) -> None:
    templates = adl_statements()
    assert len(templates) > 20
    names = sorted(templates)

    answer = post(client, "xapi", [templates[name] for name in names], "adl")

    assert_well_formed(answer, len(names))
    refused = {}
    for name, result in zip(names, answer["results"], strict=True):
        if result["status"] == "rejected":
            refused[name] = result["error"]
    assert sorted(refused) == sorted([*ADL_REFUSED, "no_verb"])
    for name, field in ADL_REFUSED.items():
        assert refused[name].startswith(field), (name, refused[name])
    assert "verb" in refused["no_verb"]
    # Alone, a template without a field the route needs is a 422 naming it.
    for name in names:
        lone = client.post(ROUTES["xapi"], json=templates[name], headers=headers("adl-lone"))
        assert lone.status_code in (200, 422), (name, lone.text)
        if lone.status_code == 422:
            assert name in ("no_actor", "no_object", "no_verb"), name
            assert lone.json()["field"] == name.removeprefix("no_"), lone.json()


LMS = "https://lms.example"
UNITS = {
    "skills": [
        {"id": "course-one", "exercises": 10, "activities": [f"{LMS}/course-1"]},
        {"id": "unit-two", "exercises": 5, "activities": [f"{LMS}/course-1/unit-2"]},
        {"id": "quiz-seven", "exercises": 1, "activities": [f"{LMS}/mod/quiz/view.php?id=7"]},
    ]
}


def scored(object_id: str, parent: str | None = None, **extra: Any) -> dict[str, Any]:
    """An xAPI statement of a score on an activity, in a context if given."""
    body: dict[str, Any] = {
        "actor": {"account": {"homePage": LMS, "name": "ada"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": object_id},
        "result": {"score": {"scaled": 0.75}},
        "timestamp": "2026-03-10T10:00:00Z",
    }
    if parent is not None:
        body["context"] = {"contextActivities": {"parent": [{"id": parent}]}}
    return body | extra


def caliper_grade(assignable: str, **extra: Any) -> dict[str, Any]:
    """A bare Caliper GradeEvent of Ada's attempt at an assignable."""
    attempt = {
        "id": f"{LMS}/attempts/1",
        "type": "Attempt",
        "assignee": {"id": f"{LMS}/users/ada", "type": "Person"},
        "assignable": assignable,
    }
    body = {
        "id": "urn:uuid:0f5c0b2e-1a53-4c9a-9a3e-1b2c3d4e5f60",
        "type": "GradeEvent",
        "action": "Graded",
        "actor": {"id": f"{LMS}/autograder", "type": "SoftwareApplication"},
        "object": attempt,
        "generated": {"id": f"{LMS}/scores/1", "type": "Score", "scoreGiven": 3, "maxScore": 4},
        "eventTime": "2026-03-10T10:00:00Z",
    }
    return body | extra


def skills_of(client: TestClient, kind: str, records: Any, tenant: str) -> list[str | None]:
    """The skill each record maps to (a dry run)."""
    answer = post(client, kind, records, tenant, dry_run=True)
    return [(r["event"] or {}).get("skill_id") for r in answer["results"]]


def test_skills_by_prefix_and_context_at_boundaries_longest_first(client: TestClient) -> None:
    configure(client, "units", {"curriculum": UNITS})
    statements = [
        scored(f"{LMS}/course-1/unit-2/q1"),  # the longest prefix wins
        scored(f"{LMS}/course-1/unit-20/q1"),  # unit-2 does not catch unit-20
        scored(f"{LMS}/course-10/q1"),  # course-1 does not catch course-10
        scored(f"{LMS}/course-1?item=3"),
        scored(f"{LMS}/course-1"),  # the exact prefix
        scored(f"{LMS}/mod/quiz/view.php?id=7"),
        scored(f"{LMS}/mod/quiz/view.php?id=70"),  # ?id=7 does not catch ?id=70
        scored(f"{LMS}/elsewhere/q", parent=f"{LMS}/course-1/unit-2/x"),  # by context
        scored(f"{LMS}/course-1/q", parent=f"{LMS}/course-1/unit-2"),  # the object's own first
    ]
    expected = ["unit-two", "course-one", None, "course-one", "course-one", "quiz-seven", None]
    expected += ["unit-two", "course-one"]

    assert skills_of(client, "xapi", statements, "units") == expected

    answer = post(client, "xapi", statements, "units")
    assert [r["type"] for r in answer["results"]] == [
        "activity" if skill is None else "quiz.graded" for skill in expected
    ]
    for result, skill in zip(answer["results"], expected, strict=True):
        assert ("warning" in result) == (skill is None), result
    # Caliper: the assignable, then isPartOf (also in object.extensions), then the group.
    inside = caliper_grade(f"{LMS}/other/a1")
    inside["object"]["extensions"] = {"isPartOf": {"id": f"{LMS}/course-1/unit-2"}}
    grouped = caliper_grade(f"{LMS}/other/a2", group={"id": f"{LMS}/course-1"})
    found = [
        skills_of(client, "caliper", body, "units")[0]
        for body in (caliper_grade(f"{LMS}/course-1/unit-2/a"), inside, grouped)
    ]
    assert found == ["unit-two", "unit-two", "course-one"]
    quiz = skill_mastery(client, "units", "ada", "unit-two")["components"]["quiz"]
    assert quiz == pytest.approx(0.75)


NAVIGATED = "https://w3id.org/xapi/dod-isd/verbs/navigated"
EVALUATED = "https://w3id.org/xapi/acrossx/verbs/evaluated"


def test_a_tenant_overrides_the_verb_and_action_tables(client: TestClient) -> None:
    before = client.get("/v1/config", headers=headers("tables")).json()
    overrides = {
        "xapi": {"verbs": {NAVIGATED: "ignore", EVALUATED: "attempted"}},
        "caliper": {"actions": {"NavigationEvent.NavigatedTo": "ignore", "Started": "ignore"}},
    }

    shown = configure(client, "tables", {"curriculum": CURRICULUM, **overrides})

    assert client.get("/v1/config", headers=headers("tables")).json() == shown
    assert shown["xapi"]["verbs"] == before["xapi"]["verbs"] | overrides["xapi"]["verbs"]
    assert shown["caliper"]["actions"] == before["caliper"]["actions"] | {
        "NavigationEvent.NavigatedTo": "ignore",
        "Started": "ignore",
    }
    assert shown["xapi"]["verbs"]["http://adlnet.gov/expapi/verbs/registered"] == "ignore"
    navigated = post(client, "xapi", named("openedx_xapi", "edx.ui.lms.sequence.next"), "tables")
    assert navigated["results"][0]["status"] == "skipped"
    assert NAVIGATED in navigated["results"][0]["reason"]
    assert "xapi.verbs" in navigated["results"][0]["reason"]
    evaluated = post(
        client, "xapi", named("openedx_xapi", "problem_check (server) - eval"), "tables"
    )
    assert evaluated["results"][0]["type"] == "exercise.attempted"
    media = post(client, "caliper", named("openedx_caliper", "play_video"), "tables")
    assert "'MediaEvent.Started' is ignored" in media["results"][0]["reason"]
    canvas = post(client, "caliper", named("canvas_caliper", "asset_accessed (assign"), "tables")
    assert canvas["results"][0]["status"] == "skipped"
    # Other tenants keep the defaults.
    other = post(client, "xapi", named("openedx_xapi", "edx.ui.lms.sequence.next"), "other")
    assert other["results"][0]["type"] == "activity"


@pytest.mark.parametrize(
    ("document", "field", "messages"),
    [
        (
            {"xapi": {"verbs": {NAVIGATED: "skip"}}},
            f"xapi.verbs.{NAVIGATED}",
            ("'skip'", "allowed: graded, completed, attempted, activity, ignore"),
        ),
        (
            {"caliper": {"actions": {"Started": 3}}},
            "caliper.actions.Started",
            ("allowed: graded, completed, attempted, activity, ignore",),
        ),
        (
            {"curriculum": {"skills": [{"id": "a", "exercises": 1, "activity": ["x"]}]}},
            "skills[0].activity",
            ("unknown keys ['activity']", "allowed: id, exercises, prerequisites, activities"),
        ),
        (
            {
                "curriculum": {
                    "skills": [
                        {"id": "sets", "exercises": 1, "activities": [f"{LMS}/c"]},
                        {"id": "maps", "exercises": 1, "activities": [f"{LMS}/c"]},
                    ]
                }
            },
            "activities",
            (f"'{LMS}/c' is on two skills, 'sets' and 'maps'",),
        ),
    ],
)
def test_a_configuration_the_tables_cannot_take_is_a_422(
    client: TestClient, document: dict[str, Any], field: str, messages: tuple[str, ...]
) -> None:
    configure(client, "strict")
    answer = client.put("/v1/config", json=document, headers=headers("strict"))

    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    for message in messages:
        assert message in answer.json()["detail"], answer.json()
    # The configuration in force is unchanged.
    kept = client.get("/v1/config", headers=headers("strict")).json()
    assert kept["curriculum"]["skills"][0]["activities"] == COURSES["edx"]


@pytest.mark.parametrize("family", ["moodle_xapi", "canvas_caliper"])
def test_a_dry_run_answers_the_events_and_stores_nothing(client: TestClient, family: str) -> None:
    configure(client, "dry")
    kind = channel(family)
    if kind == "xapi":
        records: Any = list(samples(family).values())
        student = "1"
    else:
        envelopes = list(samples(family).values())
        records = envelopes[0] | {"data": [e for env in envelopes for e in env["data"]]}
        student = CANVAS_QUIZZER

    dry = post(client, kind, records, "dry", dry_run=True)

    assert client.get(f"/v1/students/{student}/mastery", headers=headers("dry")).status_code == 404
    assert client.get("/v1/students", headers=headers("dry")).json()["students"] == []
    answer = post(client, kind, records, "dry")
    assert answer["accepted"] > 0 and answer["duplicates"] == 0
    planned = [{k: v for k, v in r.items() if k != "event"} for r in dry["results"]]
    assert answer["results"] == planned
    assert {k: v for k, v in dry.items() if k != "results"} == {
        k: v for k, v in answer.items() if k != "results"
    }
    kept = exported(client, "dry")
    for result in dry["results"]:
        event = result["event"]
        if result["status"] in ("accepted", "duplicate"):
            assert event["id"] == result["id"] and event["type"] == result["type"]
            stored = {k: v for k, v in kept[event["id"]].items() if k != "ingested_at"}
            assert stored == {"skill_id": None} | event
        else:
            assert event is None, result
    # A dry run looks nothing up in the store: stored records are not reported duplicates.
    again = post(client, kind, records, "dry", dry_run=True)
    assert again == dry


def test_reasons_are_specific_and_a_refusal_does_not_block_its_batch(client: TestClient) -> None:
    configure(client, "reasons", {"curriculum": UNITS})
    ok = scored(f"{LMS}/course-1/q1", id="6f5e8d7c-0000-4000-8000-000000000001")
    enrolled = scored(f"{LMS}/course-1", verb={"id": "http://adlnet.gov/expapi/verbs/registered"})
    nobody = scored(f"{LMS}/course-1/q2", actor={"objectType": "Agent", "name": "Ada"})
    bad_time = scored(f"{LMS}/course-1/q3", timestamp="10/03/2026 10:00")
    bad_score = scored(f"{LMS}/course-1/q4", result={"score": {"scaled": "0.8"}})
    bad_raw = scored(f"{LMS}/course-1/q5", result={"score": {"raw": "8", "min": 0, "max": 10}})
    batch = [enrolled, nobody, ok, bad_time, bad_score, bad_raw]

    answer = post(client, "xapi", batch, "reasons")

    assert_well_formed(answer, len(batch))
    skipped, no_learner, accepted, time, score, raw = answer["results"]
    assert "verb 'http://adlnet.gov/expapi/verbs/registered' is ignored" in skipped["reason"]
    assert no_learner["error"].startswith("actor needs account.name, mbox, mbox_sha1sum or openid")
    assert accepted == {"id": ok["id"], "status": "accepted", "type": "quiz.graded"}
    assert time["error"].startswith("timestamp"), time
    assert score["error"].startswith("result.score.scaled"), score
    assert raw["error"].startswith("result.score.raw"), raw
    fields = [r.get("field") for r in (no_learner, time, score, raw)]
    assert fields == ["actor", "timestamp", "result.score.scaled", "result.score.raw"]
    assert list(exported(client, "reasons")) == [ok["id"]]
    # A time too far ahead is refused naming the record's own field.
    ahead = scored(f"{LMS}/course-1/q6", timestamp="2099-01-01T00:00:00Z")
    [late] = post(client, "xapi", [ahead], "reasons")["results"]
    assert (late["status"], late["field"]) == ("rejected", "timestamp"), late
    # Caliper: the same in an envelope.
    grade = caliper_grade(f"{LMS}/course-1/a")
    events = [
        grade | {"id": "urn:uuid:c1", "generated": {"id": "s", "scoreGiven": "x", "maxScore": 4}},
        grade | {"id": "urn:uuid:c2", "eventTime": "2026-03-10 10:00"},
        grade | {"id": "urn:uuid:c3", "object": grade["object"] | {"assignee": None}},
        grade | {"id": "urn:uuid:c4", "type": "Event", "action": "Activated"},
        grade | {"id": "urn:uuid:c5"},
    ]
    envelope = {"sensor": LMS, "sendTime": "2026-03-10T10:00:01Z", "dataVersion": "v1p2"}
    answer = post(client, "caliper", envelope | {"data": events}, "reasons")
    assert_well_formed(answer, len(events))
    score, time, learner, enrolment, accepted = answer["results"]
    assert score["error"].startswith("generated.scoreGiven is 'x'"), score
    assert time["error"].startswith("eventTime"), time
    assert "object.assignee" in learner["error"], learner
    assert "action 'Event.Activated' is ignored" in enrolment["reason"]
    assert accepted == {"id": "urn:uuid:c5", "status": "accepted", "type": "quiz.graded"}


_tenants = itertools.count()


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same JSON with every object's keys in another order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: shuffled(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


STATEMENTS = [body for family in XAPI_FAMILIES for body in samples(family).values()]


def test_a_statement_sent_twice_counts_once(client: TestClient) -> None:
    @settings(max_examples=25, deadline=None)
    @given(
        statement=st.sampled_from(STATEMENTS),
        drop_id=st.booleans(),
        together=st.booleans(),
        seed=st.integers(0, 2**16),
    )
    def check(statement: Any, drop_id: bool, together: bool, seed: int) -> None:
        tenant = f"twice-{next(_tenants)}"
        first = {k: v for k, v in statement.items() if not (drop_id and k == "id")}
        second = shuffled(first, random.Random(seed))  # another key order: the same statement
        if together:
            results = post(client, "xapi", [first, second], tenant)["results"]
        else:
            results = post(client, "xapi", first, tenant)["results"]
            results += post(client, "xapi", second, tenant)["results"]
        once, again = results
        assert again["id"] == once["id"]
        if once["status"] == "accepted":
            assert again == once | {"status": "duplicate"}
            assert list(exported(client, tenant)) == [once["id"]]
        else:
            assert again == once and exported(client, tenant) == {}

    configure(client, "unused")  # the store is up before hypothesis starts
    check()


SECRET = "records-secret-" + "0123456789" * 4


@pytest.fixture
def secured() -> Iterator[TestClient]:
    settings_ = Settings(store_url="memory://", auth="jwt", jwt_secret=SECRET)
    with TestClient(create_app(settings_, clock=fixed_clock())) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("family", "name"),
    [("moodle_xapi", "mod_quiz attempt_submitted (truefalse) - c"), ("canvas_caliper", "quiz_s")],
)
def test_a_dry_run_needs_credentials_too(secured: TestClient, family: str, name: str) -> None:
    route = ROUTES[channel(family)]
    for query in ("?dry_run=true", "?dry_run=false", ""):
        answer = secured.post(route + query, json=named(family, name), headers=headers("school-a"))
        assert answer.status_code == 401, answer.text
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert "results" not in answer.json()
    claims = {"sub": "ops", "tenant": "school-a", "roles": ["admin"], "exp": int(time.time()) + 60}
    admin = {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}
    assert secured.get("/v1/students", headers=admin).json()["students"] == []
