"""Request dependencies: the service, the caller, and what the caller may do."""

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import Depends, Request

from mastery_engine.api.schemas.common import StudentId
from mastery_engine.core.access import TENANT_RULE, Action, Principal, Role, is_tenant
from mastery_engine.core.errors import Forbidden, InvalidRequest, Unauthenticated
from mastery_engine.core.rosters import check_id
from mastery_engine.service.mastery import MasteryService
from mastery_engine.settings import Settings

if TYPE_CHECKING:
    from mastery_engine.api.auth import TokenVerifier

Check = TypeVar("Check", bound=Callable[..., Awaitable[object]])
# Security schemes of the OpenAPI document: how a dependency authenticates its caller.
BEARER = "bearer"
APP_TOKEN = "daprAppToken"
_ACCESS_CHECKS: dict[object, str] = {}


def access_check(check: Check) -> Check:
    """Mark a dependency as one that checks a bearer token (the OpenAPI document says so)."""
    _ACCESS_CHECKS[check] = BEARER
    return check


def app_token_check(check: Check) -> Check:
    """Mark a dependency as one that checks the Dapr app token."""
    _ACCESS_CHECKS[check] = APP_TOKEN
    return check


def scheme_of(call: object) -> str | None:
    """The security scheme a dependency checks, or None when it checks none."""
    return _ACCESS_CHECKS.get(call)


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
    if not is_tenant(x_tenant_id):
        raise InvalidRequest(f"X-Tenant-ID must be {TENANT_RULE}", field="X-Tenant-ID")
    return x_tenant_id


@access_check
async def get_caller(request: Request) -> Principal:
    """Who is calling: the verified token's principal, or an admin when auth is off.

    The headers are read here rather than declared as parameters: every declared parameter
    costs each request a validation pass, and these two are documented in the OpenAPI
    document as the `bearer` security scheme and the `X-Tenant-ID` header instead.
    """
    headers = request.headers
    authorization = headers.get("authorization")
    x_tenant_id = headers.get("x-tenant-id")
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
# thread hop cost more than the rest of a mastery query. Each access check resolves the
# caller itself, so a route pays for one dependency level, not two.
async def _service(request: Request) -> MasteryService:
    return get_service(request)


async def _settings(request: Request) -> Settings:
    return get_settings(request)


@access_check
async def get_tenant(request: Request) -> str:
    """The caller's tenant (any authenticated caller)."""
    return (await get_caller(request)).tenant


# A dependency's declaration of a path parameter is the one OpenAPI shows, so the student
# id is declared (and checked by the id rule) here, in the access checks that take it.
def _of_student(action: Action) -> Callable[[Request, str], Awaitable[Principal]]:
    async def check(request: Request, student_id: StudentId) -> Principal:
        caller = await get_caller(request)
        check_id(student_id, "student_id")
        caller.require(action, student_id)
        return caller

    check.__name__ = f"caller_that_may_{action.name.lower()}_student"
    return access_check(check)


reader_of_student = _of_student(Action.READ_STUDENT)  # a student: only their own
exporter_of_student = _of_student(Action.EXPORT)  # an admin, or the student


def _admin(action: Action) -> Callable[[Request], Awaitable[Principal]]:
    async def check(request: Request) -> Principal:
        caller = await get_caller(request)
        caller.require(action)
        return caller

    check.__name__ = f"caller_that_may_{action.name.lower()}"
    return access_check(check)


def _needs(action: Action) -> Callable[[Request], Awaitable[str]]:
    async def check(request: Request) -> str:
        caller = await get_caller(request)
        caller.require(action)
        return caller.tenant

    check.__name__ = f"tenant_that_may_{action.name.lower()}"
    return access_check(check)


@app_token_check
async def dapr_sidecar(request: Request) -> None:
    """The Dapr sidecar, known by the app token it sends (`dapr-api-token`, APP_API_TOKEN).

    Without a configured token this passes: `create_app` serves the Dapr routes then only
    while authentication is off.
    """
    expected = get_settings(request).dapr_app_token
    if expected is None:
        return
    given = request.headers.get("dapr-api-token", "")
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise Unauthenticated("dapr-api-token is missing or wrong", field="dapr-api-token")


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
DaprSidecar = Depends(dapr_sidecar)
