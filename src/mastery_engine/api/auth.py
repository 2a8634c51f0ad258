"""Bearer JWTs: HS256 with a shared secret, RS256/ES256 with a PEM key or a JWKS endpoint."""

import logging
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt

from mastery_engine.core.access import TENANT_RULE, Principal, is_tenant, roles_of
from mastery_engine.core.errors import InvalidConfig, Unauthenticated
from mastery_engine.settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)
REQUIRED_CLAIMS = ["sub", "exp", "tenant", "roles"]
MIN_SECRET_BYTES = 32
JWKS_TTL_S = 600.0
JWKS_MIN_REFRESH_S = 30.0  # an unknown kid refetches at most this often (no fetch storms)
REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidIssuerError, "token issuer is not accepted"),
    (jwt.InvalidAudienceError, "token audience is not accepted"),
    (jwt.InvalidSignatureError, "token signature does not verify"),
    (jwt.InvalidAlgorithmError, "token algorithm is not accepted"),
    (jwt.MissingRequiredClaimError, "token lacks a required claim"),
]


class JwksKeys:
    """Signing keys of a JWKS endpoint, cached and refetched when a `kid` is unknown."""

    def __init__(self, url: str, client: "httpx.AsyncClient") -> None:
        self.url = url
        self._client = client
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")

    @classmethod
    async def open(cls, url: str, resources: AsyncExitStack) -> "JwksKeys":
        """Keys of the endpoint `url`, fetched with an HTTP client closed with `resources`.

        httpx is imported here: with its TLS set-up it costs about 8 MiB per process, and
        only a JWKS endpoint needs it.
        """
        import httpx

        return cls(url, await resources.enter_async_context(httpx.AsyncClient()))

    async def key(self, kid: str | None) -> jwt.PyJWK:
        """The key with this `kid` (the only key when the set has one and no kid is given)."""
        age = time.monotonic() - self._fetched_at
        if age > JWKS_TTL_S or (kid not in self._keys and age > JWKS_MIN_REFRESH_S):
            await self._fetch()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        found = self._keys.get(kid or "")
        if found is None:
            raise Unauthenticated(f"token key id {kid!r} is not in the issuer's key set")
        return found

    async def _fetch(self) -> None:
        import httpx

        try:
            answer = await self._client.get(self.url, timeout=5.0)
            answer.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(answer.json()).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            log.warning("JWKS %s could not be fetched: %s", self.url, exc)
            if not self._keys:
                raise Unauthenticated("the token issuer's key set cannot be fetched") from exc
            return  # keep serving with the keys we have
        self._keys = {k.key_id or "": k for k in keys}
        self._fetched_at = time.monotonic()


class TokenVerifier:
    """Checks a Bearer token and turns it into a `Principal`."""

    def __init__(self, settings: Settings, jwks: JwksKeys | None = None) -> None:
        self.settings = settings
        self.algorithms = settings.jwt_algorithms or default_algorithms(settings)
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._public_key = _pem(settings.jwt_public_key)
        self._jwks = jwks
        if self._secret is not None and len(self._secret.encode()) < MIN_SECRET_BYTES:
            raise InvalidConfig(
                f"MASTERY_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (RFC 7518 3.2)",
                field="MASTERY_JWT_SECRET",
            )
        if self._secret is None and self._public_key is None and self._jwks is None:
            raise InvalidConfig(
                "MASTERY_AUTH=jwt needs MASTERY_JWT_SECRET, MASTERY_JWT_PUBLIC_KEY or"
                " MASTERY_JWKS_URL (or MASTERY_AUTH=off for local use)",
                field="MASTERY_AUTH",
            )

    async def verify(self, token: str) -> Principal:
        """The caller a token names, or `Unauthenticated` saying what is wrong with it."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise Unauthenticated(f"token is malformed: {exc}") from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            allowed = ", ".join(self.algorithms)
            raise Unauthenticated(f"token algorithm {algorithm!r} is not accepted; use {allowed}")
        key = await self._key(str(algorithm), header.get("kid"))
        claims = self._decode(token, key)
        return _principal(claims)

    async def _key(self, algorithm: str, kid: object) -> Any:
        if algorithm.startswith("HS"):
            if self._secret is None:
                raise Unauthenticated(f"token algorithm {algorithm} needs a shared secret")
            return self._secret
        if self._jwks is not None and (kid is not None or self._public_key is None):
            return (await self._jwks.key(kid if isinstance(kid, str) else None)).key
        if self._public_key is None:
            raise Unauthenticated(f"no public key is configured for {algorithm}")
        return self._public_key

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                issuer=self.settings.jwt_issuer,
                audience=self.settings.jwt_audience,
                leeway=self.settings.jwt_leeway_seconds,
                options={
                    "require": REQUIRED_CLAIMS,
                    "verify_aud": bool(self.settings.jwt_audience),
                },
            )
        except jwt.PyJWTError as exc:
            reason = next((text for kind, text in REASONS if isinstance(exc, kind)), "invalid")
            raise Unauthenticated(f"{reason}: {exc}") from None
        self._check_lifetime(claims["exp"])
        return claims

    def _check_lifetime(self, exp: float) -> None:
        """A stolen token is useful only until `exp`: refuse one that lives too long."""
        limit = self.settings.jwt_max_lifetime_seconds
        ahead = exp - time.time()
        if limit and ahead > limit + self.settings.jwt_leeway_seconds:
            raise Unauthenticated(
                f"token lifetime is too long: exp lies {ahead:.0f} s ahead, at most {limit} s"
                " is accepted (MASTERY_JWT_MAX_LIFETIME_SECONDS)"
            )


def _principal(claims: dict[str, Any]) -> Principal:
    sub, tenant = claims.get("sub"), claims.get("tenant")
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("token claim sub must be a non-empty string")
    if not is_tenant(tenant):
        raise Unauthenticated(f"token claim tenant must be {TENANT_RULE}")
    try:
        roles = roles_of(claims.get("roles"))
    except ValueError as exc:
        raise Unauthenticated(f"token claim {exc}") from None
    return Principal(sub, tenant, roles)


def default_algorithms(settings: Settings) -> list[str]:
    """HS256 with a secret; RS256 and ES256 with a public key or JWKS."""
    found = ["HS256"] if settings.jwt_secret else []
    if settings.jwt_public_key or settings.jwks_url:
        found += ["RS256", "ES256"]
    return found


def _pem(value: str | None) -> str | None:
    """A PEM given inline, or read from the file it names."""
    if value is None or "-----BEGIN" in value:
        return value
    try:
        return Path(value).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidConfig(
            f"MASTERY_JWT_PUBLIC_KEY is neither a PEM nor a readable file: {exc}",
            field="MASTERY_JWT_PUBLIC_KEY",
        ) from exc
