"""Request dependencies: the service, the caller, and what the caller may do."""

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request

from mastery_engine.core.access import Action, Principal, Role
from mastery_engine.core.errors import Forbidden, InvalidRequest, Unauthenticated
from mastery_engine.service import MasteryService
from mastery_engine.settings import Settings

if TYPE_CHECKING:
    from mastery_engine.api.auth import TokenVerifier

TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def get_service(request: Request) -> MasteryService:
    """The service the lifespan built."""
    service: MasteryService = request.app.state.service
    return service


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def _header_tenant(request: Request, x_tenant_id: str | None) -> str:
    if x_tenant_id is None:
        return get_settings(request).default_tenant
    if not TENANT_PATTERN.match(x_tenant_id):
        raise InvalidRequest(
            "X-Tenant-ID must be 1-64 characters of letters, digits, '.', '_' or '-',"
            " starting with a letter or digit",
            field="X-Tenant-ID",
        )
    return x_tenant_id


async def get_caller(
    request: Request,
    authorization: Annotated[
        str | None, Header(description="Bearer JWT (claims sub, exp, tenant, roles)")
    ] = None,
    x_tenant_id: Annotated[
        str | None, Header(description="Tenant, only while authentication is off")
    ] = None,
) -> Principal:
    """Who is calling: the verified token's principal, or an admin when auth is off."""
    if get_settings(request).auth == "off":
        return Principal("anonymous", _header_tenant(request, x_tenant_id), frozenset(Role))
    if authorization is None:
        raise Unauthenticated("Authorization header is missing", field="Authorization")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'", field="Authorization")
    verifier: TokenVerifier = request.app.state.verifier
    caller = await verifier.verify(token.strip())
    if x_tenant_id is not None and x_tenant_id != caller.tenant:
        raise Forbidden(
            f"X-Tenant-ID {x_tenant_id!r} does not match the token's tenant {caller.tenant!r}",
        )
    return caller


Caller = Annotated[Principal, Depends(get_caller)]


# Dependencies are coroutines: FastAPI runs a plain function in a worker thread, and that
# thread hop cost more than the rest of a mastery query.
async def _service(request: Request) -> MasteryService:
    return get_service(request)


async def _settings(request: Request) -> Settings:
    return get_settings(request)


async def get_tenant(caller: Caller) -> str:
    """The caller's tenant (any authenticated caller)."""
    return caller.tenant


async def reader_of_student(student_id: str, caller: Caller) -> Principal:
    """A caller who may read this student's mastery."""
    caller.require(Action.READ_STUDENT, student_id)
    return caller


async def exporter_of_student(student_id: str, caller: Caller) -> Principal:
    """A caller who may export this student's data (an admin, or the student)."""
    caller.require(Action.EXPORT, student_id)
    return caller


def _admin(action: Action) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(caller: Caller) -> Principal:
        caller.require(action)
        return caller

    check.__name__ = f"caller_that_may_{action.name.lower()}"
    return check


def _needs(action: Action) -> Callable[[Principal], Awaitable[str]]:
    async def check(caller: Caller) -> str:
        caller.require(action)
        return caller.tenant

    check.__name__ = f"tenant_that_may_{action.name.lower()}"
    return check


Service = Annotated[MasteryService, Depends(_service)]
Tenant = Annotated[str, Depends(get_tenant)]
StudentReader = Annotated[Principal, Depends(reader_of_student)]
ClassTenant = Annotated[str, Depends(_needs(Action.READ_CLASS))]
IngestTenant = Annotated[str, Depends(_needs(Action.INGEST))]
StudentExporter = Annotated[Principal, Depends(exporter_of_student)]
Configurer = Annotated[Principal, Depends(_admin(Action.CONFIGURE))]
Eraser = Annotated[Principal, Depends(_admin(Action.ERASE))]
ClassManager = Annotated[Principal, Depends(_admin(Action.MANAGE_CLASSES))]
Auditor = Annotated[Principal, Depends(_admin(Action.AUDIT))]
AppSettings = Annotated[Settings, Depends(_settings)]
