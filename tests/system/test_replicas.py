"""Two `mastery-engine serve` processes on one shared store, fed overlapping streams."""

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from mastery_engine.api import create_app
from mastery_engine.settings import Settings
from tests.backends import SHARED_BACKENDS, fresh_store_url
from tests.conftest import fixed_clock
from tests.serving import free_port, serve
from tests.stores.test_concurrency import STUDENTS, stream

AS_OF = "2026-03-20"


def post_all(url: str, batches: list[list[dict[str, Any]]]) -> int:
    """POST each batch to one server; how many events it accepted as new."""
    accepted = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        for batch in batches:
            answer = client.post("/v1/events", json=batch)
            answer.raise_for_status()
            accepted += answer.json()["accepted"]
    return accepted


def mastery(get: Any) -> dict[str, Any]:
    """Every student's mastery per skill, through some client's GET."""
    found = {}
    for i in range(STUDENTS):
        answer = get(f"/v1/students/s-{i}/mastery?as_of={AS_OF}")
        assert answer.status_code == 200, answer.text
        found[f"s-{i}"] = [(s["skill_id"], s["mastery"]) for s in answer.json()["skills"]]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("backend", [b for b in SHARED_BACKENDS if b != "dapr"])
def test_two_servers_on_one_store_match_one_clean_ingest(backend: str, tmp_path: Path) -> None:
    bodies = stream(seed=11, size=600)
    plans = []
    for seed in (1, 2):  # two overlapping, differently ordered 70% shares of the stream
        share = random.Random(seed).sample(bodies, k=len(bodies) * 7 // 10)
        plans.append([share[i : i + 40] for i in range(0, len(share), 40)])
    covered = {b["id"] for plan in plans for batch in plan for b in batch}
    with (
        fresh_store_url(backend, tmp_path) as url,
        serve(url, free_port()) as one,
        serve(url, free_port()) as two,
    ):
        with ThreadPoolExecutor(2) as pool:
            accepted = sum(pool.map(post_all, [one.url, two.url], plans))
        assert accepted == len(covered)  # each event counted once, whichever server won
        with httpx.Client(base_url=one.url) as a, httpx.Client(base_url=two.url) as b:
            got_one, got_two = mastery(a.get), mastery(b.get)
    reference = Settings(store_url="memory://", auth="off")
    with TestClient(create_app(reference, clock=fixed_clock())) as clean:
        clean.post("/v1/events", json=[b for b in bodies if b["id"] in covered])
        want = mastery(clean.get)
    for got in (got_one, got_two):
        assert got.keys() == want.keys()
        for student, skills in want.items():
            assert [s for s, _ in got[student]] == [s for s, _ in skills]
            assert [m for _, m in got[student]] == pytest.approx([m for _, m in skills], abs=1e-9)
