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
    with TestClient(create_app(Settings(store_url="memory://"), clock=fixed_clock())) as client:
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
