"""Erasure, export, per-tenant configuration and the audit log, on every backend."""

import json
import sqlite3
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.backends import POSTGRES_URL, REDIS_URLS, postgres_rows, redis_client, redis_keys
from tests.conftest import event


def traces(backend: str, url: str, student: str) -> list[str]:
    """Everything a backend still holds that names the student (by scanning it)."""
    return rows_and_keys(backend, url, student) + in_documents(backend, url, student)


def in_documents(backend: str, url: str, student: str) -> list[str]:
    """The tenant documents (class rosters, summaries) whose JSON names the student."""
    options = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    named = f'"{student}"'
    if backend == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///").split("?")[0]) as db:
            found = db.execute("SELECT name, body FROM documents").fetchall()
    elif backend == "postgres":
        import psycopg

        with psycopg.connect(POSTGRES_URL) as db:
            query = f'SELECT name, body::text FROM "{options["schema"]}".documents'
            found = db.execute(query).fetchall()
    elif backend in REDIS_URLS:
        with redis_client(backend) as client:
            keys = [k for k in redis_keys(options["prefix"], backend) if b":doc:" in k]
            found = [(k.decode(), (client.get(k) or b"").decode()) for k in keys]
    elif backend == "dapr":
        from tests.dapr_sidecar import shared_sidecar

        sidecar = shared_sidecar()
        keys = [k for k in sidecar.keys(options["prefix"]) if ":doc:" in k]
        found = [(k, json.dumps(getattr(sidecar.entry(k), "value", None))) for k in keys]
    else:
        found = []
    return [f"document {name}" for name, body in found if named in body]


def rows_and_keys(backend: str, url: str, student: str) -> list[str]:
    """The rows and keys that name the student."""
    options = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    if backend == "sqlite":
        path = url.removeprefix("sqlite:///").split("?")[0]
        with sqlite3.connect(path) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            found = []
            for table in tables:
                columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
                if "student_id" in columns:
                    rows = db.execute(f"SELECT * FROM {table} WHERE student_id = ?", (student,))
                    found += [f"{table}: {row}" for row in rows]
            return found
    if backend in REDIS_URLS:
        assert url.startswith(REDIS_URLS[backend])
        keys = redis_keys(options["prefix"], backend)
        return [k.decode() for k in keys if student.encode() in k]
    if backend == "postgres":
        import psycopg

        schema = options["schema"]
        found = []
        with psycopg.connect(POSTGRES_URL) as db:
            for table in postgres_rows(schema):
                columns = db.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = %s AND table_name = %s",
                    (schema, table),
                ).fetchall()
                if ("student_id",) in columns:
                    rows = db.execute(
                        f'SELECT * FROM "{schema}"."{table}" WHERE student_id = %s', (student,)
                    ).fetchall()
                    found += [f"{table}: {row}" for row in rows]
        return found
    if backend == "dapr":
        from urllib.parse import quote

        from tests.dapr_sidecar import shared_sidecar

        keys = shared_sidecar().keys(options["prefix"])
        return [key for key in keys if f":{quote(student, safe='')}" in key]
    return []


def load(client: TestClient) -> None:
    events: list[dict[str, Any]] = [
        event("c1", "exercise.completed", "2026-03-18T09:00:00Z", exercise_id="e1"),
        event("q1", "quiz.graded", "2026-03-18T10:00:00Z", quiz_id="a", score=0.8),
        event("r1", "code.reviewed", "2026-03-19T10:00:00Z", submission_id="x", quality=0.6),
        event("q2", "quiz.graded", "2026-03-19T11:00:00Z", student="s-2", quiz_id="a", score=0.4),
    ]
    assert client.post("/v1/events", json=events).json()["accepted"] == 4


def test_export_holds_everything_about_the_student(client: TestClient) -> None:
    load(client)
    exported = client.get("/v1/students/s-1/export").json()
    assert exported["student_id"] == "s-1"
    assert [e["id"] for e in exported["events"]] == ["c1", "q1", "r1"]
    assert all("ingested_at" in e for e in exported["events"])
    aggregates = exported["aggregates"]
    assert aggregates["completions"] == [
        {"skill_id": "basics", "exercise_id": "e1", "first_completed_at": "2026-03-18T09:00:00Z"}
    ]
    quiz = [s for s in aggregates["scores"] if s["component"] == "quiz"]
    assert quiz == [
        {"date": "2026-03-18", "component": "quiz", "skill_id": "basics", "count": 1, "mean": 0.8}
    ]
    assert [d["date"] for d in aggregates["active_days"]] == ["2026-03-18", "2026-03-19"]
    assert {m["skill_id"] for m in exported["mastery"]} >= {"basics", "oop"}
    assert exported["raw_event_retention_days"] == 90
    assert exported["classes"] == []
    client.put("/v1/classes/7b", json={"students": ["s-1"]})
    client.put("/v1/classes/7a", json={"students": ["s-2", "s-1"]})
    client.put("/v1/classes/8a", json={"students": ["s-2"]})
    assert client.get("/v1/students/s-1/export").json()["classes"] == ["7a", "7b"]
    assert client.get("/v1/students/nobody/export").status_code == 404


