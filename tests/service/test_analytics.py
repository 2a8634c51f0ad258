"""Analytics summaries: computed once per tenant, waited for, kept, shared by replicas."""

import asyncio

import pytest

from mastery_engine.core.errors import InvalidRequest, NotReady
from mastery_engine.core.instants import US_PER_SECOND
from mastery_engine.service.analytics import ANALYTICS, MAX_JOBS, Job, Summaries
from mastery_engine.service.mastery import MasteryService
from tests.conftest import NOW, event


async def load(service: MasteryService, *students: str) -> None:
    items = [
        event(f"{s}-q", "quiz.graded", "2026-03-19T10:00:00Z", student=s, quiz_id="q", score=0.5)
        for s in students
    ]
    report = await service.ingest("t", items)
    assert report.count(report.results[0].status) == len(students)


async def finished(summaries: Summaries) -> None:
    """Wait until no summary is being computed."""
    for _ in range(500):
        if not summaries._jobs:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a summary never finished")


async def test_an_explicit_as_of_that_takes_too_long_is_503_then_kept_for_the_retry(
    service: MasteryService,
) -> None:
    await load(service, "s-1", "s-2")
    summaries = Summaries(service, max_age_s=300, wait_s=0)
    with pytest.raises(NotReady) as raised:
        await summaries.skills("t", NOW, 2)
    assert 1 <= raised.value.retry_after <= 300
    await finished(summaries)
    await load(service, "s-3")  # after the computation: not in the kept result
    kept = await summaries.skills("t", NOW, 2)
    assert kept["students"] == 2 and kept["weeks"] == 2
    assert await service.store.get_document("t", ANALYTICS) is None  # only the latest is stored


async def test_the_first_summary_is_503_until_computed_then_stored_for_every_replica(
    service: MasteryService,
) -> None:
    await load(service, "s-1")
    first, second = Summaries(service, 300, wait_s=0), Summaries(service, 300, wait_s=0)
    with pytest.raises(NotReady):
        await first.skills("t", None, 8)
    await finished(first)
    stored = await service.store.get_document("t", ANALYTICS)
    assert stored is not None and set(stored) == {"summary"}  # the lease went with the write
    for replica in (first, second):
        answer = await replica.skills("t", None, 3)
        assert answer["students"] == 1 and len(answer["skills"][0]["trend"]) == 3
    assert not second._jobs  # served what the first one stored


async def test_only_the_replica_holding_the_lease_computes(service: MasteryService) -> None:
    await load(service, "s-1")
    held = {"lease": {"by": "another replica", "until": NOW + 60 * US_PER_SECOND}}
    await service.store.put_document("t", ANALYTICS, held)
    summaries = Summaries(service, 300)
    with pytest.raises(NotReady, match="being computed") as raised:
        await summaries.skills("t", None, 8)
    assert raised.value.retry_after == 5 and not summaries._jobs
    expired = {"lease": {"by": "another replica", "until": NOW - 1}}  # it died
    await service.store.put_document("t", ANALYTICS, expired)
    assert (await summaries.skills("t", None, 8))["students"] == 1


async def test_a_stale_slow_summary_is_served_while_it_is_recomputed(
    service: MasteryService,
) -> None:
    await load(service, "s-1", "s-2")
    old = {"students": 1, "computed_in_seconds": 100.0, "started_us": NOW - 600 * US_PER_SECOND}
    stale = old | {"as_of": "x", "computed_at": "x", "weeks": 12, "skills": []}
    await service.store.put_document("t", ANALYTICS, {"summary": stale})
    summaries = Summaries(service, max_age_s=300)
    served = await summaries.skills("t", None, 8)
    assert (served["students"], served["age_seconds"]) == (1, 600)
    await finished(summaries)
    fresh = await summaries.skills("t", None, 8)
    assert (fresh["students"], fresh["age_seconds"]) == (2, 0)


async def test_weeks_are_checked_and_close_stops_what_runs(service: MasteryService) -> None:
    await load(service, "s-1")
    summaries = Summaries(service, max_age_s=300, wait_s=0)
    for weeks in (0, 13):
        with pytest.raises(InvalidRequest, match="weeks must be 1 to 12"):
            await summaries.skills("t", None, weeks)
    with pytest.raises(NotReady):
        await summaries.skills("t", NOW, 1)
    await summaries.close()
    assert not summaries._jobs


async def test_at_most_a_few_computations_run_at_once(service: MasteryService) -> None:
    await load(service, "s-1")
    summaries = Summaries(service, max_age_s=300, wait_s=0)
    running = asyncio.Event()
    for k in range(MAX_JOBS):  # computations that never finish
        summaries._jobs[("t", k, 1)] = Job(task=asyncio.create_task(running.wait()))
    with pytest.raises(NotReady, match=f"{MAX_JOBS} analytics computations are running"):
        await summaries.skills("t", NOW, 1)
    with pytest.raises(NotReady, match="being computed"):
        await summaries.skills("t", None, 1)
    assert await service.store.get_document("t", ANALYTICS) is None  # no lease taken
    running.set()
    summaries._jobs.clear()
    summaries.wait_s = 10
    assert (await summaries.skills("t", NOW, 1))["students"] == 1
