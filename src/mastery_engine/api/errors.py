"""Every error becomes a JSON body `{"detail", "code", "field"}` with the right status."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from mastery_engine.core.errors import (
    Forbidden,
    InvalidConfig,
    InvalidEvent,
    InvalidRequest,
    MalformedBody,
    MasteryError,
    NotFound,
    NotReady,
    PayloadTooLarge,
    RateLimited,
    StoreUnavailable,
    Unauthenticated,
)

log = logging.getLogger(__name__)

STATUS: dict[type[MasteryError], int] = {
    MalformedBody: 400,
    InvalidEvent: 422,
    InvalidRequest: 422,
    InvalidConfig: 422,
    PayloadTooLarge: 413,
    NotFound: 404,
    StoreUnavailable: 503,
    NotReady: 503,
    Unauthenticated: 401,
    Forbidden: 403,
    RateLimited: 429,
}
REALM = 'Bearer realm="mastery-engine"'
RETRY_SOON = {"Retry-After": "1"}  # a store that did not answer: worth asking again at once


def headers_of(exc: MasteryError) -> dict[str, str] | None:
    """Headers a status needs: how to authenticate, when to come back."""
    if isinstance(exc, Unauthenticated):
        if exc.field == "Authorization" and "missing" in exc.message:
            return {"WWW-Authenticate": REALM}  # RFC 6750 3.1: no error code without a token
        description = exc.message.replace('"', "'")
        return {
            "WWW-Authenticate": f'{REALM}, error="invalid_token", error_description="{description}"'
        }
    if isinstance(exc, RateLimited | NotReady):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, StoreUnavailable):
        return RETRY_SOON
    return None


def error_body(message: str, code: str, field: str | None = None) -> dict[str, str | None]:
    """The one error shape of the API."""
    return {"detail": message, "code": code, "field": field}


def status_of(exc: MasteryError) -> int:
    """The HTTP status of a domain error (most specific class wins)."""
    return next((STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS), 400)


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MasteryError)
    status = status_of(exc)
    headers = headers_of(exc)
    if status == 503:
        log.warning("store unavailable on %s: %s", request.url.path, exc.message)
    return JSONResponse(error_body(exc.message, exc.code, exc.field), status, headers=headers)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
    return JSONResponse(error_body(message, "invalid_request", where or None), 422)


def allowed_methods(request: Request) -> str:
    """Every method of every route matching the request's path (the `Allow` of a 405).

    Routes are flat, one per method, and Starlette answers from the first that matches the
    path only, with that route's methods; the others matching the path count too.
    """
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": allowed_methods(request)}
    return JSONResponse(error_body(str(exc.detail), "http_error"), exc.status_code, headers=headers)


async def _gone(request: Request, exc: Exception) -> JSONResponse:
    # A client that left mid-request (or was cut off as too slow) is not an error of ours.
    log.info("client left during %s %s before its body arrived", request.method, request.url.path)
    message = "the client closed the connection before its request body arrived"
    return JSONResponse(error_body(message, "client_disconnected"), 400)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal error; it has been logged", "internal"), 500)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(MasteryError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(ClientDisconnect, _gone)
    app.add_exception_handler(Exception, _unexpected)
