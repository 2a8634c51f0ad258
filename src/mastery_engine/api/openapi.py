"""The OpenAPI document's authentication: which scheme each operation takes, if any."""

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from mastery_engine.api.deps import APP_TOKEN, BEARER, scheme_of
from mastery_engine.core.access import TENANT_PATTERN
from mastery_engine.settings import Settings

SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT with the claims sub, exp, tenant and roles.",
    },
    APP_TOKEN: {
        "type": "apiKey",
        "in": "header",
        "name": "dapr-api-token",
        "description": "The Dapr sidecar's app token (MASTERY_DAPR_APP_TOKEN, Dapr's"
        " APP_API_TOKEN); only the sidecar calls these routes.",
    },
}
TENANT_HEADER = {
    "name": "X-Tenant-ID",
    "in": "header",
    "required": False,
    "description": "The tenant while authentication is off (local use only); with a token,"
    " it must match the token's tenant or be left out.",
    "schema": {"type": "string", "pattern": f"^{TENANT_PATTERN.pattern}$"},
}


def _schemes(dependant: Dependant) -> set[str]:
    found: set[str] = set()
    for sub in dependant.dependencies:
        scheme = scheme_of(sub.call)
        if scheme is not None:
            found.add(scheme)
        found |= _schemes(sub)
    return found


def _add_security(schema: dict[str, Any], routes: Iterable[BaseRoute], settings: Settings) -> None:
    declared = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        schemes = _schemes(route.dependant)
        if APP_TOKEN in schemes and settings.dapr_app_token is None:
            schemes.discard(APP_TOKEN)  # served only with authentication off: open
        operations = schema["paths"].get(route.path_format, {})
        for scheme in schemes:
            declared[scheme] = SCHEMES[scheme]
            for method in route.methods or ():
                operation = operations.get(method.lower())
                if operation is None:
                    continue
                operation["security"] = [{scheme: []}]
                if scheme == BEARER:
                    operation.setdefault("parameters", []).append(TENANT_HEADER)


def document_security(app: FastAPI, settings: Settings) -> None:
    """Make `app.openapi()` declare which operations take a bearer token or the app token."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_security(generate(), app.routes, settings)
        return generate()

    app.openapi = openapi  # type: ignore[method-assign]
