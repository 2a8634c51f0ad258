"""Shared fixtures: a fixed clock, every store backend, and an API client per backend."""

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mastery_engine.api import create_app
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.formula import FormulaConfig
from mastery_engine.core.instants import parse_rfc3339
from mastery_engine.service.mastery import MasteryService
from mastery_engine.settings import Settings
from mastery_engine.stores import Store, open_store
from tests.backends import BACKENDS, fresh_store_url

NOW = parse_rfc3339("2026-03-20T12:00:00Z", "now")


def fixed_clock(now: int = NOW) -> Callable[[], int]:
    """A clock that always answers `now`."""
    return lambda: now


def store_url(backend: str, tmp_path: Path) -> str:
    """The URL of a fresh file-less store: `memory://` or SQLite in `tmp_path`."""
    return {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path}/mastery.db"}[backend]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each store backend in turn."""
    return str(request.param)


@pytest.fixture
def backend_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store of each backend, its data removed after the test."""
    with fresh_store_url(backend, tmp_path) as url:
        yield url


@pytest.fixture
async def store(backend_url: str) -> AsyncIterator[Store]:
    """A fresh, open store of each backend."""
    opened = await open_store(backend_url)
    yield opened
    await opened.close()


@pytest.fixture
def service(store: Store) -> MasteryService:
    """The service on a fresh store, with the default curriculum and a fixed clock."""
    return MasteryService(store, DEFAULT_CURRICULUM, FormulaConfig(), clock=fixed_clock())


@pytest.fixture
def client(backend_url: str) -> Iterator[TestClient]:
    """An API client on a fresh store of each backend, clock fixed at NOW."""
    settings = Settings(store_url=backend_url, auth="off")
    with TestClient(create_app(settings, clock=fixed_clock())) as test_client:
        yield test_client


def event(
    event_id: str,
    event_type: str,
    at: str,
    *,
    student: str = "s-1",
    skill: str | None = "basics",
    **data: Any,
) -> dict[str, Any]:
    """A canonical event as a client sends it."""
    body: dict[str, Any] = {
        "id": event_id,
        "type": event_type,
        "student_id": student,
        "occurred_at": at,
        "data": data,
    }
    if skill is not None:
        body["skill_id"] = skill
    return body


def completions(student: str, skill: str, count: int, day: str) -> list[dict[str, Any]]:
    """`count` distinct exercises of a skill completed on one day."""
    return [
        event(
            f"{student}-{skill}-{i}",
            "exercise.completed",
            f"{day}T10:{i:02d}:00Z",
            student=student,
            skill=skill,
            exercise_id=f"e{i}",
        )
        for i in range(count)
    ]
