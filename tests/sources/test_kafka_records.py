"""Learning records on Kafka against a real broker: Caliper envelopes (one outcome per event)
and bare events, xAPI statements with and without ids, mapped with the tenant's curriculum;
the unmappable ones dead-lettered, the skipped ones counted, one statement over HTTP and Kafka
counted once."""

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mastery_engine.api import create_app
from mastery_engine.core.instants import parse_rfc3339
from mastery_engine.service.mastery import wall_clock_us
from mastery_engine.settings import Settings
from mastery_engine.sources.kafka.dlq import header
from mastery_engine.sources.kafka.stats import ConsumeStats
from mastery_engine.sources.kafka.worker import consume
from mastery_engine.wiring import open_service
from tests.conftest import fixed_clock
from tests.emitters import named
from tests.kafka_broker import Record, produce, read_topic
from tests.sources.streams import Topics
from tests.sources.test_records import CURRICULUM, EDX_STUDENT

TENANT = "school-k"
CANVAS_QUIZZER = "21070000000987123"
CANVAS_VISITOR = "21070000000000001"


def run(settings: Settings) -> ConsumeStats:
    """One burst-mode run of an in-process consumer, on the tests' fixed clock."""
    return asyncio.run(consume(settings, until_idle_s=2.0, clock=fixed_clock()))


def configure(url: str, document: dict[str, Any]) -> None:
    """Store the tenant's configuration through the service, as PUT /v1/config does."""

    async def go() -> None:
        async with open_service(Settings(store_url=url, auth="off")) as service:
            await service.configure(TENANT, document, "test")

    asyncio.run(go())


def kept(url: str, student: str) -> dict[str, dict[str, Any]]:
    """The events the store keeps for a student of the tenant, by id."""

    async def go() -> dict[str, dict[str, Any]]:
        async with open_service(Settings(store_url=url, auth="off")) as service:
            exported = await service.export(TENANT, student, "test")
        return {e["id"]: e for e in exported["events"]}

    return asyncio.run(go())


def message(body: Any, key: str) -> Record:
    return key.encode(), json.dumps(body).encode(), [("tenant", TENANT.encode())]


def canvas_envelope() -> dict[str, Any]:
    """One Canvas envelope holding five of its events: three that map, two that cannot (a
    score above its maximum, a navigation by a software actor)."""
    names = (
        "quiz_submitted",
        "grade_change",
        "asset_accessed (assignment)",
        "asset_accessed (attachment)",
        "logged_in",
    )
    envelope: dict[str, Any] = named("canvas_caliper", names[0])
    envelope["data"] = [named("canvas_caliper", name)["data"][0] for name in names]
    return envelope


