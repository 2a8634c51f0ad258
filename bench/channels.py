"""Events of the synthetic data set as each HTTP ingestion channel of the service carries them.

| channel | route | one request |
| --- | --- | --- |
| events | POST /v1/events | a JSON array of canonical events |
| xapi | POST /v1/xapi/statements | a JSON array of xAPI 1.0.3 statements |
| caliper | POST /v1/caliper/events | a Caliper 1.2 envelope, its `data` holding the events |
| dapr | POST /dapr/events | one CloudEvent 1.0, its `data` the canonical event |

Each record maps back onto its canonical event with the same id, student, skill, instant and
score. Activity ids name the skill the way the service reads it by default
(`*/skills/{skill_id}`), so exercise and quiz ids become IRIs. xAPI maps no verb onto
`code.reviewed`, Caliper neither that nor `exercise.attempted`: those channels carry only the
types they can express (`Channel.types`).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dataset

Event = dict[str, Any]
LMS = "https://learnflow.example"
ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITIES = "http://adlnet.gov/expapi/activities/"
CALIPER_CONTEXT = "http://purl.imsglobal.org/ctx/caliper/v1p2"
APP = {"id": LMS, "type": "SoftwareApplication"}
GRADER = {"id": f"{LMS}/autograder", "type": "SoftwareApplication"}
ALL_TYPES = frozenset(
    {"exercise.completed", "exercise.attempted", "quiz.graded", "code.reviewed", "activity"}
)


def _json(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _skill_iri(event: Event, kind: str, name: str) -> str:
    """An activity id under the event's skill: `{LMS}/skills/{skill}/{kind}/{name}`."""
    return f"{LMS}/skills/{event['skill_id']}/{kind}/{name}"


def _person(student: str) -> str:
    return f"{LMS}/users/{student}"


def _xapi_action(event: Event) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """(verb, object, result) of the statement of an event."""
    kind, data = event["type"], event["data"]
    if kind == "activity":
        target: dict[str, Any] = {
            "objectType": "Activity",
            "id": f"{LMS}/activities/{data['kind']}",
        }
        seconds = data.get("duration_s")
        return "progressed", target, None if seconds is None else {"duration": f"PT{seconds}S"}
    if kind == "quiz.graded":
        iri = _skill_iri(event, "quizzes", data["quiz_id"])
        target = {"id": iri, "definition": {"type": f"{ADL_ACTIVITIES}assessment"}}
        return "scored", target, {"score": {"scaled": data["score"]}}
    iri = _skill_iri(event, "exercises", data["exercise_id"])
    target = {"id": iri, "definition": {"type": f"{ADL_ACTIVITIES}interaction"}}
    if kind == "exercise.completed":
        return "completed", target, {"completion": True}
    passed = data["passed"]
    return ("passed" if passed else "failed"), target, {"success": passed}


def statement(event: Event) -> dict[str, Any]:
    """The xAPI statement of an event (statement id = event id)."""
    verb, target, result = _xapi_action(event)
    body: dict[str, Any] = {
        "id": event["id"],
        "actor": {"objectType": "Agent", "account": {"homePage": LMS, "name": event["student_id"]}},
        "verb": {"id": f"{ADL_VERBS}{verb}", "display": {"en-US": verb}},
        "object": {"objectType": "Activity", **target},
        "timestamp": event["occurred_at"],
        "version": "1.0.3",
    }
    if result is not None:
        body["result"] = result
    return body


def _graded(event: Event) -> dict[str, Any]:
    """The attempt and the score of a quiz.graded event, as an autograder reports them."""
    attempt = f"{LMS}/attempts/{event['id']}"
    quiz = {"id": _skill_iri(event, "quizzes", event["data"]["quiz_id"]), "type": "Assessment"}
    return {
        "actor": GRADER,
        "object": {
            "id": attempt,
            "type": "Attempt",
            "assignee": _person(event["student_id"]),
            "assignable": quiz,
            "count": 1,
        },
        "generated": {
            "id": f"{LMS}/scores/{event['id']}",
            "type": "Score",
            "attempt": attempt,
            "scoreGiven": float(event["data"]["score"]),
            "maxScore": 1.0,
        },
    }


def _caliper_action(event: Event) -> tuple[str, str, dict[str, Any]]:
    """(type, action, the remaining members) of the Caliper event of an event."""
    person = {"id": _person(event["student_id"]), "type": "Person"}
    kind = event["type"]
    if kind == "quiz.graded":
        return "GradeEvent", "Graded", _graded(event)
    if kind == "exercise.completed":
        iri = _skill_iri(event, "exercises", event["data"]["exercise_id"])
        target = {"id": iri, "type": "AssignableDigitalResource"}
        return "AssignableEvent", "Completed", {"actor": person, "object": target}
    session = {"id": f"{LMS}/sessions/{event['id']}", "type": "Session", "user": person["id"]}
    return "SessionEvent", "LoggedIn", {"actor": person, "object": APP, "session": session}


def caliper_event(event: Event) -> dict[str, Any]:
    """The Caliper 1.2 event of an event (Caliper id = event id)."""
    kind, action, members = _caliper_action(event)
    return {
        "@context": CALIPER_CONTEXT,
        "id": event["id"],
        "type": kind,
        "action": action,
        **members,
        "eventTime": event["occurred_at"],
        "edApp": APP,
    }


def envelope(events: list[Event]) -> dict[str, Any]:
    """A Caliper Sensor API envelope of the events."""
    return {
        "sensor": f"{LMS}/sensors/lms",
        "sendTime": dataset.stamp(datetime.now(UTC)),
        "dataVersion": CALIPER_CONTEXT,
        "data": [caliper_event(e) for e in events],
    }


def cloudevent(event: Event) -> dict[str, Any]:
    """A structured-mode CloudEvent as the Dapr sidecar delivers it, the event as `data`."""
    return {
        "specversion": "1.0",
        "id": event["id"],
        "source": "learnflow-tutor",
        "type": "com.dapr.event.sent",
        "datacontenttype": "application/json",
        "topic": "learning-events",
        "pubsubname": "pubsub",
        "time": dataset.stamp(datetime.now(UTC)),
        "traceparent": "00-113ad9c4e42b27583ae98ba698d54255-e3743e35ff56f219-01",
        "data": event,
    }


def _one_cloudevent(events: list[Event]) -> bytes:
    if len(events) != 1:
        raise ValueError(f"Dapr delivers one message per request, got {len(events)}")
    return _json(cloudevent(events[0]))


@dataclass(frozen=True, slots=True)
class Channel:
    """A route, its content type, the event types it carries, and a request body's encoder."""

    name: str
    path: str
    content_type: str
    types: frozenset[str]
    encode: Callable[[list[Event]], bytes]
    batched: bool = True


CHANNELS = {
    "events": Channel("events", "/v1/events", "application/json", ALL_TYPES, dataset.encode),
    "xapi": Channel(
        "xapi",
        "/v1/xapi/statements",
        "application/json",
        ALL_TYPES - {"code.reviewed"},
        lambda events: _json([statement(e) for e in events]),
    ),
    "caliper": Channel(
        "caliper",
        "/v1/caliper/events",
        "application/json",
        frozenset({"exercise.completed", "quiz.graded", "activity"}),
        lambda events: _json(envelope(events)),
    ),
    "dapr": Channel(
        "dapr",
        "/dapr/events",
        "application/cloudevents+json",
        ALL_TYPES,
        _one_cloudevent,
        batched=False,
    ),
}
