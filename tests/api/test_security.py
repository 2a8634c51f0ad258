"""Authentication, the role matrix and tenant isolation, with real signed tokens."""

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from mastery_engine.api import create_app
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.settings import Settings
from tests.conftest import event, fixed_clock

SECRET = "test-secret-long-enough-for-every-hmac-size-" + "0123456789" * 3
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def pem(key: Any) -> str:
    """The public half of a private key, as PEM."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for tenant `a`, admin, expiring in an hour."""
    base = {"sub": "boss", "tenant": "a", "roles": ["admin"], "exp": int(time.time()) + 3600}
    return {k: v for k, v in (base | overrides).items() if v is not None}


def hs(**overrides: Any) -> str:
    """An HS256 token with these claims."""
    return jwt.encode(claims(**overrides), SECRET, algorithm="HS256")


def hmac_signed(payload: dict[str, Any], key: bytes) -> str:
    """An HS256 token signed with any bytes (PyJWT refuses to sign with a PEM)."""
    encode = jwt.utils.base64url_encode
    signing = b".".join(
        encode(json.dumps(part).encode()) for part in ({"alg": "HS256", "typ": "JWT"}, payload)
    )
    signature = hmac.new(key, signing, hashlib.sha256).digest()
    return (signing + b"." + encode(signature)).decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def quiz(event_id: str, student: str = "s-1", **extra: Any) -> dict[str, Any]:
    body = event(event_id, "quiz.graded", "2026-03-19T10:00:00Z", student=student, score=0.9)
    body["data"]["quiz_id"] = "q"
    return body | extra


def app_client(**settings: Any) -> TestClient:
    base: dict[str, Any] = {"store_url": "memory://", "auth": "jwt", "jwt_secret": SECRET}
    return TestClient(create_app(Settings(**(base | settings)), clock=fixed_clock()))


@pytest.fixture
def client() -> Iterator[TestClient]:
    """HS256, with student s-1 of tenant a holding one event."""
    with app_client() as c:
        answer = c.post("/v1/events", json=quiz("e1"), headers=bearer(hs(roles=["service"])))
        assert answer.status_code == 200, answer.text
        yield c


# --- authentication -------------------------------------------------------------------


def test_missing_token_is_401_with_a_challenge(client: TestClient) -> None:
    answer = client.get("/v1/students/s-1/mastery")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="mastery-engine"'
    assert answer.json()["code"] == "unauthenticated"


def none_token() -> str:
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    body = jwt.utils.base64url_encode(json.dumps(claims()).encode()).decode()
    return f"{header}.{body}."


