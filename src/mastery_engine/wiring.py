"""The one place where settings become a running service: store, curriculum, formula."""

import functools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import yaml

from mastery_engine.core.curriculum import DEFAULT_CURRICULUM, Curriculum
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.formula import FormulaConfig, Weights
from mastery_engine.core.prediction import DEFAULT_MODEL, PredictionModel
from mastery_engine.formats.decode import DecodeRules
from mastery_engine.formats.mapping import SkillRule
from mastery_engine.service.analytics import Summaries
from mastery_engine.service.engine import Engine
from mastery_engine.service.guidance import Guidance
from mastery_engine.service.mastery import MasteryService, wall_clock_us
from mastery_engine.settings import Settings
from mastery_engine.stores import Store, open_store
from mastery_engine.stores.base import Sidecar
from mastery_engine.stores.timed import Observer, TimedStore


def load_curriculum(path: Path | None) -> Curriculum:
    """The curriculum in a YAML or JSON file, or the default LearnFlow track."""
    if path is None:
        return DEFAULT_CURRICULUM
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise InvalidConfig(f"cannot read curriculum {path}: {exc}") from exc
    return Curriculum.from_mapping(document)


def load_model(path: Path | None) -> PredictionModel:
    """The next-answer model in a JSON file (`mastery-engine fit`), or the built-in default."""
    if path is None:
        return DEFAULT_MODEL
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidConfig(f"cannot read model {path}: {exc}", field="MASTERY_MODEL_PATH") from exc
    return PredictionModel.from_json(document)


def decode_rules(settings: Settings) -> DecodeRules:
    """How a delivery or a learning record is decoded: the default tenant (Kafka, Dapr), and
    the skill rules of xAPI and Caliper records (built once per distinct setting)."""
    return _decode_rules(
        settings.kafka_default_tenant,
        settings.activity_skill_pattern,
        settings.xapi_skill_extension,
        settings.caliper_skill_extension,
    )


@functools.lru_cache(maxsize=16)
def _decode_rules(tenant: str, pattern: str, xapi: str | None, caliper: str | None) -> DecodeRules:
    return DecodeRules(tenant, SkillRule(xapi, pattern), SkillRule(caliper, pattern))


def formula_config(settings: Settings) -> FormulaConfig:
    """The formula settings, validated."""
    weights = Weights(
        settings.weight_completion,
        settings.weight_quiz,
        settings.weight_quality,
        settings.weight_consistency,
    )
    return FormulaConfig(weights, settings.half_life_days, settings.window_days)


async def open_configured_store(settings: Settings) -> Store:
    """The store the settings name, each backend handed its settings (no backend reads the
    environment itself)."""
    token = settings.dapr_api_token
    sidecar = Sidecar(settings.dapr_http_port, token.get_secret_value() if token else None)
    return await open_store(
        settings.store_url,
        retention_days=settings.retention_days,
        timeout_s=settings.store_timeout_seconds,
        sidecar=sidecar,
    )


@asynccontextmanager
async def open_service(
    settings: Settings, clock: Callable[[], int] = wall_clock_us, observe: Observer | None = None
) -> AsyncIterator[MasteryService]:
    """A service on the configured store, each call within the store deadline (and reported
    to `observe`), closed on exit."""
    curriculum = load_curriculum(settings.curriculum_path)
    config = formula_config(settings)
    opened = await open_configured_store(settings)
    store: Store = TimedStore(opened, settings.store_timeout_seconds, observe)
    try:
        yield MasteryService(
            store,
            curriculum,
            config,
            clock=clock,
            max_batch=settings.max_batch_events,
            max_future_s=settings.max_future_seconds,
            retention_days=settings.retention_days,
        )
    finally:
        await store.close()


@asynccontextmanager
async def open_engine(
    settings: Settings, clock: Callable[[], int] = wall_clock_us, observe: Observer | None = None
) -> AsyncIterator[Engine]:
    """The whole bundle for the API, the Kafka consumer, the MCP server and the CLI alike."""
    async with open_service(settings, clock, observe) as service:
        guidance = Guidance(service, load_model(settings.model_path))
        analytics = Summaries(service, settings.analytics_max_age_seconds)
        try:
            yield Engine.of(service, guidance, analytics)
        finally:
            await analytics.close()
