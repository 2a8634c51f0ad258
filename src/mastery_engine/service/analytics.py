"""Tenant-wide skill analytics, served from a summary that each tenant keeps in its store.

Computing them reads and evaluates every student of the tenant at each trend point (about
0.5 ms of CPU per student for 12 points), far too slow for a request on a large tenant. So the
answer for "now" is the tenant's `analytics` document, shared by every replica:

- younger than `max_age`: served as it is;
- older: recomputed by one replica at a time (a lease in the same document). The request
  waits for the new summary when the previous one took under `QUICK_S` to compute; otherwise
  it gets the older one at once, with its `as_of` and age;
- missing: computed while the request waits up to `wait_s`; after that, 503 with Retry-After.

A summary for an explicit `as_of` is computed for its request the same way (no document); one
that outlives its request is kept for `max_age`, so that the retry finds it.
"""

import asyncio
import logging
import math
import time
import uuid
from dataclasses import dataclass, field

from mastery_engine.core.analytics import TenantTally, trend_instants
from mastery_engine.core.errors import InvalidRequest, MasteryError, NotReady
from mastery_engine.core.instants import US_PER_SECOND, format_us
from mastery_engine.service.mastery import MasteryService
from mastery_engine.stores.base import Document

log = logging.getLogger(__name__)
ANALYTICS = "analytics"  # the tenant document holding the latest summary and the refresh lease
MAX_WEEKS = 12  # trend points of the stored summary; a request asks for 1 to 12
DEFAULT_WEEKS = 8
QUICK_S = 1.0  # a refresh that took less is waited for rather than served stale
WINDOW = 16  # students read at once (a network store answers them in parallel)
SLICE_S = 0.002  # the longest stretch of work between two turns given to requests
BUSY_S = 0.0005  # requests that used more of their turn than this are served first
MAX_PAUSE_S = 0.05
MIN_LEASE_S = 120.0
MAX_JOBS = 4  # computations at once in one process; more would starve the requests
MAX_KEPT = 64  # results kept for a retry
Key = tuple[str, int | None, int]  # tenant, explicit as_of (None: the latest), weeks


@dataclass
class Job:
    """A summary being computed, and how far it got."""

    task: asyncio.Task[Document] | None = None
    total: int = 0
    done: int = 0
    started: float = field(default_factory=time.monotonic)

    def retry_after(self) -> int:
        """Seconds until it is likely finished, from its progress so far (1 to 300)."""
        elapsed = time.monotonic() - self.started
        if self.done == 0:
            return 5
        remaining = elapsed * (self.total - self.done) / self.done
        return min(300, max(1, math.ceil(remaining)))


async def give_way() -> None:
    """Let the requests waiting on this event loop run, and more so the busier they are.

    A summary is computed on the serving event loop, and a SQLite read never suspends: left
    alone it would hold the loop for the whole computation, or take half of it from busy
    requests. When they used the turn it gave them, it pauses as long again.
    """
    started = time.perf_counter()
    await asyncio.sleep(0)
    others = time.perf_counter() - started
    if others > BUSY_S:
        await asyncio.sleep(min(others, MAX_PAUSE_S))


async def compute(
    service: MasteryService, tenant: str, as_of: int, weeks: int, job: Job
) -> Document:
    """Read and evaluate every student of the tenant; the summary document."""
    started, started_us = time.perf_counter(), service.clock()
    rules = await service.rules(tenant)
    students = await service.store.students(tenant)
    job.total = len(students)
    tally = TenantTally(trend_instants(as_of, weeks), rules.curriculum, rules.config)
    turn = time.perf_counter()
    for start in range(0, len(students), WINDOW):
        window = students[start : start + WINDOW]
        found = await service.store.read_many(tenant, window, as_of, cache=False)
        for aggregates in found:
            if aggregates is not None:
                tally.add(aggregates)
            job.done += 1
            if time.perf_counter() - turn >= SLICE_S:
                await give_way()
                turn = time.perf_counter()
    skills = []
    for skill in tally.skill_ids():
        skills.append(tally.skill(skill).to_json())
        await asyncio.sleep(0)
    return {
        "as_of": format_us(as_of),
        "computed_at": format_us(started_us),
        "started_us": started_us,
        "computed_in_seconds": time.perf_counter() - started,
        "students": tally.students,
        "weeks": weeks,
        "skills": skills,
    }


def answer(summary: Document, weeks: int, now: int, max_age_s: float) -> Document:
    """The response: the summary with its last `weeks` trend points and its age.

    The age counts from when the computation started: events ingested since are not in it.
    """
    body = {k: v for k, v in summary.items() if k != "started_us"}
    body["weeks"] = weeks
    body["skills"] = [s | {"trend": s["trend"][-weeks:]} for s in summary["skills"]]
    body["age_seconds"] = max(0, now - summary["started_us"]) / US_PER_SECOND
    body["max_age_seconds"] = max_age_s
    return body