REJECTED = {
    "not bearer": ("Basic dXNlcjpwYXNz", "Bearer <token>"),
    "malformed": ("Bearer not.a.jwt", "malformed"),
    "bad signature": (f"Bearer {jwt.encode(claims(), 'x' * 40, algorithm='HS256')}", "signature"),
    "alg none": (f"Bearer {none_token()}", "algorithm 'none' is not accepted"),
    "other HMAC": (f"Bearer {jwt.encode(claims(), SECRET, algorithm='HS512')}", "'HS512'"),
    "RS256 without a key": (
        f"Bearer {jwt.encode(claims(), RSA_KEY, algorithm='RS256')}",
        "'RS256' is not accepted",
    ),
    "expired": (f"Bearer {hs(exp=int(time.time()) - 3600)}", "expired"),
    "not yet valid": (f"Bearer {hs(nbf=int(time.time()) + 3600)}", "not yet valid"),
    "no sub": (f"Bearer {hs(sub=None)}", "sub"),
    "no exp": (f"Bearer {hs(exp=None)}", "exp"),
    "no tenant": (f"Bearer {hs(tenant=None)}", "tenant"),
    "no roles": (f"Bearer {hs(roles=None)}", "roles"),
    "roles not a list": (f"Bearer {hs(roles='admin')}", "roles claim must be a list"),
    "bad tenant": (f"Bearer {hs(tenant='a/b')}", "tenant must be"),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_bad_tokens_are_401_saying_why(client: TestClient, case: str) -> None:
    header, reason = REJECTED[case]
    answer = client.get("/v1/students/s-1/mastery", headers={"Authorization": header})
    assert answer.status_code == 401, answer.text
    assert reason in answer.json()["detail"]
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="mastery-engine"')
    if case != "not bearer":
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_a_little_clock_skew_is_allowed(client: TestClient) -> None:
    token = hs(exp=int(time.time()) - 5, roles=["teacher"])
    assert client.get("/v1/students", headers=bearer(token)).status_code == 200


def test_issuer_and_audience_are_checked_when_configured() -> None:
    with app_client(jwt_issuer="https://id.example", jwt_audience="mastery") as c:
        good = hs(iss="https://id.example", aud="mastery", roles=["teacher"])
        assert c.get("/v1/students", headers=bearer(good)).status_code == 200
        for bad in (hs(iss="https://evil.example", aud="mastery"), hs(iss="https://id.example")):
            answer = c.get("/v1/students", headers=bearer(bad))
            assert answer.status_code == 401
        wrong_aud = hs(iss="https://id.example", aud="other")
        assert "audience" in c.get("/v1/students", headers=bearer(wrong_aud)).json()["detail"]


@pytest.mark.parametrize(("key", "algorithm"), [(RSA_KEY, "RS256"), (EC_KEY, "ES256")])
def test_public_key_tokens(key: Any, algorithm: str) -> None:
    with app_client(jwt_secret=None, jwt_public_key=pem(key)) as c:
        token = jwt.encode(claims(roles=["teacher"]), key, algorithm=algorithm)
        assert c.get("/v1/students", headers=bearer(token)).status_code == 200
        forged = jwt.encode(claims(roles=["teacher"]), OTHER_RSA_KEY, algorithm="RS256")
        assert c.get("/v1/students", headers=bearer(forged)).status_code == 401
        # The public key must not double as an HMAC secret (algorithm confusion).
        confused = hmac_signed(claims(), pem(key).encode())
        assert c.get("/v1/students", headers=bearer(confused)).status_code == 401


class Jwks:
    """A JWKS endpoint on a local HTTP server, whose key set a test can change."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                body = json.dumps({"keys": jwks.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, key: Any, kid: str) -> None:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        self.keys.append(jwk | {"kid": kid, "use": "sig", "alg": "RS256"})


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    served = Jwks()
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_jwks_keys_are_cached_and_refetched_for_an_unknown_kid(jwks: Jwks) -> None:
    jwks.add(RSA_KEY, "k1")
    with app_client(jwt_secret=None, jwks_url=jwks.url) as c:
        first = jwt.encode(claims(roles=["teacher"]), RSA_KEY, "RS256", headers={"kid": "k1"})
        for _ in range(3):
            assert c.get("/v1/students", headers=bearer(first)).status_code == 200
        assert jwks.fetches == 1  # cached
        jwks.add(OTHER_RSA_KEY, "k2")  # the issuer rotates its keys
        c.app.state.verifier._jwks._fetched_at -= 60  # past the refetch guard
        rotated = jwt.encode(
            claims(roles=["teacher"]), OTHER_RSA_KEY, "RS256", headers={"kid": "k2"}
        )
        assert c.get("/v1/students", headers=bearer(rotated)).status_code == 200
        assert jwks.fetches == 2
        unknown = jwt.encode(claims(), OTHER_RSA_KEY, "RS256", headers={"kid": "nope"})
        answer = c.get("/v1/students", headers=bearer(unknown))
        assert answer.status_code == 401
        assert "key id 'nope'" in answer.json()["detail"]


def test_auth_needs_a_key_and_a_long_secret() -> None:
    with (
        pytest.raises(InvalidConfig, match="needs MASTERY_JWT_SECRET"),
        app_client(jwt_secret=None),
    ):
        pass
    with pytest.raises(InvalidConfig, match="at least 32 bytes"), app_client(jwt_secret="short"):
        pass


# --- the role matrix ----------------------------------------------------------------------

ROLES = ["student", "teacher", "service", "admin"]
CONFIG = {"half_life_days": 10}
# (method, path, body, roles allowed); the student's token has sub s-1.
MATRIX: list[tuple[str, str, Any, set[str]]] = [
    ("POST", "/v1/events", quiz("e2"), {"service", "admin"}),
    ("GET", "/v1/students", None, {"teacher", "service", "admin"}),
    ("GET", "/v1/students/s-1/mastery", None, set(ROLES)),
    ("GET", "/v1/students/s-1/skills/basics/mastery", None, set(ROLES)),
    ("GET", "/v1/students/s-1/skills/basics/history", None, set(ROLES)),
    ("GET", "/v1/students/s-1/recommendations", None, set(ROLES)),
    ("GET", "/v1/students/s-1/alerts", None, set(ROLES)),
    ("GET", "/v1/students/s-1/predictions", None, set(ROLES)),
    ("GET", "/v1/students/s-1/export", None, {"student", "admin"}),
    ("GET", "/v1/config", None, {"admin"}),
    ("PUT", "/v1/config", CONFIG, {"admin"}),
    ("GET", "/v1/audit", None, {"admin"}),
    ("DELETE", "/v1/students/s-1", None, {"admin"}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_role_matrix(client: TestClient, role: str, case: tuple[str, str, Any, set[str]]) -> None:
    method, path, body, allowed = case
    token = hs(sub="s-1" if role == "student" else f"{role}-1", roles=[role])
    answer = client.request(method, path, json=body, headers=bearer(token))
    expected = 200 if role in allowed else 403
    assert answer.status_code == expected, (role, path, answer.text)
    if expected == 403:
        assert answer.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/students/s-1/mastery",
        "/v1/students/s-1/export",
        "/v1/students/s-1/skills/basics/history",
        "/v1/students/s-1/recommendations",
        "/v1/students/s-1/alerts",
        "/v1/students/s-1/predictions",
    ],
)
def test_a_student_reads_only_their_own_data(client: TestClient, path: str) -> None:
    client.post("/v1/events", json=quiz("e9", student="s-2"), headers=bearer(hs()))
    other = hs(sub="s-2", roles=["student"])
    answer = client.get(path, headers=bearer(other))
    assert answer.status_code == 403
    assert "only for themself" in answer.json()["detail"]
    mine = path.replace("s-1", "s-2")
    assert client.get(mine, headers=bearer(other)).status_code == 200


def test_a_token_without_a_known_role_may_do_nothing(client: TestClient) -> None:
    token = hs(roles=["janitor"])
    assert client.get("/v1/students/s-1/mastery", headers=bearer(token)).status_code == 403


# --- tenant isolation ----------------------------------------------------------------------

CROSS_TENANT_READS = [
    "/v1/students/s-1/mastery",
    "/v1/students/s-1/skills/basics/mastery",
    "/v1/students/s-1/skills/basics/history",
    "/v1/students/s-1/export",
    "/v1/students/s-1/recommendations",
    "/v1/students/s-1/alerts",
    "/v1/students/s-1/predictions",
]


@pytest.mark.parametrize("path", CROSS_TENANT_READS)
def test_another_tenant_s_student_is_404(client: TestClient, path: str) -> None:
    answer = client.get(path, headers=bearer(hs(tenant="b")))
    assert answer.status_code == 404
    assert client.get(path, headers=bearer(hs(tenant="a"))).status_code == 200


def test_cross_tenant_writes_listing_erasure_and_config_stay_in_the_caller_s_tenant(
    client: TestClient,
) -> None:
    b = bearer(hs(tenant="b"))
    a = bearer(hs(tenant="a"))
    assert client.get("/v1/students", headers=b).json() == {"students": []}
    erased = client.delete("/v1/students/s-1", headers=b).json()
    assert erased["records_removed"] == 0
    assert client.get("/v1/students/s-1/mastery", headers=a).status_code == 200
    written = client.post("/v1/events", json=quiz("e5", score=0.1), headers=b).json()
    assert written["accepted"] == 1
    a_quiz = client.get("/v1/students/s-1/skills/basics/mastery", headers=a).json()
    assert a_quiz["components"]["quiz"] == pytest.approx(0.9)
    client.put("/v1/config", json={"window_days": 7}, headers=b)
    assert client.get("/v1/config", headers=a).json()["window_days"] == 14
    assert client.get("/v1/audit", headers=a).json()["entries"] == []


def test_the_tenant_comes_from_the_token_only(client: TestClient) -> None:
    b = bearer(hs(tenant="b"))
    named = client.post("/v1/events", json=quiz("e6", tenant_id="a"), headers=b)
    assert named.status_code == 422
    assert named.json()["field"] == "tenant_id"
    batch = client.post("/v1/events", json=[quiz("e7", tenant_id="a"), quiz("e8")], headers=b)
    assert [r["status"] for r in batch.json()["results"]] == ["rejected", "accepted"]
    header = client.get("/v1/students", headers=b | {"X-Tenant-ID": "a"})
    assert header.status_code == 403
    assert "does not match the token's tenant" in header.json()["detail"]


# --- abuse limits and headers ---------------------------------------------------------------


def test_ingestion_is_rate_limited_per_tenant() -> None:
    with app_client(ingest_rate_limit="5/minute") as c:
        a, b = bearer(hs(roles=["service"])), bearer(hs(tenant="b", roles=["service"]))
        batch = [quiz(f"r{i}") for i in range(4)]
        assert c.post("/v1/events", json=batch, headers=a).status_code == 200
        limited = c.post("/v1/events", json=[quiz("r9"), quiz("r10")], headers=a)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert "over its ingestion limit" in limited.json()["detail"]
        assert c.post("/v1/events", json=batch, headers=b).status_code == 200  # other tenant


def test_security_headers_and_no_internals_in_errors(client: TestClient) -> None:
    answer = client.get("/v1/students/s-1/mastery", headers=bearer(hs()))
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Cache-Control"] == "no-store"
    docs = client.get("/docs")
    assert "cdn.jsdelivr.net" in docs.headers["Content-Security-Policy"]
    broken = client.post("/v1/events", content=b"{", headers=bearer(hs()))
    assert broken.status_code == 400
    assert "Traceback" not in broken.text and "/src/" not in broken.text
