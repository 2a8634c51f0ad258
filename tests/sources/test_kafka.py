"""The Kafka consumer against a real broker: volume with duplicates and poison, formats, replay."""

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

from mastery_engine.core.changes import significant
from mastery_engine.core.instants import format_us
from mastery_engine.formats.contracts import DeadLetterHeaders, MasteryChanged
from mastery_engine.service.mastery import wall_clock_us
from mastery_engine.settings import Settings
from mastery_engine.sources.kafka.dlq import header, headers_of
from mastery_engine.sources.kafka.stats import ConsumeStats
from mastery_engine.sources.kafka.worker import consume, replay_dead_letters
from tests.kafka_broker import produce, read_topic
from tests.sources.streams import (
    Topics,
    assert_same_state,
    make_events,
    mixed_stream,
    record,
    reference,
    stored_state,
    tenant_of,
)

SKILL_EXTENSION = "https://learnflow.example/xapi/skill"


def run(settings: Settings, idle_s: float = 2.0) -> ConsumeStats:
    """One burst-mode run of an in-process consumer."""
    return asyncio.run(consume(settings, until_idle_s=idle_s))


def test_ten_thousand_events_with_duplicates_and_poison(topics: Topics, tmp_path: Path) -> None:
    stream = mixed_stream(10_000, duplicates=0.05, poison=0.01)
    assert produce(topics.broker.bootstrap, topics.topic, stream.records) == 10_000
    url = f"sqlite:///{tmp_path}/consumer.db"

    stats = run(topics.settings(url))

    assert (stats.messages, stats.accepted, stats.duplicates) == (10_000, 9_400, 500)
    assert stats.dead_letters == 100
    assert stats.lag == 0
    assert_same_state(stored_state(url), reference(stream.valid))
    dead = read_topic(topics.broker.bootstrap, topics.dlq, expect=100)
    assert {m.value(): header(m, "dlq.reason") for m in dead} == stream.poison
    for letter in dead:
        fields = {k: v.decode() for k, v in headers_of(letter)}
        headers = DeadLetterHeaders.model_validate(fields)
        assert headers.source_topic == topics.topic
        assert letter.key() == b"s-1" and headers.error
    assert run(topics.settings(url)).messages == 0  # every offset was committed


def test_mastery_changes_are_published_when_significant(topics: Topics, tmp_path: Path) -> None:
    events = make_events(600, students=12, seed=3)
    produce(topics.broker.bootstrap, topics.topic, [record(e) for e in events])

    stats = run(topics.settings(f"sqlite:///{tmp_path}/c.db"))

    out = read_topic(topics.broker.bootstrap, topics.out, expect=stats.changes + stats.struggles)
    assert len(out) == stats.changes + stats.struggles
    changes = [m for m in out if json.loads(m.value() or b"")["type"] == "mastery.changed"]
    assert len(changes) == stats.changes > 0
    for message in changes:
        body = MasteryChanged.model_validate_json(message.value() or b"")
        assert significant(body.old_mastery, body.new_mastery)
        assert message.key() == body.student_id.encode()
        assert header(message, "tenant") == body.tenant


def cloudevent(event: dict[str, Any], **extra: Any) -> bytes:
    """A CloudEvent in structured mode, as Dapr or a CloudEvents SDK writes it."""
    envelope = {
        "specversion": "1.0",
        "id": "5929aaac-a5e2-4ca1-859c-edfe73f11565",
        "source": "tutor-agent",
        "type": "com.learnflow.learning-event",
        "time": "2026-02-10T09:00:00Z",
        "datacontenttype": "application/json; charset=utf-8",
        "data": event,
        **extra,
    }
    return json.dumps(envelope).encode()


def statement(statement_id: str, activity: str, **context: Any) -> bytes:
    """An xAPI statement: a scaled score on a question."""
    body = {
        "id": statement_id,
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://lms.example", "name": "s-7"},
        },
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
        "object": {"objectType": "Activity", "id": activity},
        "result": {"score": {"scaled": 0.75}, "success": True},
        "timestamp": "2026-02-10T09:30:00.000Z",
        **({"context": {"extensions": context}} if context else {}),
    }
    return json.dumps(body).encode()


def test_payload_formats_are_detected_and_tenants_honoured(topics: Topics, tmp_path: Path) -> None:
    e1, e2, e3, e4 = make_events(4, students=1, seed=5)
    canonical_with_tenant = json.dumps(e4 | {"tenant_id": "school-b"}).encode()
    base64_data = base64.b64encode(json.dumps(e3).encode()).decode()
    records = [
        (b"s-0", cloudevent(e1, tenant="school-b"), []),
        (b"s-0", cloudevent(e2), [("tenant", b"school-a")]),
        (b"s-0", cloudevent({}, data=None, data_base64=base64_data), [("ce_tenant", b"school-b")]),
        (b"s-0", canonical_with_tenant, []),
        (b"s-7", statement("st-1", "https://lms.example/py/skills/functions/q/3"), []),
    ]
    produce(topics.broker.bootstrap, topics.topic, records)
    url = f"sqlite:///{tmp_path}/f.db"

    stats = run(topics.settings(url, kafka_default_tenant="school-a"))

    assert (stats.accepted, stats.dead_letters) == (5, 0)
    state = stored_state(url)
    assert {t for (t, s, _) in state if s == "s-0"} == {"school-a", "school-b"}
    assert state[("school-a", "s-7", "functions")] > 0  # default tenant; skill from the IRI


