"""Configuration from the environment (prefix MASTERY_); built by the entry points only."""

from pathlib import Path
from typing import Literal

from pydantic import Field
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
    auth: Literal["off"] = Field("off", description="Authentication mode; only 'off' so far")
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
