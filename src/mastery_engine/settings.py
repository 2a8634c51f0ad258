"""Configuration from the environment (prefix MASTERY_); built by the entry points only."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the service, read from `MASTERY_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="MASTERY_", extra="ignore", frozen=True)

    store_url: str = Field(
        "sqlite:///./mastery.db",
        description="memory://, sqlite:///path, redis://host:port/db, postgresql://..., dapr://store",
    )
    retention_days: int = Field(90, ge=1, description="Days raw events are kept after ingestion")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    auth: Literal["jwt", "off"] = Field(
        "jwt", description="jwt: Bearer tokens; off: tenant from X-Tenant-ID (local use only)"
    )
    jwt_secret: SecretStr | None = Field(None, description="HS256 shared secret")
    jwt_public_key: str | None = Field(None, description="PEM public key, or a path to one")
    jwks_url: str | None = Field(None, description="JWKS endpoint of the token issuer")
    jwt_algorithms: list[str] | None = Field(
        None, description="Accepted algorithms (default: HS256 with a secret, else RS256, ES256)"
    )
    jwt_issuer: str | None = Field(None, description="Required `iss`, when set")
    jwt_audience: str | None = Field(None, description="Required `aud`, when set")
    jwt_leeway_seconds: int = Field(30, ge=0, le=300, description="Clock skew allowed")
    ingest_rate_limit: str = Field(
        "20000/second", description="Events per tenant (limits notation, e.g. 1000/minute); 'off'"
    )
    rate_limit_storage: str = Field(
        "memory://", description="Where rate-limit counters live: memory:// or redis://..."
    )
    purge_interval_seconds: int = Field(
        3600, ge=0, description="How often serve purges expired raw events; 0 disables"
    )
    default_tenant: str = Field("default", min_length=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    demo: bool = Field(False, description="Load the demo class into an empty store at start")
    curriculum_path: Path | None = Field(None, description="YAML or JSON curriculum file")
    half_life_days: float = Field(30.0, ge=1.0)
    window_days: int = Field(14, ge=1, le=366)
    weight_completion: float = 0.4
    weight_quiz: float = 0.3
    weight_quality: float = 0.2
    weight_consistency: float = 0.1
    max_batch_events: int = Field(1000, ge=1)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_future_seconds: int = Field(300, ge=0)
