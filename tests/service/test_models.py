"""A tenant's own next-answer model: fitted from its events in the store, validated on its
latest answers, saved, served by another replica, refused when it validates worse."""

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mastery_engine.api import create_app
from mastery_engine.cli.main import app as cli
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.explain import predict
from mastery_engine.core.instants import US_PER_DAY, format_us
from mastery_engine.core.prediction import DEFAULT_MODEL, PredictionModel
from mastery_engine.service.models import MODEL, FitRefused
from mastery_engine.settings import Settings
from mastery_engine.wiring import open_engine
from tests.conftest import NOW, fixed_clock

TENANT = "school-fit"
HOUR = 3_600_000_000
DEPLOYMENT = {"in_force": "deployment", "memory": {"in_force": "deployment"}}


def answers(scores: dict[str, list[float]], start_day: int = 80) -> list[dict[str, Any]]:
    """Quiz answers, one an hour, each student's answers on one skill in turn."""
    events, at = [], NOW - start_day * US_PER_DAY
    for student_skill, marks in scores.items():
        student, skill = student_skill.split("/")
        for i, mark in enumerate(marks):
            at += HOUR
            events.append(
                {
                    "id": f"{student}-{skill}-{i}",
                    "type": "quiz.graded",
                    "student_id": student,
                    "skill_id": skill,
                    "occurred_at": format_us(at),
                    "data": {"quiz_id": f"{skill}-{i}", "score": mark},
                }
            )
    return events


def distinct_skills(seed: int = 3) -> list[dict[str, Any]]:
    """An easy skill (9 in 10 right) and a hard one (1 in 5): the built-in model, with one
    set of weights for every skill, cannot tell them apart before the answers come in."""
    rng = random.Random(seed)
    scores = {}
    for s in range(30):
        scores[f"s{s}/easy"] = [float(rng.random() < 0.9) for _ in range(6)]
        scores[f"s{s}/hard"] = [float(rng.random() < 0.2) for _ in range(6)]
    events = answers(scores)
    rng.shuffle(events)  # arrival order does not matter: the replay goes by time
    return events


async def seeded(url: str, events: list[dict[str, Any]]) -> None:
    settings = Settings(store_url=url, auth="off")
    async with open_engine(settings, clock=fixed_clock()) as engine:
        for start in range(0, len(events), 500):
            report = await engine.service.ingest(TENANT, events[start : start + 500])
            assert all(r.status.value == "accepted" for r in report.results)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_fit_that_validates_better_is_saved_and_served_by_another_replica(
    backend_url: str,
) -> None:
    await seeded(backend_url, distinct_skills())
    settings = Settings(store_url=backend_url, auth="off")
    async with open_engine(settings, clock=fixed_clock()) as engine:
        saved = await engine.guidance.models.fit(TENANT)
        checked = saved["validation"]
        assert checked["log_loss"] < checked["deployment"]["log_loss"]
        assert checked["answers"] >= 50 and saved["training"]["answers"] >= 4 * 50
        assert 0 <= checked["ece"] <= 1 and 0.5 < checked["auc"] <= 1
        assert await engine.service.store.get_document(TENANT, MODEL) == saved
    model = PredictionModel.from_json(saved["model"])
    assert set(model.skills) == {"easy", "hard"}

    # Another replica on the same store: it serves the tenant's model, and says so.
    with TestClient(create_app(settings, clock=fixed_clock())) as replica:
        headers = {"X-Tenant-ID": TENANT}
        shown = replica.get("/v1/config", headers=headers).json()["model"]
        assert shown["in_force"] == "tenant"
        assert shown["validation"] == checked and shown["fitted_at"] == saved["fitted_at"]
        body = replica.get("/v1/students/s1/predictions", headers=headers).json()
        hard = next(s for s in body["skills"] if s["skill_id"] == "hard")
        other = replica.get("/v1/config", headers={"X-Tenant-ID": "elsewhere"}).json()
        assert other["model"] == DEPLOYMENT
    async with open_engine(settings, clock=fixed_clock()) as engine:
        aggregates = await engine.service.aggregates(TENANT, "s1", NOW)
    assert hard["p_correct"] == pytest.approx(predict(aggregates, "hard", NOW, model).p_correct)
    assert hard["p_correct"] != pytest.approx(
        predict(aggregates, "hard", NOW, DEFAULT_MODEL).p_correct
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_fit_that_validates_worse_is_refused_with_the_comparison(
    backend_url: str,
) -> None:
    # Every answer right for weeks, then every answer wrong: the fit learns "always right"
    # and the latest answers prove it wrong; the built-in model hedges.
    right = answers({f"s{s}/easy": [1.0] * 8 for s in range(30)}, start_day=80)
    wrong = answers({f"s{s}/easy": [0.0] * 2 for s in range(30)}, start_day=20)
    wrong = [e | {"id": f"late-{e['id']}"} for e in wrong]
    await seeded(backend_url, right + wrong)
    settings = Settings(store_url=backend_url, auth="off")
    async with open_engine(settings, clock=fixed_clock()) as engine:
        with pytest.raises(FitRefused) as refused:
            await engine.guidance.models.fit(TENANT)
        assert "validates worse" in refused.value.message
        assert "log-loss" in refused.value.message and "nothing was saved" in refused.value.message
        assert await engine.service.store.get_document(TENANT, MODEL) is None
        assert await engine.guidance.models.summary(TENANT) == DEPLOYMENT


async def test_too_few_answers_is_a_clear_error(store_url_sqlite: str) -> None:
    await seeded(store_url_sqlite, answers({"s1/easy": [1.0, 0.0, 1.0]}))
    settings = Settings(store_url=store_url_sqlite, auth="off")
    async with open_engine(settings, clock=fixed_clock()) as engine:
        with pytest.raises(InvalidConfig) as refused:
            await engine.guidance.models.fit(TENANT)
    assert "at least 50 of each are needed" in refused.value.message


def test_the_command_fits_a_tenant_and_says_how_it_validated(
    store_url_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    asyncio.run(seeded(store_url_sqlite, distinct_skills()))
    monkeypatch.setenv("MASTERY_STORE_URL", store_url_sqlite)
    done = CliRunner().invoke(cli, ["fit", "--tenant", TENANT])
    assert done.exit_code == 0, done.output
    assert "saved, served from now on" in done.output and "log-loss" in done.output
    assert "forgetting model: the deployment's parameters stay" in done.output
    both = CliRunner().invoke(cli, ["fit", "--tenant", TENANT, "--out", "m.json"])
    assert both.exit_code == 2
    assert "either a file of events (with --out) or --tenant" in both.output


@pytest.fixture
def store_url_sqlite(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path}/fit.db"