def test_dead_letters_replayed_after_a_fix_are_ingested(topics: Topics, tmp_path: Path) -> None:
    # An event an hour ahead of the clock is refused until the allowed skew is raised.
    ahead = format_us(wall_clock_us() + 3600 * 10**6)
    early = {"id": "e-9", "type": "exercise.completed", "student_id": "s-7", "skill_id": "oop",
             "occurred_at": ahead, "data": {"exercise_id": "e9"}}  # fmt: skip
    produce(
        topics.broker.bootstrap,
        topics.topic,
        [(b"s-7", json.dumps(early).encode(), [("tenant", b"school-b")])],
    )
    url = f"sqlite:///{tmp_path}/r.db"
    assert run(topics.settings(url)).dead_letters == 1
    [letter] = read_topic(topics.broker.bootstrap, topics.dlq, expect=1)
    assert header(letter, "dlq.reason") == "invalid_event"
    assert "future" in (header(letter, "dlq.error") or "")

    fixed = topics.settings(url, max_future_seconds=7200)
    replayed = replay_dead_letters(
        fixed, group=f"{topics.group}-replay", until_idle_s=2, limit=None
    )
    stats = run(fixed)

    assert replayed.replayed == 1
    assert (stats.accepted, stats.dead_letters) == (1, 0)
    again = [m for m in read_topic(topics.broker.bootstrap, topics.topic, expect=2)]
    assert [(m.key(), header(m, "tenant")) for m in again] == [(b"s-7", "school-b")] * 2
    assert header(again[-1], "dlq.reason") is None
    assert ("school-b", "s-7", "oop") in stored_state(url)  # stored (it counts from its time)


def test_struggles_a_batch_causes_are_announced_once(topics: Topics, tmp_path: Path) -> None:
    def attempt(i: int, error: str) -> dict[str, Any]:
        return {"id": f"a{i}", "type": "exercise.attempted", "student_id": "s-3",
                "skill_id": "functions", "occurred_at": f"2026-02-10T0{i}:00:00Z",
                "data": {"exercise_id": "e1", "passed": False, "error_type": error}}  # fmt: skip

    def graded(i: int, score: float) -> dict[str, Any]:
        return {"id": f"q{i}", "type": "quiz.graded", "student_id": "s-5", "skill_id": "oop",
                "occurred_at": f"2026-02-11T0{i}:00:00Z",
                "data": {"quiz_id": f"q{i}", "score": score}}  # fmt: skip

    events = [attempt(1, "TypeError"), attempt(2, "KeyError"), attempt(3, "TypeError")]
    events += [attempt(4, "TypeError"), graded(1, 0.9), graded(2, 0.2), graded(3, 0.3)]
    events += [graded(4, 0.1)]
    produce(topics.broker.bootstrap, topics.topic, [record(e) for e in events])
    url = f"sqlite:///{tmp_path}/s.db"

    stats = run(topics.settings(url))
    again = run(topics.settings(url, kafka_group=f"{topics.group}-again"))  # all duplicates

    out = read_topic(topics.broker.bootstrap, topics.out, expect=stats.changes + stats.struggles)
    bodies = [json.loads(m.value() or b"") for m in out]
    struggles = [b for b in bodies if b["type"] == "struggle.detected"]
    assert stats.struggles == len(struggles) == 2 and again.struggles == 0
    found = {(b["student_id"], b["skill_id"], b["kind"]) for b in struggles}
    assert found == {("s-3", "functions", "repeated_error"), ("s-5", "oop", "low_quiz_scores")}
    repeated = next(b for b in struggles if b["kind"] == "repeated_error")
    assert repeated["detail"]["count"] == 3 and repeated["since"] == "2026-02-10T01:00:00Z"
    assert all(b["tenant"] == tenant_of(b["student_id"]) for b in struggles)


def test_a_tenant_ending_in_a_newline_is_a_dead_letter(topics: Topics, tmp_path: Path) -> None:
    e1, e2, e3 = make_events(3, students=1, seed=9)
    records = [
        (b"s-0", json.dumps(e1).encode(), [("tenant", b"school-a\n")]),
        (b"s-0", cloudevent(e2, tenant="school-a\n"), []),
        (b"s-0", json.dumps(e3 | {"tenant_id": "school-a\n"}).encode(), []),
    ]
    produce(topics.broker.bootstrap, topics.topic, records)
    url = f"sqlite:///{tmp_path}/nl.db"

    stats = run(topics.settings(url))

    assert (stats.accepted, stats.dead_letters) == (0, 3)
    dead = read_topic(topics.broker.bootstrap, topics.dlq, expect=3)
    assert {header(m, "dlq.reason") for m in dead} == {"invalid_tenant"}
    assert stored_state(url) == {}
