"""POST /v1/caliper/events with Caliper 1.2 envelopes, accepted and rejected, on every store."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mastery_engine.api import create_app
from mastery_engine.settings import Settings
from tests.conftest import fixed_clock

SKILL_EXTENSION = "https://lms.example/caliper/extensions/skill"
COURSE = "https://lms.example/courses/python"
USERS = "https://lms.example/users"
APP = {"id": "https://lms.example", "type": "SoftwareApplication"}
GRADER = {"id": "https://lms.example/autograder", "type": "SoftwareApplication"}
TENANT = "school-a"
AT = "2026-03-10T12:00:00.000Z"  # noon: no intra-day recency offset
LATER = "2026-03-16T12:00:00.000Z"  # six days later
HALF_LIFE_DAYS = 30.0  # the default formula
WINDOW_DAYS = 14


@pytest.fixture
def client(backend_url: str) -> Iterator[TestClient]:
    """An API client on a fresh store of each backend, a Caliper skill extension configured."""
    settings = Settings(store_url=backend_url, auth="off", caliper_skill_extension=SKILL_EXTENSION)
    with TestClient(create_app(settings, clock=fixed_clock())) as test_client:
        yield test_client


def person(user: str) -> dict[str, Any]:
    return {"id": f"{USERS}/{user}", "type": "Person"}


def caliper(
    event_id: str, kind: str, action: str, target: Any, *, actor: Any = None, **extra: Any
) -> dict[str, Any]:
    """A Caliper 1.2 event as a sensor sends it; the actor is Ada unless said otherwise."""
    body: dict[str, Any] = {
        "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "id": event_id,
        "type": kind,
        "actor": person("ada") if actor is None else actor,
        "action": action,
        "object": target,
        "eventTime": AT,
        "edApp": APP,
    }
    return body | extra


def score(given: Any, most: Any = None) -> dict[str, Any]:
    """A generated Score entity."""
    found: dict[str, Any] = {"id": "https://lms.example/scores/1", "type": "Score"}
    found["scoreGiven"] = given
    if most is not None:
        found["maxScore"] = most
    return found


def graded(
    event_id: str, assignable: Any, given: float, most: float, **extra: Any
) -> dict[str, Any]:
    """A GradeEvent: an autograder scores Ada's attempt at an assignable."""
    attempt = {
        "id": f"{COURSE}/attempts/{event_id}",
        "type": "Attempt",
        "assignee": f"{USERS}/ada",
        "assignable": assignable,
        "count": 1,
    }
    event = caliper(event_id, "GradeEvent", "Graded", attempt, actor=GRADER)
    return event | {"generated": score(given, most)} | extra


def resource(activity: str, **extra: Any) -> dict[str, Any]:
    return {"id": activity, "type": "AssignableDigitalResource"} | extra


def envelope(*events: Any) -> dict[str, Any]:
    return {
        "sensor": "https://lms.example/sensors/1",
        "sendTime": "2026-03-16T12:00:05.000Z",
        "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "data": list(events),
    }


def post(client: TestClient, body: Any, tenant: str = TENANT) -> Any:
    return client.post("/v1/caliper/events", json=body, headers={"X-Tenant-ID": tenant})


def mastery(client: TestClient, student: str, skill: str, tenant: str = TENANT) -> Any:
    path = f"/v1/students/{student}/skills/{skill}/mastery"
    return client.get(path, headers={"X-Tenant-ID": tenant})


def stored(client: TestClient, student: str, tenant: str = TENANT) -> dict[str, dict[str, Any]]:
    """The canonical events kept for a student (from the export), by id."""
    found = client.get(f"/v1/students/{student}/export", headers={"X-Tenant-ID": tenant})
    assert found.status_code == 200, found.text
    return {
        e["id"]: {k: v for k, v in e.items() if k not in ("id", "ingested_at")}
        for e in found.json()["events"]
    }


def assert_unknown(client: TestClient, student: str, tenant: str = TENANT) -> None:
    """The tenant holds no event of this student."""
    found = client.get(f"/v1/students/{student}/export", headers={"X-Tenant-ID": tenant})
    assert found.status_code == 404, found.text
    assert f"student {student!r} has no events in this tenant" in found.json()["detail"]


