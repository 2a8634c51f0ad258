"""The `mastery-engine` command: serve, replay, show, purge, migrate, token."""

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mastery_engine.cli.agents import agents
from mastery_engine.cli.common import console, fail, load_settings
from mastery_engine.cli.models import models
from mastery_engine.cli.streams import streams
from mastery_engine.core.access import Role
from mastery_engine.core.errors import MasteryError
from mastery_engine.core.instants import format_us, parse_as_of
from mastery_engine.jsonl import read_lines
from mastery_engine.service.mastery import MasteryService
from mastery_engine.service.outcomes import Status
from mastery_engine.settings import Settings
from mastery_engine.stores import require_driver
from mastery_engine.wiring import open_configured_store, open_service

app = typer.Typer(help="Mastery Engine: mastery per student and skill, from learning events.")
app.add_typer(streams)  # consume, dlq replay, schemas
app.add_typer(models)  # import-pykt, fit, predict-replay
app.add_typer(agents)  # mcp
TenantOption = Annotated[str | None, typer.Option(help="Tenant (default MASTERY_DEFAULT_TENANT)")]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (MASTERY_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (MASTERY_PORT, default 8000)")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Serve the HTTP API."""
    from mastery_engine.api.connections import deadline_protocol  # FastAPI: serve only

    settings = load_settings()
    try:
        require_driver(settings.store_url)
    except MasteryError as exc:
        fail(exc)
    uvicorn.run(
        "mastery_engine.api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        http=deadline_protocol(settings.client_timeout_seconds),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )


async def _replay(service: MasteryService, tenant: str, path: Path, batch: int) -> dict[str, int]:
    totals = {s.value: 0 for s in Status}
    errors_shown = 0
    pending: list[Any] = []
    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with path.open(encoding="utf-8") as handle:
        size = sum(1 for line in handle if line.strip())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("replay", total=size)

        async def flush() -> None:
            nonlocal errors_shown
            report = await service.ingest(tenant, pending)
            for result in report.results:
                totals[result.status.value] += 1
                if result.status is Status.REJECTED and errors_shown < 10:
                    errors_shown += 1
                    progress.console.print(
                        f"[yellow]rejected[/yellow] {result.id}: {result.error}", soft_wrap=True
                    )
            progress.advance(task, len(pending))
            pending.clear()

        for _, item, error in read_lines(path):
            if error is not None:
                totals[Status.REJECTED.value] += 1
                progress.console.print(f"[yellow]rejected[/yellow] {error}", soft_wrap=True)
                progress.advance(task, 1)
                continue
            pending.append(item)
            if len(pending) >= batch:
                await flush()
        if pending:
            await flush()
    return totals


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON Lines of events")],
    tenant: TenantOption = None,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Events per store batch")] = 1000,
) -> None:
    """Ingest a file of events through the same validation and store as the API."""
    settings = load_settings()

    async def run() -> dict[str, int]:
        async with open_service(settings) as service:
            return await _replay(service, tenant or settings.default_tenant, file, batch)

    try:
        totals = asyncio.run(run())
    except MasteryError as exc:
        fail(exc)
        return
    summary = ", ".join(f"{n} {status}" for status, n in totals.items())
    console.print(f"replayed {file}: {summary}", soft_wrap=True)
    if totals["rejected"]:
        raise typer.Exit(1)


@app.command()
def show(
    student: Annotated[str, typer.Argument(help="Student id")],
    skill: Annotated[str | None, typer.Option(help="Only this skill, with its explanation")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date or RFC 3339 time")] = None,
    tenant: TenantOption = None,
) -> None:
    """Print a student's mastery as a table."""
    settings = load_settings()
    try:
        at = parse_as_of(as_of) if as_of else None
        asyncio.run(_show(settings, tenant or settings.default_tenant, student, skill, at))
    except MasteryError as exc:
        fail(exc)


async def _show(
    settings: Settings, tenant: str, student: str, skill: str | None, at: int | None
) -> None:
    async with open_service(settings) as service:
        if skill is None:
            result = await service.mastery(tenant, student, at)
            skills, when, explanation = list(result.skills), result.as_of, None
        else:
            one, explanation = await service.skill_mastery(tenant, student, skill, at)
            skills, when = [one], one.as_of
    table = Table(title=f"{student} as of {format_us(when)}")
    for column in ("skill", "mastery", "level", "completion", "quiz", "quality", "consistency"):
        table.add_column(column, justify="left" if column in ("skill", "level") else "right")
    for m in skills:
        c = m.components
        values = (m.mastery, c.completion, c.quiz, c.quality, c.consistency)
        row = [f"{v:.3f}" for v in values]
        table.add_row(m.skill_id, row[0], m.level.value, *row[1:])
    console.print(table)
    if explanation is not None:
        console.print(explanation.summary, soft_wrap=True)


@app.command()
def purge() -> None:
    """Delete raw event records older than MASTERY_RETENTION_DAYS (aggregates stay)."""
    settings = load_settings()

    async def run() -> int:
        async with open_service(settings) as service:
            return await service.purge()

    try:
        removed = asyncio.run(run())
    except MasteryError as exc:
        fail(exc)
        return
    console.print(f"purged {removed} raw event records older than {settings.retention_days} days")


@app.command()
def migrate() -> None:
    """Create or upgrade the store's schema, then exit (serve also does this at start)."""
    settings = load_settings()

    async def run() -> list[str]:
        store = await open_configured_store(settings)
        try:
            return await store.migrations()
        finally:
            await store.close()

    try:
        applied = asyncio.run(run())
    except MasteryError as exc:
        fail(exc)
        return
    scheme = settings.store_url.split("://", 1)[0]
    names = f": {', '.join(applied)}" if applied else ""
    console.print(f"{scheme} store is up to date{names}", soft_wrap=True)


@app.command()
def token(
    tenant: Annotated[str, typer.Option(help="The tenant claim")],
    sub: Annotated[str, typer.Option(help="The subject: a student id, or who the caller is")],
    role: Annotated[list[str], typer.Option(help="A role (repeat): student, teacher, ...")],
    hours: Annotated[float, typer.Option(min=0.01, help="Lifetime")] = 12.0,
) -> None:
    """Mint a development token (HS256 with MASTERY_JWT_SECRET) and print it."""
    import jwt

    settings = load_settings()
    if settings.jwt_secret is None:
        console.print("[red]error:[/red] set MASTERY_JWT_SECRET to mint a token")
        raise typer.Exit(2)
    known = {r.value for r in Role}
    unknown = sorted(set(role) - known)
    if unknown:
        console.print(f"[red]error:[/red] unknown roles {unknown}; allowed: {sorted(known)}")
        raise typer.Exit(2)
    now = int(time.time())
    claims = {
        "sub": sub,
        "tenant": tenant,
        "roles": role,
        "iat": now,
        "exp": now + int(hours * 3600),
    }
    claims |= {"iss": settings.jwt_issuer} if settings.jwt_issuer else {}
    claims |= {"aud": settings.jwt_audience} if settings.jwt_audience else {}
    print(jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256"))


def main() -> None:
    """Entry point of the console script."""
    app()
