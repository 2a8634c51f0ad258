"""Liveness and readiness probes."""

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from mastery_engine.api.deps import AppSettings, Service
from mastery_engine.api.errors import RETRY_SOON
from mastery_engine.api.schemas.common import ERROR_RESPONSES
from mastery_engine.api.schemas.operations import CheckOut, ReadyOut
from mastery_engine.core.errors import StoreUnavailable

router = APIRouter(tags=["operations"], responses=ERROR_RESPONSES)


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyOut,
    summary="Every backend answers",
    responses={
        503: {
            "model": ReadyOut,
            "description": "Draining, or a backend does not answer (see Retry-After)",
        }
    },
)
async def readyz(request: Request, service: Service, settings: AppSettings) -> JSONResponse:
    """200 when each backend answers a trivial request, else 503 naming the one that did not."""
    if request.app.state.draining:
        draining: CheckOut = {"status": "draining", "detail": "shutting down after SIGTERM"}
        body: ReadyOut = {"status": "draining", "checks": {"process": draining}}
        return JSONResponse(body, 503, headers=RETRY_SOON)
    backend = settings.store_url.split("://", 1)[0]
    started = time.perf_counter()
    try:
        await service.store.ping()
    except StoreUnavailable as exc:
        failed: CheckOut = {"backend": backend, "status": "unavailable", "error": exc.message}
        body = {"status": "unavailable", "checks": {"store": failed}}
        return JSONResponse(body, 503, headers=RETRY_SOON)
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    check: CheckOut = {"backend": backend, "status": "ok", "latency_ms": elapsed}
    body = {"status": "ready", "checks": {"store": check}}
    return JSONResponse(body)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    """Requests, latencies, events by channel and outcome, store operations (text format)."""
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
