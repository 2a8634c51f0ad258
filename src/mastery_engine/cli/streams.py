"""Commands of the event streams: consume, dlq replay, schemas (merged into `mastery-engine`)."""

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from mastery_engine.cli.common import console, fail, load_settings
from mastery_engine.core.errors import MasteryError
from mastery_engine.extras import require

streams = typer.Typer()
dlq = typer.Typer(help="Dead letters of the Kafka consumer.")
streams.add_typer(dlq, name="dlq")


@streams.command()
def consume(
    until_idle: Annotated[
        float | None,
        typer.Option(
            "--until-idle", min=0.1, help="Burst mode: stop after SECONDS without a message"
        ),
    ] = None,
    max_messages: Annotated[
        int | None, typer.Option(min=1, help="Stop once at least this many messages were read")
    ] = None,
) -> None:
    """Consume MASTERY_KAFKA_TOPIC as a member of MASTERY_KAFKA_GROUP until SIGTERM or SIGINT."""
    settings = load_settings()
    try:
        require("kafka", "consume")
        from mastery_engine.sources.kafka.worker import consume as run

        stats = asyncio.run(run(settings, until_idle_s=until_idle, max_messages=max_messages))
    except MasteryError as exc:
        fail(exc)
        return
    console.print(
        f"consumed {stats.messages} messages: {stats.accepted} accepted,"
        f" {stats.duplicates} duplicates, {stats.dead_letters} dead letters,"
        f" {stats.changes} mastery changes published; lag {stats.lag}",
        soft_wrap=True,
    )


@dlq.command("replay")
def dlq_replay(
    until_idle: Annotated[
        float, typer.Option("--until-idle", min=0.1, help="Stop after SECONDS without a letter")
    ] = 5.0,
    limit: Annotated[int | None, typer.Option(min=1, help="Replay at most this many")] = None,
    group: Annotated[
        str | None, typer.Option(help="Group tracking the replay (default: <group>.dlq-replay)")
    ] = None,
) -> None:
    """Send dead letters back to their source topic (key and headers kept), after a fix."""
    settings = load_settings()
    try:
        require("kafka", "dlq replay")
        from mastery_engine.sources.kafka.worker import replay_dead_letters

        stats = replay_dead_letters(
            settings,
            group=group or f"{settings.kafka_group}.dlq-replay",
            until_idle_s=until_idle,
            limit=limit,
        )
    except MasteryError as exc:
        fail(exc)
        return
    later = f"; {stats.left_for_later} failed again meanwhile" if stats.left_for_later else ""
    console.print(f"replayed {stats.replayed} dead letters{later}", soft_wrap=True)


@streams.command()
def schemas(
    out: Annotated[Path, typer.Option(help="Directory to write into")] = Path("schemas"),
) -> None:
    """Write the JSON Schemas of every stream message and the AsyncAPI document."""
    from mastery_engine.formats.schemas import asyncapi_yaml, json_schemas

    out.mkdir(parents=True, exist_ok=True)
    documents = {name: json.dumps(doc, indent=2) + "\n" for name, doc in json_schemas().items()}
    documents["asyncapi.yaml"] = asyncapi_yaml()
    for name, text in documents.items():
        (out / name).write_text(text, encoding="utf-8")
    console.print(f"wrote {len(documents)} files to {out}")
