"""Every route against the running service, without credentials: each says how it authenticates.

A route that takes data must check a bearer token (the tenant comes from it) or, for the
Dapr routes, the sidecar's app token (the tenant a delivery names is trusted only then). The
few public routes (probes, metrics, docs, the dashboard's static files) take no tenant and
show no tenant's data.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import event
from tests.serving import Server, free_port, serve

pytestmark = pytest.mark.slow

SECRET = "route-auth-secret-" + "0123456789" * 4
APP_TOKEN = "dapr-app-token-" + "abcdef" * 4
TENANT = "school-zeta"
STUDENT = "student-kept-private"
# The request of the report: a CloudEvent naming tenant B, sent by anyone who reaches the port.
INJECTION = {
    "specversion": "1.0",
    "type": "x",
    "source": "y",
    "id": "1",
    "tenant": "B",
    "data": {
        "id": "inj-2",
        "type": "quiz.graded",
        "student_id": "b-1",
        "skill_id": "functions",
        "occurred_at": "2026-12-05T00:00:00Z",
        "data": {"quiz_id": "q", "score": 0.0},
    },
}
# Routes anyone may call: they take no tenant and answer no tenant's data.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
}
# Routes outside the OpenAPI document.
UNDOCUMENTED_PUBLIC = ["/openapi.json", "/docs", "/redoc", "/dashboard"]
UNDOCUMENTED_BEARER = [("GET", "/mcp"), ("POST", "/mcp"), ("DELETE", "/mcp")]


def token(tenant: str = TENANT, roles: tuple[str, ...] = ("admin",), **claims: Any) -> str:
    """An HS256 token, valid for an hour unless `claims` say otherwise."""
    body = {"sub": "boss", "tenant": tenant, "roles": list(roles), "exp": int(time.time()) + 3600}
    return jwt.encode(body | claims, SECRET, algorithm="HS256")


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture(scope="module")
def jwt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Authentication on, no Dapr app token; one student in TENANT."""
    db = tmp_path_factory.mktemp("auth") / "auth.db"
    env = {"MASTERY_AUTH": "jwt", "MASTERY_JWT_SECRET": SECRET}
    with serve(db, free_port(), **env) as server:
        quiz = event("k1", "quiz.graded", "2026-03-01T10:00:00Z", student=STUDENT, score=0.5)
        quiz["data"]["quiz_id"] = "q"
        answer = httpx.post(f"{server.url}/v1/events", json=quiz, headers=bearer(token()))
        assert answer.status_code == 200, answer.text
        yield server


@pytest.fixture(scope="module")
def sidecar_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Authentication on, with the Dapr app token."""
    db = tmp_path_factory.mktemp("dapr") / "dapr.db"
    env = {"MASTERY_AUTH": "jwt", "MASTERY_JWT_SECRET": SECRET, "MASTERY_DAPR_APP_TOKEN": APP_TOKEN}
    with serve(db, free_port(), **env) as server:
        yield server


def students_of(server: Server, tenant: str) -> list[str]:
    answer = httpx.get(f"{server.url}/v1/students", headers=bearer(token(tenant)))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["students"])


def test_dapr_routes_are_off_without_an_app_token(jwt_server: Server) -> None:
    injected = httpx.post(f"{jwt_server.url}/dapr/events", json=INJECTION)
    assert injected.status_code == 404
    assert httpx.get(f"{jwt_server.url}/dapr/subscribe").status_code == 404
    with_bearer = httpx.post(
        f"{jwt_server.url}/dapr/events", json=INJECTION, headers=bearer(token("B"))
    )
    assert with_bearer.status_code == 404
    assert students_of(jwt_server, "B") == []
    paths = httpx.get(f"{jwt_server.url}/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/dapr")]


@pytest.mark.parametrize(
    "headers",
    [{}, {"dapr-api-token": "wrong"}, {"dapr-api-token": APP_TOKEN[:-1]}, bearer(token("B"))],
    ids=["none", "wrong", "near miss", "a bearer token instead"],
)
def test_dapr_routes_need_the_app_token(sidecar_server: Server, headers: dict[str, str]) -> None:
    injected = httpx.post(f"{sidecar_server.url}/dapr/events", json=INJECTION, headers=headers)
    assert injected.status_code == 401, injected.text
    assert injected.json()["field"] == "dapr-api-token"
    listed = httpx.get(f"{sidecar_server.url}/dapr/subscribe", headers=headers)
    assert listed.status_code == 401
    assert students_of(sidecar_server, "B") == []


def test_the_sidecar_with_its_token_delivers_into_the_tenant_it_names(
    sidecar_server: Server,
) -> None:
    sidecar = {"dapr-api-token": APP_TOKEN}
    listed = httpx.get(f"{sidecar_server.url}/dapr/subscribe", headers=sidecar)
    assert listed.status_code == 200
    assert listed.json()[0]["route"] == "/dapr/events"
    delivered = httpx.post(f"{sidecar_server.url}/dapr/events", json=INJECTION, headers=sidecar)
    assert delivered.json() == {"status": "SUCCESS"}
    assert students_of(sidecar_server, "B") == ["b-1"]


def test_the_openapi_document_declares_the_app_token(sidecar_server: Server) -> None:
    document = httpx.get(f"{sidecar_server.url}/openapi.json").json()
    scheme = document["components"]["securitySchemes"]["daprAppToken"]
    assert scheme == scheme | {"type": "apiKey", "in": "header", "name": "dapr-api-token"}
    for path, method in (("/dapr/subscribe", "get"), ("/dapr/events", "post")):
        assert document["paths"][path][method]["security"] == [{"daprAppToken": []}]


def operations(server: Server) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) of every operation the service documents."""
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    return [
        (method.upper(), path, operation)
        for path, methods in paths.items()
        for method, operation in methods.items()
    ]


