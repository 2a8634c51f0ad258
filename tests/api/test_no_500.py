"""Arbitrary JSON bodies and query strings never produce a 500."""

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mastery_engine.api import create_app
from mastery_engine.settings import Settings
from tests.conftest import fixed_clock

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values | st.text(max_size=8),
        "type": st.sampled_from(
            ["quiz.graded", "activity", "exercise.completed", "code.reviewed", "exercise.attempted"]
        )
        | json_values,
        "student_id": st.text(max_size=8) | json_values,
        "skill_id": st.text(max_size=8) | json_values,
        "occurred_at": st.datetimes().map(lambda d: d.isoformat())
        | st.text(max_size=30)
        | json_values,
        "data": st.dictionaries(
            st.sampled_from(
                [
                    "score",
                    "quality",
                    "quiz_id",
                    "exercise_id",
                    "passed",
                    "kind",
                    "duration_s",
                    "submission_id",
                ]
            ),
            json_values,
            max_size=4,
        )
        | json_values,
    },
)


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    with TestClient(
        create_app(Settings(store_url="memory://", auth="off"), clock=fixed_clock())
    ) as client:
        yield client


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(event_like, st.lists(event_like, max_size=5), json_values))
def test_any_json_body_gets_a_4xx_or_200(api: TestClient, body: object) -> None:
    response = api.post("/v1/events", content=json.dumps(body))
    assert response.status_code in (200, 400, 413, 422), response.text
    assert "detail" in response.json() or "results" in response.json()


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(as_of=st.text(max_size=40), start=st.text(max_size=12))
def test_any_query_string_gets_a_4xx_or_200(api: TestClient, as_of: str, start: str) -> None:
    api.post(
        "/v1/events",
        json={
            "id": "x",
            "type": "activity",
            "student_id": "s",
            "occurred_at": "2026-03-01T00:00:00Z",
            "data": {"kind": "k"},
        },
    )
    for response in (
        api.get("/v1/students/s/mastery", params={"as_of": as_of}),
        api.get("/v1/students/s/skills/basics/history", params={"from": start}),
    ):
        assert response.status_code in (200, 404, 422), response.text


GOOD = {
    "id": "good",
    "type": "quiz.graded",
    "student_id": "s",
    "skill_id": "basics",
    "occurred_at": "2026-03-01T10:00:00Z",
    "data": {"quiz_id": "q", "score": 0.5},
}


def raw_event(**fields: str) -> bytes:
    """GOOD with some fields replaced by raw JSON text."""
    parts = {k: json.dumps(v) for k, v in GOOD.items()}
    parts.update(fields)
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in parts.items()) + "}").encode()


@pytest.mark.parametrize(
    ("content", "status", "fragment"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 400, "depth limit exceeded"),
        (raw_event(data='{"quiz_id": "q", "score": ' + "9" * 5000 + "}"), 400, "infinity"),
        (raw_event(data='{"quiz_id": "q", "score": 1' + "0" * 400 + "}"), 400, "infinity"),
        (raw_event(data='{"quiz_id": "q", "score": 100000000000000000000}'), 422, "data.score"),
        (raw_event(data='{"quiz_id": "q", "score": -1e400}'), 400, "infinity"),
        (raw_event(id='"\\ud800"'), 400, "surrogate"),
        (raw_event(student_id='"a\\u0000b"'), 422, "control characters"),
        (raw_event(student_id='"a/b"'), 422, "must not contain '/'"),
        (raw_event().replace(b'"good"', b'"\xed\xa0\x80"'), 400, "not valid UTF-8"),
        (raw_event(occurred_at='"0001-01-01T00:00:00+01:00"'), 422, "must lie between"),
        (raw_event(type='["quiz.graded"]'), 422, "unknown"),
    ],
)
def test_hostile_bodies_get_specific_4xx(
    api: TestClient, content: bytes, status: int, fragment: str
) -> None:
    response = api.post("/v1/events", content=content)
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]


def test_a_hostile_event_in_a_batch_does_not_sink_the_good_one(api: TestClient) -> None:
    batch = b"[" + raw_event(id='"batch-good"') + b", " + raw_event(id='"a\\u0007"') + b"]"
    body = api.post("/v1/events", content=batch).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    assert body["results"][1]["id"] is None
    assert api.get("/v1/students").status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/students/far/skills/basics/mastery?as_of=2110-06-01", 200),
        ("/v1/students/far/skills/basics/mastery?as_of=8999-12-31", 200),
        ("/v1/students/far/mastery?as_of=1970-01-01", 200),
        ("/v1/students/far/skills/basics/mastery?as_of=0001-01-01", 422),
        ("/v1/students/far/mastery?as_of=9999-12-31T23:59:59-01:00", 422),
        ("/v1/students/far/skills/basics/history?to=0001-01-05", 422),
        ("/v1/students/far/skills/basics/history?to=1970-01-05", 200),
        ("/v1/students/far/skills/basics/history?from=2030-01-01", 422),
    ],
)
def test_calendar_edges(api: TestClient, path: str, status: int) -> None:
    api.post("/v1/events", json={**GOOD, "id": "far-1", "student_id": "far"})
    response = api.get(path)
    assert response.status_code == status, response.text


def test_a_one_day_half_life_years_later(tmp_path: object) -> None:
    settings = Settings(store_url="memory://", half_life_days=1.0, auth="off")
    with TestClient(create_app(settings, clock=fixed_clock())) as client:
        client.post("/v1/events", json=GOOD)
        late = client.get("/v1/students/s/skills/basics/mastery?as_of=2031-01-01").json()
        quiz = next(p for p in late["explanation"]["components"] if p["component"] == "quiz")
        assert quiz["next_step_gain"] == pytest.approx(0.3 * 0.5)  # the old score weighs ~0