def canonical(event_type: str, skill: str | None, at: str = AT, **data: Any) -> dict[str, Any]:
    """A canonical event of Ada, as the store keeps it."""
    occurred = at.replace(".000Z", "Z")
    body = {"type": event_type, "student_id": "ada", "skill_id": skill, "occurred_at": occurred}
    return body | {"data": data}


def accepted(*results: tuple[str, str]) -> dict[str, Any]:
    """The answer when every event is accepted: (id, the type it was stored as) each."""
    found = [{"id": i, "status": "accepted", "type": t} for i, t in results]
    return {"accepted": len(found), "duplicates": 0, "rejected": 0, "skipped": 0, "results": found}


def activities(*ids: str) -> dict[str, Any]:
    """The answer when every event is accepted as the learner's activity."""
    return accepted(*((i, "activity") for i in ids))


FUNCTIONS = f"{COURSE}/skills/functions"


def test_each_mapped_event_and_action_becomes_its_canonical_event(client: TestClient) -> None:
    session = {"id": f"{COURSE}/sessions/9", "type": "Session", "user": f"{USERS}/ada"}
    item = {"id": f"{FUNCTIONS}/assess/1/items/3", "type": "AssessmentItem"}
    response = {"id": f"{COURSE}/responses/1", "type": "Response"}
    batch = [
        graded("g1", f"{FUNCTIONS}/assess/1", 12, 15),
        caliper(
            "i1", "AssessmentItemEvent", "Completed", item, generated=score(1, 2), eventTime=LATER
        ),
        caliper("i2", "AssessmentItemEvent", "Started", item),
        caliper("i3", "AssessmentItemEvent", "Skipped", item),
        caliper("i4", "AssessmentItemEvent", "Completed", item, generated=response),
        caliper("a1", "AssignableEvent", "Completed", resource(f"{FUNCTIONS}/exercises/1")),
        caliper(
            "a2",
            "AssignableEvent",
            "Submitted",
            resource(f"{FUNCTIONS}/exercises/2"),
            eventTime=LATER,
        ),
        caliper("s1", "SessionEvent", "LoggedIn", APP, session=session),
        caliper("s2", "SessionEvent", "LoggedOut", APP, session=session),
        # A system actor: the student is the user of the event's session.
        caliper(
            "s3",
            "SessionEvent",
            "TimedOut",
            session,
            actor=APP,
            session=session,
            eventTime="2026-03-18T11:00:00+02:00",
        ),
    ]

    answer = post(client, envelope(*batch))

    assert answer.status_code == 200, answer.text
    assert answer.json() == accepted(
        ("g1", "quiz.graded"),
        ("i1", "quiz.graded"),
        ("i2", "activity"),
        ("i3", "activity"),
        ("i4", "activity"),
        ("a1", "exercise.completed"),
        ("a2", "exercise.completed"),
        ("s1", "activity"),
        ("s2", "activity"),
        ("s3", "activity"),
    )
    assert stored(client, "ada") == {
        "g1": canonical("quiz.graded", "functions", quiz_id=f"{FUNCTIONS}/assess/1", score=12 / 15),
        "i1": canonical("quiz.graded", "functions", LATER, quiz_id=item["id"], score=0.5),
        "i2": canonical("activity", "functions", kind="assessment_item.started"),
        "i3": canonical("activity", "functions", kind="assessment_item.skipped"),
        "i4": canonical("activity", "functions", kind="assessment_item.completed"),
        "a1": canonical("exercise.completed", "functions", exercise_id=f"{FUNCTIONS}/exercises/1"),
        "a2": canonical(
            "exercise.completed", "functions", LATER, exercise_id=f"{FUNCTIONS}/exercises/2"
        ),
        "s1": canonical("activity", None, kind="session.loggedin"),
        "s2": canonical("activity", None, kind="session.loggedout"),
        "s3": canonical("activity", None, "2026-03-18T09:00:00Z", kind="session.timedout"),
    }
    found = mastery(client, "ada", "functions")
    assert found.status_code == 200, found.text
    later = 2 ** (6 / HALF_LIFE_DAYS)  # recency weight of a score six days newer
    expected = {
        "completion": 2 / 10,  # two exercises of the ten of `functions`
        "quiz": (12 / 15 + 0.5 * later) / (1 + later),
        "quality": 0.0,
        "consistency": 3 / WINDOW_DAYS,  # 03-10, 03-16 and 03-18 are active
    }
    assert found.json()["components"] == pytest.approx(expected, abs=1e-6)
    weighted = 0.4 * expected["completion"] + 0.3 * expected["quiz"] + 0.1 * 3 / WINDOW_DAYS
    assert found.json()["mastery"] == pytest.approx(weighted, abs=1e-6)


