"""`create_app(settings)`: the FastAPI application and its lifespan."""

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mastery_engine import __version__
from mastery_engine.api import errors
from mastery_engine.api.routes import events, health, students
from mastery_engine.demo import demo_events
from mastery_engine.service import MasteryService, Status, wall_clock_us
from mastery_engine.settings import Settings
from mastery_engine.wiring import open_service

log = logging.getLogger(__name__)
GC_YOUNG = 5_000  # objects allocated between young collections (CPython default: 700)
GC_FULL_EVERY = 1_000  # middle collections per full one (default: 10)

DESCRIPTION = """Tracks how well each student masters each skill, from learning events.

Send events to `POST /v1/events`; read mastery under `/v1/students/{student_id}`.
While authentication is off, the tenant is the `X-Tenant-ID` header (default `default`).
"""


async def load_demo(service: MasteryService, tenant: str) -> None:
    """Load the demo class into an empty tenant (first start only)."""
    if await service.students(tenant):
        log.info("demo: tenant %r already has students; not loading the demo class", tenant)
        return
    items = demo_events(service.clock(), service.curriculum)
    report = await service.ingest(tenant, items)
    students = len(await service.students(tenant))
    log.info("demo: loaded %d events for %d students", report.count(Status.ACCEPTED), students)


def create_app(
    settings: Settings | None = None, clock: Callable[[], int] = wall_clock_us
) -> FastAPI:
    """Build the app; the store opens in the lifespan and closes on shutdown."""
    settings = settings if settings is not None else Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_service(settings, clock) as service:
            app.state.service = service
            if settings.auth == "off":
                log.warning(
                    "authentication is OFF (MASTERY_AUTH=off): any caller can read and write"
                    " any tenant named in X-Tenant-ID; do not expose this port"
                )
            if settings.demo:
                await load_demo(service, settings.default_tenant)
            log.info("serving on store %s", settings.store_url)
            # Everything built so far lives as long as the process: keep it out of the cycle
            # collector's full passes, and make those passes rare. Cached snapshots hold
            # ~200 tracked objects per student; a full pass over them stalls every request.
            gc.collect()
            gc.freeze()
            thresholds = gc.get_threshold()
            gc.set_threshold(GC_YOUNG, thresholds[1], GC_FULL_EVERY)
            try:
                yield
            finally:
                gc.set_threshold(*thresholds)
                gc.unfreeze()

    app = FastAPI(
        title="Mastery Engine",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    app.include_router(events.router)
    app.include_router(students.router)
    app.include_router(health.router)
    return app
