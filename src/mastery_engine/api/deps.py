"""Request dependencies: the service and the caller's tenant."""

import re
from typing import Annotated

from fastapi import Depends, Header, Request

from mastery_engine.core.errors import InvalidRequest
from mastery_engine.service import MasteryService
from mastery_engine.settings import Settings

TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def get_service(request: Request) -> MasteryService:
    """The service the lifespan built."""
    service: MasteryService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_tenant(
    request: Request,
    x_tenant_id: Annotated[
        str | None, Header(description="Tenant while authentication is off")
    ] = None,
) -> str:
    """The tenant: the X-Tenant-ID header, or the configured default tenant."""
    if x_tenant_id is None:
        return get_settings(request).default_tenant
    if not TENANT_PATTERN.match(x_tenant_id):
        raise InvalidRequest(
            "X-Tenant-ID must be 1-64 characters of letters, digits, '.', '_' or '-',"
            " starting with a letter or digit",
            field="X-Tenant-ID",
        )
    return x_tenant_id


Service = Annotated[MasteryService, Depends(get_service)]
Tenant = Annotated[str, Depends(get_tenant)]
AppSettings = Annotated[Settings, Depends(get_settings)]
