"""Settings turned into librdkafka configurations and the consumer loop's options."""

import logging
from dataclasses import dataclass
from typing import Any

from mastery_engine.core.errors import InvalidConfig
from mastery_engine.formats.decode import DecodeRules
from mastery_engine.settings import Settings
from mastery_engine.wiring import decode_rules

CLIENT_ID = "mastery-engine"


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """What the consumer loop needs besides its clients."""

    topic: str
    dlq_topic: str
    out_topic: str | None
    batch_size: int
    batch_wait_s: float
    retry_max_s: float
    change_threshold: float
    rules: DecodeRules

    @classmethod
    def of(cls, settings: Settings) -> "StreamOptions":
        """The options the settings name."""
        return cls(
            topic=settings.kafka_topic,
            dlq_topic=settings.kafka_dlq_topic,
            out_topic=settings.kafka_out_topic or None,
            batch_size=settings.kafka_batch_size,
            batch_wait_s=settings.kafka_batch_wait_ms / 1000,
            retry_max_s=settings.kafka_retry_max_seconds,
            change_threshold=settings.change_threshold,
            rules=decode_rules(settings),
        )


def client_config(settings: Settings) -> dict[str, Any]:
    """Brokers, security (SASL/TLS) and any extra librdkafka properties."""
    if not settings.kafka_bootstrap:
        raise InvalidConfig(
            "MASTERY_KAFKA_BOOTSTRAP is not set (host:port of one or more brokers)",
            field="MASTERY_KAFKA_BOOTSTRAP",
        )
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "client.id": CLIENT_ID,
        "security.protocol": settings.kafka_security_protocol,
        "logger": logging.getLogger("mastery_engine.sources.librdkafka"),
    }
    optional = {
        "sasl.mechanism": settings.kafka_sasl_mechanism,
        "sasl.username": settings.kafka_sasl_username,
        "sasl.password": (
            settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password
            else None
        ),
        "ssl.ca.location": settings.kafka_ssl_ca_location,
    }
    config |= {name: value for name, value in optional.items() if value is not None}
    return config


def consumer_config(settings: Settings, group: str | None = None) -> dict[str, Any]:
    """A consumer that commits only what it has applied."""
    return (
        client_config(settings)
        | {
            "group.id": group or settings.kafka_group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": settings.kafka_session_timeout_ms,
            "heartbeat.interval.ms": settings.kafka_heartbeat_interval_ms,
        }
        | settings.kafka_options
    )


def producer_config(settings: Settings) -> dict[str, Any]:
    """An idempotent producer: a retried send is written once, in order."""
    return (
        client_config(settings)
        | {"enable.idempotence": True, "acks": "all", "linger.ms": 5}
        | settings.kafka_options
    )