def test_session_events_only_mark_days_active(client: TestClient) -> None:
    days = ["2026-03-01T09:00:00Z", "2026-03-12T09:00:00Z", "2026-03-19T09:00:00Z"]
    batch = [
        caliper(f"s{n}", "SessionEvent", "LoggedIn", APP, eventTime=day)
        for n, day in enumerate(days)
    ]

    assert post(client, envelope(*batch)).json() == activities("s0", "s1", "s2")

    assert all(e["skill_id"] is None for e in stored(client, "ada").values())
    components = mastery(client, "ada", "basics").json()["components"]
    # 03-01 is outside the 14-day window ending 03-20; the other two days are in it.
    assert components == pytest.approx(
        {"completion": 0.0, "quiz": 0.0, "quality": 0.0, "consistency": 2 / WINDOW_DAYS}
    )


def test_a_resent_event_is_a_duplicate(client: TestClient) -> None:
    done = caliper("a1", "AssignableEvent", "Completed", resource(f"{COURSE}/skills/oop/ex/1"))
    assert post(client, envelope(done)).json() == accepted(("a1", "exercise.completed"))

    again = post(client, envelope(done, done)).json()

    assert again == {
        "accepted": 0,
        "duplicates": 2,
        "rejected": 0,
        "skipped": 0,
        "results": [{"id": "a1", "status": "duplicate", "type": "exercise.completed"}] * 2,
    }
    # A bare event (no envelope) is the same event.
    assert post(client, done).json()["results"] == [again["results"][0]]
    twice = post(client, envelope(*[caliper("a2", "SessionEvent", "LoggedIn", APP)] * 2)).json()
    assert [r["status"] for r in twice["results"]] == ["accepted", "duplicate"]
    found = mastery(client, "ada", "oop").json()["components"]
    assert found["completion"] == pytest.approx(1 / 15)  # counted once


def test_the_skill_comes_from_an_extension_else_the_activity_id(client: TestClient) -> None:
    named = {SKILL_EXTENSION: "errors"}
    assignable = resource("https://quiz.example/assess/7", extensions={SKILL_EXTENSION: "oop"})
    batch = [
        # The event's own extensions first, then the object's, then the graded assignable's.
        caliper(
            "e1",
            "AssignableEvent",
            "Completed",
            resource(f"{COURSE}/skills/basics/1", extensions={SKILL_EXTENSION: "files"}),
            extensions=named,
        ),
        caliper(
            "e2",
            "AssignableEvent",
            "Completed",
            resource("https://lms.example/x/2", extensions=named),
        ),
        graded("e3", assignable, 3, 4),
        # A value that is not a non-empty string is ignored: the id names the skill.
        caliper(
            "e4",
            "AssignableEvent",
            "Completed",
            resource(f"{COURSE}/skills/basics/4", extensions={SKILL_EXTENSION: 5}),
        ),
        caliper(
            "e5",
            "AssignableEvent",
            "Completed",
            resource(f"{COURSE}/skills/control-flow", extensions={SKILL_EXTENSION: ""}),
        ),
        # The skill is one path segment; a path or a query may follow it.
        caliper("e6", "AssignableEvent", "Submitted", f"{COURSE}/skills/libraries?attempt=2"),
        caliper("e7", "AssignableEvent", "Submitted", f"{COURSE}/skills/libraries/ex/3#part-b"),
    ]

    answer = post(client, envelope(*batch), tenant="school-b")

    assert answer.json() == accepted(
        *((i, "exercise.completed") for i in ("e1", "e2")),
        ("e3", "quiz.graded"),
        *((i, "exercise.completed") for i in ("e4", "e5", "e6", "e7")),
    )
    skills = {i: e["skill_id"] for i, e in stored(client, "ada", tenant="school-b").items()}
    assert skills == {
        "e1": "errors",
        "e2": "errors",
        "e3": "oop",
        "e4": "basics",
        "e5": "control-flow",
        "e6": "libraries",
        "e7": "libraries",
    }
    quiz = mastery(client, "ada", "oop", tenant="school-b").json()["components"]["quiz"]
    assert quiz == pytest.approx(3 / 4, abs=1e-6)
    # The tenant comes from the header: another tenant sees none of it.
    assert_unknown(client, "ada", tenant=TENANT)


