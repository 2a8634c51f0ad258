"""Liveness and readiness probes."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from mastery_engine.api.deps import Service
from mastery_engine.core.errors import StoreUnavailable

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz", summary="The store answers")
async def readyz(service: Service) -> JSONResponse:
    """200 when the store answers a trivial query, else 503 with the reason."""
    try:
        await service.store.ping()
    except StoreUnavailable as exc:
        return JSONResponse({"status": "unavailable", "store": exc.message}, 503)
    return JSONResponse({"status": "ready", "store": "ok"})