def test_records_are_mapped_dead_lettered_or_skipped_per_event(
    topics: Topics, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/records.db"
    configure(url, {"curriculum": CURRICULUM})
    envelope = canvas_envelope()
    quiz, grade, assignment, attachment, login = (e["id"] for e in envelope["data"])
    moodle_quiz = named("moodle_xapi", "mod_quiz attempt_submitted (truefalse) - c")
    assert "id" not in moodle_quiz
    edx_problem = named("openedx_xapi", "problem_check (server) - evaluated")
    edx_grade = named("openedx_caliper", "problem_check (server) - GradeEvent")
    empty = envelope | {"data": []}
    records = [
        message(envelope, CANVAS_QUIZZER),
        message(edx_grade, EDX_STUDENT),
        message(named("openedx_caliper", "edx.course.enrollment.activated"), EDX_STUDENT),
        message(edx_problem, EDX_STUDENT),
        message(moodle_quiz, "1"),
        message(named("moodle_xapi", "core user_enrolment_created"), "1"),
        message(empty, CANVAS_QUIZZER),
    ]
    app = create_app(Settings(store_url=url, auth="off"), clock=fixed_clock())
    with TestClient(app) as client:
        # The Moodle quiz (no id) arrives over HTTP first.
        sent = client.post("/v1/xapi/statements", json=moodle_quiz, headers={"X-Tenant-ID": TENANT})
        assert sent.json()["results"][0]["status"] == "accepted", sent.text
        moodle_id = sent.json()["results"][0]["id"]
        produce(topics.broker.bootstrap, topics.topic, records)

        stats = run(topics.settings(url))

        # The Open edX problem arrived over Kafka: over HTTP now, it is a duplicate.
        again = client.post(
            "/v1/xapi/statements", json=edx_problem, headers={"X-Tenant-ID": TENANT}
        )
        assert again.json()["results"] == [
            {"id": edx_problem["id"], "status": "duplicate", "type": "quiz.graded"}
        ]

    assert stats.messages == len(records)
    # The envelope's quiz, assignment visit and login, the Open edX grade and problem.
    assert (stats.accepted, stats.duplicates, stats.skipped, stats.dead_letters) == (5, 1, 2, 3)
    skills = {
        event_id: (e["type"], e["skill_id"])
        for student in (CANVAS_QUIZZER, CANVAS_VISITOR, EDX_STUDENT, "1")
        for event_id, e in kept(url, student).items()
    }
    assert skills == {
        quiz: ("exercise.completed", "canvas-quizzes"),
        assignment: ("activity", "canvas"),
        login: ("activity", None),
        edx_grade["id"]: ("quiz.graded", "edx"),
        edx_problem["id"]: ("quiz.graded", "edx"),
        moodle_id: ("quiz.graded", "moodle"),
    }
    letters = read_topic(topics.broker.bootstrap, topics.dlq, expect=3)
    assert len(letters) == 3  # the skipped enrolments are not dead letters
    by_event = {header(m, "dlq.event_id"): m for m in letters}
    assert set(by_event) == {grade, attachment, None}
    for letter in letters:
        assert header(letter, "dlq.reason") == "unmappable"
        assert header(letter, "tenant") == TENANT
        assert letter.key() == CANVAS_QUIZZER.encode()
    # An envelope item's letter carries that event alone (a replay sends it alone), and the
    # item's own error.
    [grade_event] = [e for e in envelope["data"] if e.get("id") == grade]
    assert json.loads(by_event[grade].value() or b"") == grade_event
    [attachment_event] = [e for e in envelope["data"] if e.get("id") == attachment]
    assert json.loads(by_event[attachment].value() or b"") == attachment_event
    assert header(by_event[grade], "dlq.field") == "generated.scoreGiven"
    assert "generated.scoreGiven 5 is outside 0 .. maxScore 1" in (
        header(by_event[grade], "dlq.error") or ""
    )
    assert header(by_event[attachment], "dlq.field") == "actor"
    assert "actor is a SoftwareApplication, not a Person" in (
        header(by_event[attachment], "dlq.error") or ""
    )
    assert json.loads(by_event[None].value() or b"") == empty
    assert header(by_event[None], "dlq.field") == "data"
    assert run(topics.settings(url)).messages == 0  # every offset was committed


def test_a_statement_over_kafka_twice_and_then_http_counts_once(
    topics: Topics, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/once.db"
    configure(url, {"curriculum": CURRICULUM})
    moodle_quiz = named("moodle_xapi", "mod_quiz attempt_submitted (truefalse) - c")
    reordered = dict(reversed(list(moodle_quiz.items())))  # another key order, same statement
    produce(
        topics.broker.bootstrap,
        topics.topic,
        [message(moodle_quiz, "1"), message(reordered, "1")],
    )

    stats = run(topics.settings(url))

    assert (stats.accepted, stats.duplicates, stats.dead_letters) == (1, 1, 0)
    (event_id,) = kept(url, "1")
    with TestClient(create_app(Settings(store_url=url, auth="off"), clock=fixed_clock())) as client:
        answer = client.post(
            "/v1/xapi/statements", json=[moodle_quiz], headers={"X-Tenant-ID": TENANT}
        )
        assert answer.json()["results"] == [
            {"id": event_id, "status": "duplicate", "type": "quiz.graded"}
        ]
        mastery = client.get("/v1/students/1/mastery", headers={"X-Tenant-ID": TENANT}).json()
    (moodle,) = [s for s in mastery["skills"] if s["skill_id"] == "moodle"]
    assert moodle["components"]["quiz"] == pytest.approx(0.5)


def test_a_record_without_a_time_takes_the_message_s_broker_timestamp(
    topics: Topics, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/late.db"
    configure(url, {"curriculum": CURRICULUM})
    quiz = named(
        "moodle_xapi", "mod_quiz attempt_submitted (multichoice, fixture without timestamp) - c"
    )
    assert "timestamp" not in quiz and "stored" not in quiz
    before = wall_clock_us()
    produce(topics.broker.bootstrap, topics.topic, [message(quiz, "1")])
    produced = wall_clock_us()
    time.sleep(2.5)  # the consumer reads it later, as from a backlog
    stats = asyncio.run(consume(topics.settings(url), until_idle_s=2.0))  # the real clock
    assert stats.accepted == 1
    [event] = kept(url, "1").values()
    at = parse_rfc3339(event["occurred_at"], "occurred_at")
    assert before - 10**6 <= at <= produced + 10**6  # when it was sent, not when it was read