def test_a_configured_activity_pattern_names_the_skill(backend_url: str) -> None:
    pattern = "https://lms.example/courses/*/units/{skill_id}"
    settings = Settings(store_url=backend_url, auth="off", activity_skill_pattern=pattern)
    batch = [
        caliper("p1", "AssignableEvent", "Completed", f"{COURSE}/units/functions/ex/1"),
        caliper("p2", "AssignableEvent", "Completed", f"{COURSE}/skills/functions/ex/2"),
    ]
    with TestClient(create_app(settings, clock=fixed_clock())) as client:
        results = post(client, envelope(*batch)).json()["results"]

        assert results[0] == {"id": "p1", "status": "accepted", "type": "exercise.completed"}
        # Without a skill, a completion is kept as the learner's activity, with a warning.
        assert results[1] == {
            "id": "p2",
            "status": "accepted",
            "type": "activity",
            "warning": results[1]["warning"],
        }
        assert (
            f"no skill for activity '{COURSE}/skills/functions/ex/2': put a prefix of its id (or"
            " of its course) in a curriculum skill's `activities`, or an id shaped like"
            f" '{pattern}' (MASTERY_ACTIVITY_SKILL_PATTERN)"
        ) in results[1]["warning"]
        found = stored(client, "ada")
        assert found["p1"]["skill_id"] == "functions"
        assert found["p2"] == canonical("activity", None, kind="assignable.completed")


OOP = f"{COURSE}/skills/oop/assess/1"
# Events the action table does not name, a GradeEvent without a score, and one without a skill
# are each kept as the learner's activity (on their skill, if they have one).
KEPT_AS_ACTIVITY: list[tuple[dict[str, Any], dict[str, Any]]] = [
    (
        caliper("k1", "NavigationEvent", "NavigatedTo", OOP),
        canonical("activity", "oop", kind="navigation.navigatedto"),
    ),
    (
        caliper("k2", "AssignableEvent", "Started", OOP),
        canonical("activity", "oop", kind="assignable.started"),
    ),
    (
        caliper("k3", "SessionEvent", "Started", APP),
        canonical("activity", None, kind="session.started"),
    ),
    (
        caliper("k4", "AssessmentItemEvent", "Submitted", OOP),
        canonical("activity", "oop", kind="assessment_item.submitted"),
    ),
    (
        graded("k5", OOP, 1, 1) | {"generated": None},
        canonical("activity", "oop", kind="grade.graded"),
    ),
    (
        caliper("k6", "AssignableEvent", "Completed", "https://lms.example/lessons/1"),
        canonical("activity", None, kind="assignable.completed"),
    ),
]


def test_events_without_a_graded_meaning_are_kept_as_activity(client: TestClient) -> None:
    answer = post(client, envelope(*(body for body, _ in KEPT_AS_ACTIVITY)))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    warned = body["results"][-1].pop("warning")
    assert body == activities(*(event["id"] for event, _ in KEPT_AS_ACTIVITY))
    assert (
        "no skill for activity 'https://lms.example/lessons/1': put a prefix of its id (or of"
        " its course) in a curriculum skill's `activities`, or the extension"
        f" '{SKILL_EXTENSION}' or an id shaped like '*/skills/{{skill_id}}'"
    ) in warned
    assert stored(client, "ada") == {event["id"]: kept for event, kept in KEPT_AS_ACTIVITY}
    found = mastery(client, "ada", "oop").json()["components"]
    assert (found["completion"], found["quiz"]) == (0.0, 0.0)


