"""The OpenAPI document's authentication: a `bearer` scheme on every operation that needs it."""

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from mastery_engine.api.deps import TENANT_PATTERN, is_access_check

SCHEME = "bearer"
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A JWT with the claims sub, exp, tenant and roles.",
}
TENANT_HEADER = {
    "name": "X-Tenant-ID",
    "in": "header",
    "required": False,
    "description": "The tenant while authentication is off (local use only); with a token,"
    " it must match the token's tenant or be left out.",
    "schema": {"type": "string", "pattern": TENANT_PATTERN.pattern},
}


def _authenticates(dependant: Dependant) -> bool:
    return any(is_access_check(sub.call) or _authenticates(sub) for sub in dependant.dependencies)


def _add_security(schema: dict[str, Any], routes: Iterable[BaseRoute]) -> None:
    schema.setdefault("components", {}).setdefault("securitySchemes", {})[SCHEME] = BEARER
    for route in routes:
        if not isinstance(route, APIRoute) or not _authenticates(route.dependant):
            continue
        operations = schema["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is not None:
                operation["security"] = [{SCHEME: []}]
                operation.setdefault("parameters", []).append(TENANT_HEADER)


def document_security(app: FastAPI) -> None:
    """Make `app.openapi()` declare which operations take a bearer token."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_security(generate(), app.routes)
        return generate()

    app.openapi = openapi  # type: ignore[method-assign]
