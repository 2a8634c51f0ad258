"""A tenant's forgetting-model parameters: fitted on its review history, validated on the
latest reviews, saved beside its answer model, served by another replica; left at the
deployment's when there is no history or the fit validates worse."""

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mastery_engine.api import create_app
from mastery_engine.core.instants import US_PER_DAY, format_us
from mastery_engine.core.memory_model import (
    FSRS6_DEFAULTS,
    MemoryParams,
    retrievability,
    review,
)
from mastery_engine.service.forgetting import Review, fit_memory
from mastery_engine.settings import Settings
from mastery_engine.wiring import open_engine
from tests.conftest import NOW, fixed_clock
from tests.service.test_models import TENANT, distinct_skills, seeded

# Students who forget much faster than FSRS-6's defaults assume: a tenant worth fitting.
FORGETFUL = MemoryParams(
    (*(w * 0.1 if i < 4 else w for i, w in enumerate(FSRS6_DEFAULTS[:20])), 0.6)
)


def simulated(seed: int, students: int, start: float) -> dict[str, list[Review]]:
    """Eight reviews per student x skill, 1 to 10 days apart, recalled as FORGETFUL says."""
    rng = random.Random(seed)
    found = {}
    for s in range(students):
        for skill in ("loops", "regex"):
            at, state, reviews = start + rng.random() * 0.2, None, []
            for _ in range(8):
                p = 1.0 if state is None else retrievability(state, at, FORGETFUL)
                rating = 3 if rng.random() < p else 1
                reviews.append((at, rating))
                state = review(state, at, rating, FORGETFUL)
                at += rng.randint(1, 10) + 0.01
            found[f"m{s}\x00{skill}"] = reviews
    return found


def test_the_fit_beats_the_defaults_on_the_latest_reviews_of_forgetful_students() -> None:
    fit = fit_memory(simulated(seed=2, students=150, start=20_000.0))
    assert not isinstance(fit, str)
    assert fit.better and fit.fitted.log_loss < fit.defaults.log_loss
    assert fit.fitted.predictions == fit.defaults.predictions >= 50
    assert fit.params != MemoryParams()


def test_without_reviews_on_two_days_there_is_nothing_to_fit() -> None:
    assert "no student has reviewed" in str(fit_memory({"a": [(1.0, 3)]}))
    few = fit_memory({"a": [(1.0, 3), (2.0, 3), (3.0, 1)]})
    assert isinstance(few, str) and "at least 50 of each are needed" in few


def review_events(history: dict[str, list[Review]]) -> list[dict[str, Any]]:
    """Each review as one quiz answer at its instant: 0.8 recalled (good), 0.0 a lapse."""
    events = []
    for key, reviews in history.items():
        student, skill = key.split("\x00")
        for i, (at, rating) in enumerate(reviews):
            events.append(
                {
                    "id": f"{student}-{skill}-r{i}",
                    "type": "quiz.graded",
                    "student_id": student,
                    "skill_id": skill,
                    "occurred_at": format_us(round(at * US_PER_DAY)),
                    "data": {"quiz_id": f"{skill}-r{i}", "score": 0.8 if rating > 1 else 0.0},
                }
            )
    return events


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_tenant_s_fitted_memory_is_saved_and_served_by_another_replica(
    backend_url: str,
) -> None:
    start = NOW / US_PER_DAY - 75.0  # the last reviews end before NOW
    await seeded(backend_url, distinct_skills() + review_events(simulated(2, 150, start)))
    settings = Settings(store_url=backend_url, auth="off")
    async with open_engine(settings, clock=fixed_clock()) as engine:
        saved = await engine.guidance.models.fit(TENANT)
    memory = saved["memory"]
    assert memory["in_force"] == "tenant", memory
    checked = memory["validation"]
    assert checked["log_loss"] < checked["deployment"]["log_loss"]
    assert checked["predictions"] >= 50 and memory["training"]["reviews"] >= 4 * 50
    fitted = MemoryParams.from_json(memory["w"])
    assert fitted != MemoryParams()

    with TestClient(create_app(settings, clock=fixed_clock())) as replica:
        shown = replica.get("/v1/config", headers={"X-Tenant-ID": TENANT}).json()["model"]
        assert shown["memory"] == memory
        other = replica.get("/v1/config", headers={"X-Tenant-ID": "elsewhere"}).json()
        assert other["model"]["memory"] == {"in_force": "deployment"}
    # What recommendations use: the tenant's parameters, the deployment's for another tenant.
    async with open_engine(settings, clock=fixed_clock()) as engine:
        assert await engine.guidance.models.memory_of(TENANT) == fitted
        assert await engine.guidance.models.memory_of("elsewhere") == MemoryParams()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_tenant_without_review_history_keeps_the_deployment_s_memory(
    backend_url: str,
) -> None:
    await seeded(backend_url, distinct_skills())  # every answer within a couple of weeks
    settings = Settings(store_url=backend_url, auth="off")
    async with open_engine(settings, clock=fixed_clock()) as engine:
        saved = await engine.guidance.models.fit(TENANT)
        assert saved["memory"]["in_force"] == "deployment"
        assert saved["memory"]["reason"]
        assert await engine.guidance.models.memory_of(TENANT) == MemoryParams()


def test_memory_weights_are_checked() -> None:
    from mastery_engine.core.errors import InvalidConfig

    for bad in ([1.0] * 3, [*FSRS6_DEFAULTS[:20], 2.0], [*FSRS6_DEFAULTS[:20], "x"], "w"):
        with pytest.raises(InvalidConfig):
            MemoryParams.from_json(bad)
    assert MemoryParams.from_json(list(FSRS6_DEFAULTS)) == MemoryParams()