REJECTIONS: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    (graded("r6", OOP, 20, 15), ("generated.scoreGiven 20 is outside 0 .. maxScore 15",)),
    (
        caliper("r7", "AssessmentItemEvent", "Completed", OOP, generated=score(2)),
        ("generated.maxScore is missing; the score is scoreGiven / maxScore (above 0)",),
    ),
    (graded("r8", OOP, -1, 4), ("generated.scoreGiven -1 is outside 0 .. maxScore 4",)),
    (graded("r9", OOP, 0, 0), ("generated.maxScore is 0",)),
    (
        graded("r10", OOP, 1, 2) | {"object": {"id": f"{COURSE}/attempts/1", "assignable": OOP}},
        ("a GradeEvent needs object.assignee, its learner (the actor is the grader)",),
    ),
    (
        caliper("r12", "AssignableEvent", "Completed", OOP, eventTime="2026-03-10T10:15:00"),
        ("eventTime has no UTC offset",),
    ),
    (
        caliper("r13", "AssignableEvent", "Completed", OOP, eventTime="yesterday"),
        ("eventTime must be an RFC 3339 date-time", "'yesterday'"),
    ),
    (
        caliper("r14", "AssignableEvent", "Completed", OOP, eventTime="2099-01-01T00:00:00Z"),
        ("is more than 300 s in the future",),
    ),
    (
        {k: v for k, v in caliper("r15", "SessionEvent", "LoggedIn", APP).items() if k != "action"},
        ("action: Field required",),
    ),
    (
        {k: v for k, v in caliper("r16", "SessionEvent", "LoggedIn", APP).items() if k != "actor"},
        ("actor: Field required",),
    ),
    (
        caliper("r17", "AssignableEvent", "Completed", {"type": "Assessment"}),
        ("object.id: Field required",),
    ),
    (caliper("r18", "AssignableEvent", "Completed", OOP, actor=42), ("actor", "valid")),
    (
        caliper("r19", "AssignableEvent", "Completed", OOP, extensions=["oop"]),
        ("extensions", "valid dictionary"),
    ),
    (
        graded("r20", OOP, 1, 2) | {"generated": score("ten", 2)},
        ("generated.scoreGiven is 'ten'; it must be a finite number",),
    ),
    (
        graded("r22", OOP, 1, 2) | {"generated": score(True, 2)},
        ("generated.scoreGiven is True; it must be a finite number",),
    ),
]


def test_unmappable_events_get_their_own_error(client: TestClient) -> None:
    valid = caliper("ok1", "AssignableEvent", "Completed", resource(f"{COURSE}/skills/oop/ex/1"))
    also = graded("ok2", OOP, 9, 10)
    no_id = {k: v for k, v in valid.items() if k not in ("id", "eventTime")}
    batch = [valid, *(body for body, _ in REJECTIONS), also, no_id, "https://lms.example/e/1", 7]

    answer = post(client, envelope(*batch))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    counts = (body["accepted"], body["duplicates"], body["rejected"], body["skipped"])
    assert counts == (3, 0, len(REJECTIONS) + 2, 0)
    results = body["results"]
    assert len(results) == len(batch)
    assert results[0] == {"id": "ok1", "status": "accepted", "type": "exercise.completed"}
    for (event, messages), result in zip(REJECTIONS, results[1:], strict=False):
        assert result["id"] == event["id"] and result["status"] == "rejected", result
        for message in messages:
            assert message in result["error"], (event["id"], message, result["error"])
    assert results[len(REJECTIONS) + 1] == {
        "id": "ok2",
        "status": "accepted",
        "type": "quiz.graded",
    }
    derived, iri, number = results[-3:]
    # Without an id the event gets one derived from its content, and without eventTime the
    # time it was received (the fixed clock).
    assert derived == {"id": derived["id"], "status": "accepted", "type": "exercise.completed"}
    for result, kind in ((iri, "str"), (number, "int")):
        assert result["id"] is None and result["status"] == "rejected"
        assert result["error"] == (
            "a Caliper event must be an object with id, type, action, actor, object and"
            f" eventTime, got a JSON {kind}"
        )
    # Only the valid events were applied.
    found_events = stored(client, "ada")
    assert set(found_events) == {"ok1", "ok2", derived["id"]}
    assert found_events[derived["id"]]["occurred_at"] == "2026-03-20T12:00:00Z"
    found = mastery(client, "ada", "oop").json()["components"]
    assert found["completion"] == pytest.approx(1 / 15)  # ok1 and its copy: one exercise
    assert found["quiz"] == pytest.approx(0.9, abs=1e-6)