def test_erasure_leaves_no_trace_and_spares_the_others(
    client: TestClient, backend: str, backend_url: str
) -> None:
    load(client)
    client.put("/v1/classes/7a", json={"students": ["s-1", "s-2"]})
    client.put("/v1/classes/7b", json={"students": ["s-1"]})
    assert traces(backend, backend_url, "s-1") or backend == "memory"
    assert in_documents(backend, backend_url, "s-1") or backend == "memory"
    erased = client.delete("/v1/students/s-1").json()
    assert erased["student_id"] == "s-1" and erased["records_removed"] > 0
    assert traces(backend, backend_url, "s-1") == []
    assert client.get("/v1/classes/7a").json()["students"] == ["s-2"]  # out of every class
    assert client.get("/v1/classes/7b").json()["students"] == []
    assert client.get("/v1/students/s-1/mastery").status_code == 404
    assert client.get("/v1/students").json() == {"students": ["s-2"]}
    other = client.get("/v1/students/s-2/skills/basics/mastery").json()
    assert other["components"]["quiz"] == pytest.approx(0.4)
    again = client.delete("/v1/students/s-1").json()
    assert again["records_removed"] == 0  # idempotent
    entries = client.get("/v1/audit").json()["entries"][:2]
    assert [(e["action"], e["student_id"]) for e in entries] == [("erase", "s-1"), ("erase", "s-1")]
    assert entries[1]["outcome"] == {"records_removed": erased["records_removed"]}
    assert entries[0]["actor"] == "anonymous"


def test_configuration_applies_at_once_and_is_validated(client: TestClient) -> None:
    load(client)
    before = client.get("/v1/students/s-1/skills/basics/mastery").json()["mastery"]
    defaults = client.get("/v1/config").json()
    assert defaults["customised"] is False and defaults["window_days"] == 14
    weights = {"completion": 0.0, "quiz": 1.0, "quality": 0.0, "consistency": 0.0}
    changed = client.put("/v1/config", json={"weights": weights})
    assert changed.status_code == 200, changed.text
    assert changed.json()["customised"] is True
    after = client.get("/v1/students/s-1/skills/basics/mastery").json()
    assert after["mastery"] == pytest.approx(0.8) != before
    assert client.get("/v1/audit").json()["entries"][0]["action"] == "configure"


BAD_CONFIGS = [
    ({"weights": {"completion": 0.5, "quiz": 0.5, "quality": 0.5, "consistency": 0}}, "sum to 1"),
    (
        {"weights": {"completion": -0.5, "quiz": 1.5, "quality": 0, "consistency": 0}},
        "non-negative",
    ),
    ({"weights": {"quiz": 1.0}}, "missing"),
    ({"half_life_days": 0.5}, "half_life_days must be >= 1"),
    ({"window_days": 2.5}, "whole number"),
    ({"colour": "red"}, "unknown configuration keys"),
    (
        {"curriculum": {"skills": [{"id": "a", "exercises": 3, "prerequisites": ["b"]}]}},
        "unknown",
    ),
    (
        {
            "curriculum": {
                "skills": [
                    {"id": "a", "exercises": 3, "prerequisites": ["b"]},
                    {"id": "b", "exercises": 3, "prerequisites": ["a"]},
                ]
            }
        },
        "cycle",
    ),
]


@pytest.mark.parametrize(("document", "message"), BAD_CONFIGS)
def test_bad_configurations_are_422_saying_why(
    client: TestClient, document: dict[str, Any], message: str
) -> None:
    answer = client.put("/v1/config", json=document)
    assert answer.status_code == 422
    assert message in answer.json()["detail"]
    assert client.get("/v1/config").json()["customised"] is False


def test_a_custom_curriculum_counts_its_own_exercises(client: TestClient) -> None:
    load(client)
    curriculum = {"skills": [{"id": "basics", "exercises": 2}, {"id": "extra", "exercises": 4}]}
    assert client.put("/v1/config", json={"curriculum": curriculum}).status_code == 200
    skills = client.get("/v1/students/s-1/mastery").json()["skills"]
    assert [s["skill_id"] for s in skills] == ["basics", "extra"]
    assert skills[0]["components"]["completion"] == 0.5