class Summaries:
    """The analytics summaries this process computes, waits for and keeps."""

    def __init__(self, service: MasteryService, max_age_s: float, wait_s: float = 10.0) -> None:
        self.service = service
        self.max_age_s = max_age_s
        self.wait_s = wait_s
        self.token = uuid.uuid4().hex  # names this process in refresh leases
        self._jobs: dict[Key, Job] = {}
        self._kept: dict[Key, tuple[float, Document]] = {}

    async def skills(self, tenant: str, as_of: int | None, weeks: int) -> Document:
        """Per-skill analytics of the tenant at `as_of` (default: the latest summary)."""
        if not 1 <= weeks <= MAX_WEEKS:
            raise InvalidRequest(f"weeks must be 1 to {MAX_WEEKS}, got {weeks}", field="weeks")
        if as_of is None:
            summary = await self._latest(tenant)
        else:
            summary = await self._at((tenant, as_of, weeks))
        return answer(summary, weeks, self.service.clock(), self.max_age_s)

    async def _at(self, key: Key) -> Document:
        kept = self._kept.get(key)
        if kept is not None and time.monotonic() - kept[0] <= self.max_age_s:
            return kept[1]
        as_of = key[1]
        assert as_of is not None
        job = self._jobs.get(key) or self._start(key, as_of)
        try:
            return await self._wait(job, self.wait_s)
        except NotReady:
            assert job.task is not None
            job.task.add_done_callback(lambda task: self._keep(key, task))
            raise

    async def _latest(self, tenant: str) -> Document:
        stored = await self.service.store.get_document(tenant, ANALYTICS) or {}
        summary: Document | None = stored.get("summary")
        now = self.service.clock()
        if summary is not None and now - summary["started_us"] < self.max_age_s * US_PER_SECOND:
            return summary
        key: Key = (tenant, None, MAX_WEEKS)
        job = self._jobs.get(key)
        if job is None and len(self._jobs) < MAX_JOBS and await self._claim(tenant, now, summary):
            job = self._jobs.get(key) or self._start(key, now)  # another request may have won
        if job is None:  # another replica is computing it, or this one is busy
            if summary is not None:
                return summary
            raise NotReady(
                f"the analytics of tenant {tenant!r} are being computed; ask again later",
                retry_after=5,
            )
        quick = summary is None or summary["computed_in_seconds"] < QUICK_S
        try:
            return await self._wait(job, self.wait_s if quick else 0.0)
        except NotReady:
            if summary is None:
                raise
            return summary

    async def _claim(self, tenant: str, now: int, summary: Document | None) -> bool:
        """Take the tenant's refresh lease unless another live process holds it."""
        took = 0.0 if summary is None else summary["computed_in_seconds"]
        until = now + int(max(MIN_LEASE_S, 3 * took) * US_PER_SECOND)

        def claim(document: Document | None) -> Document | None:
            lease = (document or {}).get("lease")
            if lease and lease["until"] > now and lease["by"] != self.token:
                return None
            return (document or {}) | {"lease": {"by": self.token, "until": until}}

        after = await self.service.store.update_document(tenant, ANALYTICS, claim)
        return after is not None and after["lease"]["by"] == self.token

    def _start(self, key: Key, as_of: int) -> Job:
        if len(self._jobs) >= MAX_JOBS:
            raise NotReady(
                f"{len(self._jobs)} analytics computations are running; ask again later",
                retry_after=10,
            )
        job = Job()
        job.task = asyncio.create_task(self._run(key, as_of, job))
        self._jobs[key] = job
        return job

    async def _run(self, key: Key, as_of: int, job: Job) -> Document:
        tenant, explicit, weeks = key
        try:
            summary = await compute(self.service, tenant, as_of, weeks, job)
            if explicit is None:  # the latest: replace the document, and the lease with it
                await self.service.store.put_document(tenant, ANALYTICS, {"summary": summary})
        except MasteryError as exc:
            log.warning("analytics of tenant %r not computed: %s", tenant, exc.message)
            raise
        finally:
            self._jobs.pop(key, None)
        took = summary["computed_in_seconds"]
        log.info("analytics of tenant %r: %d students in %.1f s", tenant, summary["students"], took)
        return summary

    async def _wait(self, job: Job, seconds: float) -> Document:
        assert job.task is not None
        try:
            return await asyncio.wait_for(asyncio.shield(job.task), seconds)
        except TimeoutError:
            raise NotReady(
                f"the analytics are being computed ({job.done:,} of {job.total:,} students"
                " read); ask again later",
                retry_after=job.retry_after(),
            ) from None

    def _keep(self, key: Key, task: asyncio.Task[Document]) -> None:
        if not task.cancelled() and task.exception() is None:
            now = time.monotonic()
            kept = [(k, v) for k, v in self._kept.items() if now - v[0] <= self.max_age_s]
            self._kept = dict([*kept[-(MAX_KEPT - 1) :], (key, (now, task.result()))])

    async def close(self) -> None:
        """Stop the summaries being computed (at shutdown)."""
        tasks = [job.task for job in self._jobs.values() if job.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