ONE = caliper("m1", "SessionEvent", "LoggedIn", APP)
MALFORMED: list[tuple[Any, str | None, str]] = [
    ({k: v for k, v in envelope(ONE).items() if k != "sensor"}, "sensor", "sensor: Field required"),
    (
        {k: v for k, v in envelope(ONE).items() if k != "sendTime"},
        "sendTime",
        "sendTime: Field required",
    ),
    (
        {k: v for k, v in envelope(ONE).items() if k != "dataVersion"},
        "dataVersion",
        "dataVersion: Field required",
    ),
    ({k: v for k, v in envelope(ONE).items() if k != "data"}, "data", "data: Field required"),
    (envelope(ONE) | {"sensor": 5}, "sensor", "sensor: Input should be a valid string"),
    (envelope(ONE) | {"sendTime": None}, "sendTime", "sendTime: Input should be a valid string"),
    (envelope(ONE) | {"dataVersion": ["1.2"]}, "dataVersion", "dataVersion: Input should be"),
    (envelope(ONE) | {"data": ONE}, "data", "data: Input should be a valid list"),
    (envelope(ONE) | {"data": "events"}, "data", "data: Input should be a valid list"),
    (envelope(), "data", "data: the envelope holds no events"),
    ([envelope(ONE)], None, "body must be a Caliper envelope object with sensor, sendTime,"),
    ([ONE], None, "or one Caliper event with id, type, action, actor, object and eventTime;"),
    ([ONE], None, "got a JSON list"),
    ("an envelope", None, "got a JSON str"),
    (True, None, "got a JSON bool"),
    (42, None, "got a JSON int"),
]


def test_a_malformed_envelope_is_a_422_and_applies_nothing(client: TestClient) -> None:
    for body, field, message in MALFORMED:
        answer = post(client, body)

        assert answer.status_code == 422, (body, answer.text)
        error = answer.json()
        assert error["field"] == field, (body, error)
        assert message in error["detail"], (body, error)
    assert_unknown(client, "ada")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"sensor": "s", "data": [', "request body is not valid JSON"),
        (b"sensor=s&data=x", "request body is not valid JSON"),
        (b"", "request body is empty"),
        (b"  \n", "request body is empty"),
    ],
)
def test_a_body_that_is_not_json_is_a_400(client: TestClient, content: bytes, message: str) -> None:
    answer = client.post(
        "/v1/caliper/events",
        content=content,
        headers={"content-type": "application/json", "X-Tenant-ID": TENANT},
    )

    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "malformed_body"
    assert message in answer.json()["detail"]


def test_an_envelope_over_the_batch_limit_is_a_413(client: TestClient) -> None:
    batch = [caliper(f"b{n}", "SessionEvent", "LoggedIn", APP) for n in range(1001)]

    answer = post(client, envelope(*batch))

    assert answer.status_code == 413, answer.text
    assert "a batch holds at most 1000 records, got 1001" in answer.json()["detail"]
    assert_unknown(client, "ada")


def test_a_timed_out_session_as_the_spec_shapes_it_names_its_user(client: TestClient) -> None:
    timed_out = caliper(
        "t1",
        "SessionEvent",
        "TimedOut",
        {"id": f"{COURSE}/sessions/9", "type": "Session", "user": f"{USERS}/ada"},
        actor=APP,
    )

    assert post(client, envelope(timed_out)).json() == activities("t1")


def test_the_rate_limit_counts_each_event_of_an_envelope() -> None:
    settings = Settings(store_url="memory://", auth="off", ingest_rate_limit="2/minute")
    batch = [caliper(f"l{n}", "SessionEvent", "LoggedIn", APP) for n in range(3)]
    with TestClient(create_app(settings, clock=fixed_clock())) as client:
        assert post(client, envelope(*batch)).status_code == 429