def concrete(path: str) -> str:
    """A path template with every parameter filled in."""
    return (
        path.replace("{student_id}", STUDENT)
        .replace("{skill_id}", "basics")
        .replace("{class_id}", "7b")
    )


def test_every_documented_route_either_checks_a_token_or_is_public(jwt_server: Server) -> None:
    seen_public = set()
    for method, path, operation in operations(jwt_server):
        answer = httpx.request(method, f"{jwt_server.url}{concrete(path)}", json={})
        if (method, path) in PUBLIC:
            assert "security" not in operation
            assert answer.status_code in (200, 503), (method, path, answer.status_code)
            seen_public.add((method, path))
            continue
        assert operation["security"] == [{"bearer": []}], (method, path)
        assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
        assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="mastery-engine"')
    assert seen_public == PUBLIC  # a new unauthenticated route must be added here on purpose


def test_mcp_over_http_needs_a_bearer_token(jwt_server: Server) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for method, path in UNDOCUMENTED_BEARER:
        answer = httpx.request(method, f"{jwt_server.url}{path}", json=hello)
        assert answer.status_code == 401, (method, answer.status_code)
    expired = bearer(token(exp=int(time.time()) - 600))
    assert httpx.post(f"{jwt_server.url}/mcp", json=hello, headers=expired).status_code == 401


def test_public_routes_show_no_tenant_s_data(jwt_server: Server) -> None:
    for path in [*(path for _, path in sorted(PUBLIC)), *UNDOCUMENTED_PUBLIC]:
        answer = httpx.get(f"{jwt_server.url}{path}")
        assert answer.status_code == 200, path
        assert STUDENT not in answer.text and TENANT not in answer.text, path


def test_token_lifetime_is_bounded(jwt_server: Server) -> None:
    url = f"{jwt_server.url}/v1/students"
    two_days = bearer(token(exp=int(time.time()) + 2 * 86_400))
    refused = httpx.get(url, headers=two_days)
    assert refused.status_code == 401
    assert "lifetime is too long" in refused.json()["detail"]
    assert "MASTERY_JWT_MAX_LIFETIME_SECONDS" in refused.json()["detail"]
    year_30000 = bearer(token(exp=884_541_340_800))
    assert httpx.get(url, headers=year_30000).status_code == 401
    a_day = bearer(token(exp=int(time.time()) + 86_000))
    assert httpx.get(url, headers=a_day).status_code == 200


def test_no_lifetime_bound_when_set_to_zero(tmp_path: Path) -> None:
    env = {
        "MASTERY_AUTH": "jwt",
        "MASTERY_JWT_SECRET": SECRET,
        "MASTERY_JWT_MAX_LIFETIME_SECONDS": "0",
    }
    with serve(tmp_path / "x.db", free_port(), **env) as server:
        year_30000 = bearer(token(exp=884_541_340_800))
        assert httpx.get(f"{server.url}/v1/students", headers=year_30000).status_code == 200


@pytest.mark.parametrize("tenant", ["a\n", "a\r\n", "\na", "a\x00"])
def test_a_tenant_claim_with_a_newline_or_control_character_is_refused(
    jwt_server: Server, tenant: str
) -> None:
    answer = httpx.get(f"{jwt_server.url}/v1/students", headers=bearer(token(tenant)))
    assert answer.status_code == 401
    assert "token claim tenant must be" in answer.json()["detail"]


@pytest.mark.parametrize("as_of", ["2026-03-01\n", "2026-03-01T10:00:00Z\n"])
def test_an_instant_with_a_trailing_newline_is_refused(jwt_server: Server, as_of: str) -> None:
    answer = httpx.get(
        f"{jwt_server.url}/v1/students/{STUDENT}/mastery",
        params={"as_of": as_of},
        headers=bearer(token()),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "as_of"


def test_a_cloudevent_tenant_with_a_newline_is_dropped(sidecar_server: Server) -> None:
    body = INJECTION | {"tenant": "B\n", "data": INJECTION["data"] | {"id": "nl-1"}}
    answer = httpx.post(
        f"{sidecar_server.url}/dapr/events", json=body, headers={"dapr-api-token": APP_TOKEN}
    )
    assert answer.json()["status"] == "DROP"
    assert "tenant" in answer.json()["reason"]
