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
        description=(
            "memory://, sqlite:///path, redis://host:port/db, redis-cluster://host:port,host:port/,"
            " postgresql://..., dapr://store"
        ),
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
    jwt_max_lifetime_seconds: int = Field(
        86_400, ge=0, description="Furthest a token's exp may lie ahead of now; 0: no bound"
    )
    ingest_rate_limit: str = Field(
        "20000/second", description="Events per tenant (limits notation, e.g. 1000/minute); 'off'"
    )
    rate_limit_storage: str = Field(
        "memory://", description="Where rate-limit counters live: memory:// or redis://..."
    )
    store_timeout_seconds: float = Field(
        2.0, gt=0, le=300, description="Deadline of each store call; past it: 503, Retry-After"
    )
    client_timeout_seconds: float = Field(
        10.0, gt=0, le=3600, description="A request's headers and body must arrive within this"
    )
    purge_interval_seconds: int = Field(
        3600, ge=0, description="How often serve purges expired raw events; 0 disables"
    )
    shutdown_drain_seconds: float = Field(
        5.0, ge=0, le=300, description="After SIGTERM: /readyz answers 503 this long, then exit"
    )
    default_tenant: str = Field("default", min_length=1)
    mcp_tenant: str = Field("default", min_length=1, description="Tenant of `mastery-engine mcp`")
    analytics_max_age_seconds: float = Field(
        300.0, ge=0, description="Age at which a tenant's analytics summary is refreshed; 0: always"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    demo: bool = Field(False, description="Load the demo class into an empty store at start")
    curriculum_path: Path | None = Field(None, description="YAML or JSON curriculum file")
    model_path: Path | None = Field(
        None, description="Next-answer model (JSON from `mastery-engine fit`); default built in"
    )
    half_life_days: float = Field(30.0, ge=1.0)
    window_days: int = Field(14, ge=1, le=366)
    weight_completion: float = 0.4
    weight_quiz: float = 0.3
    weight_quality: float = 0.2
    weight_consistency: float = 0.1
    max_batch_events: int = Field(1000, ge=1)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_future_seconds: int = Field(300, ge=0)

    # Event streams: the Kafka consumer, its dead letters and mastery changes, Dapr, xAPI, Caliper.
    kafka_bootstrap: str | None = Field(None, description="Kafka bootstrap servers, host:port,...")
    kafka_topic: str = Field("learning-events", min_length=1, description="Topic of events in")
    kafka_group: str = Field("mastery-engine", min_length=1, description="Consumer group id")
    kafka_dlq_topic: str = Field("learning-events.dlq", min_length=1, description="Dead letters")
    kafka_out_topic: str = Field(
        "mastery-updates", description="Topic of mastery.changed events; empty: not published"
    )
    kafka_default_tenant: str = Field(
        "default", min_length=1, description="Tenant of a delivery naming none (Kafka, Dapr)"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: (
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"] | None
    ) = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: str | None = Field(None, description="CA bundle (PEM) of the brokers")
    kafka_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Other librdkafka properties, as a JSON object"
    )
    kafka_batch_size: int = Field(1000, ge=1, le=100_000, description="Messages per poll")
    kafka_batch_wait_ms: int = Field(200, ge=1, le=60_000, description="Longest wait per poll")
    kafka_session_timeout_ms: int = Field(45_000, ge=1000)
    kafka_heartbeat_interval_ms: int = Field(3_000, ge=100)
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="consume: Prometheus /metrics on this port (0: any free)"
    )
    kafka_retry_max_seconds: float = Field(
        30.0, gt=0, description="Cap of the backoff while the store is unavailable"
    )
    change_threshold: float = Field(
        0.05, gt=0, le=1, description="Mastery move that is announced even without a new level"
    )
    dapr_pubsub: str = Field("pubsub", min_length=1, description="Dapr pub/sub component name")
    # Set by the Dapr sidecar itself (no MASTERY_ prefix): its HTTP port and API token.
    dapr_http_port: int | None = Field(
        None, ge=1, le=65535, validation_alias="DAPR_HTTP_PORT", description="dapr:// default port"
    )
    dapr_api_token: SecretStr | None = Field(
        None, validation_alias="DAPR_API_TOKEN", description="Sent to the sidecar's state API"
    )
    dapr_app_token: SecretStr | None = Field(
        None, description="When set, Dapr deliveries must carry it in `dapr-api-token`"
    )
    xapi_skill_extension: str | None = Field(
        None, description="xAPI extension IRI (context or activity) whose value is the skill id"
    )
    caliper_skill_extension: str | None = Field(
        None, description="Caliper `extensions` key (event, object or assignable) naming the skill"
    )
    activity_skill_pattern: str = Field(
        "*/skills/{skill_id}",
        description="Activity id shape naming the skill: '*' is any text, {skill_id} a segment",
    )
