"""Commands of the next-answer model: import-pykt, fit, predict-replay (merged into the CLI)."""

import asyncio
import csv
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

from mastery_engine.cli.common import fail, load_settings
from mastery_engine.core.access import TENANT_RULE, is_tenant
from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.errors import MasteryError
from mastery_engine.core.events import Event
from mastery_engine.core.instants import format_us, parse_rfc3339
from mastery_engine.core.prediction import p_correct
from mastery_engine.extras import require
from mastery_engine.service.fitting import ReplayStats, fit_model, replay
from mastery_engine.wiring import load_model, open_engine

models = typer.Typer()
console = Console(stderr=True)
PYKT_START = "2015-01-01T00:00:00Z"
PYKT_COLUMNS = ("uid", "concepts", "responses")
PADDING = "-1"
US_PER_MINUTE = 60_000_000
InputFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="JSON Lines of events")
]


def _say(text: str) -> None:
    console.print(text, soft_wrap=True, highlight=False)


def _folds(text: str | None) -> set[str] | None:
    if text is None:
        return None
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    if not chosen or not all(part.isdigit() for part in chosen):
        fail(f"--folds must be comma-separated fold numbers such as 0,1, got {text!r}")
    return chosen


def _pykt_events(row: dict[str, str], number: int, start: int) -> Iterator[dict[str, Any]]:
    """The quiz.graded events of one pyKT row, skipping padding (-1) entries."""
    uid = row["uid"]
    concepts, responses = row["concepts"].split(","), row["responses"].split(",")
    if len(concepts) != len(responses):
        fail(f"line {number}: {len(concepts)} concepts but {len(responses)} responses")
    for i, (raw_concept, raw_response) in enumerate(zip(concepts, responses, strict=True)):
        concept, response = raw_concept.strip(), raw_response.strip()
        if PADDING in (concept, response):
            continue
        if response not in ("0", "1") or not concept.isdigit():
            fail(
                f"line {number}, position {i}: expected a concept id and a 0/1 response,"
                f" got {concept!r}, {response!r}"
            )
        yield {
            "id": f"{uid}-{i}",
            "type": "quiz.graded",
            "student_id": uid,
            "skill_id": f"as15-{concept}",
            "occurred_at": format_us(start + i * US_PER_MINUTE),
            "data": {"quiz_id": f"{uid}-{i}", "score": int(response)},
        }


@models.command("import-pykt")
def import_pykt(
    source: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="pyKT CSV (fold, uid, concepts, responses)"
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="JSON Lines file of events to write")],
    folds: Annotated[
        str | None, typer.Option(help="Only these folds, comma-separated (default: all)")
    ] = None,
) -> None:
    """Convert pyKT sequences into quiz.graded events, one per answer, rows in file order.

    Answer i of student U becomes event "U-i" of skill "as15-<concept>" with score 0 or 1 at
    2015-01-01T00:00:00Z + i minutes. Padding entries (-1) are skipped; the others keep their
    position in the ids and times.
    """
    chosen = _folds(folds)
    start = parse_rfc3339(PYKT_START, "start")
    rows = written = 0
    with source.open(newline="", encoding="utf-8") as handle, out.open("wb") as sink:
        reader = csv.DictReader(handle)
        needed = PYKT_COLUMNS + (("fold",) if chosen is not None else ())
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            fail(f"{source} lacks the pyKT column(s) {', '.join(missing)}")
        for number, row in enumerate(reader, 2):
            if chosen is not None and row["fold"].strip() not in chosen:
                continue
            rows += 1
            for event in _pykt_events(row, number, start):
                sink.write(orjson.dumps(event) + b"\n")
                written += 1
    _say(f"wrote {written:,} quiz.graded events of {rows:,} students to {out}")


@models.command()
def fit(
    events: Annotated[
        Path | None,
        typer.Argument(exists=True, dir_okay=False, help="JSON Lines of events (or --tenant)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Model JSON file to write (with a file)")
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option(
            help="Fit from this tenant's events in the configured store, validate on its"
            " latest 20 % and save it for the tenant (refused if it validates worse)"
        ),
    ] = None,
    pooled: Annotated[
        bool, typer.Option(help="One set of weights for all skills (as the built-in model)")
    ] = False,
) -> None:
    """Fit the next-answer model on the quiz.graded events of a file (replayed in file order)
    or of a tenant in the store."""
    if tenant is not None:
        if events is not None or out is not None:
            fail("fit takes either a file of events (with --out) or --tenant, not both")
        _fit_tenant(tenant, pooled)
        return
    if events is None or out is None:
        fail("fit needs a file of events and --out, or --tenant")
        return
    try:
        require("fit", "fit")
        model, report = fit_model(events, per_skill=not pooled)
    except MasteryError as exc:
        fail(exc)
        return
    out.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    _show_stats(report["stats"])
    _say(
        f"fitted {report['answers']:,} answers of {report['skills']} skills"
        f" (replay {report['replay_s']:.1f} s, optimiser {report['optimise_s']:.1f} s,"
        f" {report['iterations']} iterations) -> {out}"
    )


def _fit_tenant(tenant: str, pooled: bool) -> None:
    """Fit, validate and save a tenant's model in the configured store."""

    async def run() -> dict[str, Any]:
        async with open_engine(load_settings()) as engine:
            return await engine.guidance.models.fit(tenant, per_skill=not pooled)

    try:
        require("fit", "fit")
        if not is_tenant(tenant):
            fail(f"tenant {tenant[:80]!r} must be {TENANT_RULE}")
        saved = asyncio.run(run())
    except MasteryError as exc:
        fail(exc)
        return
    checked, theirs = saved["validation"], saved["validation"]["deployment"]
    _say(
        f"fitted {saved['training']['answers']:,} answers of tenant {tenant!r}; on its latest"
        f" {checked['answers']:,}: AUC {checked['auc']:.4f}, log-loss {checked['log_loss']:.4f},"
        f" ECE {checked['ece']:.4f} (the deployment's model: AUC {theirs['auc']:.4f}, log-loss"
        f" {theirs['log_loss']:.4f}, ECE {theirs['ece']:.4f}); saved, served from now on"
    )
    _say(_memory_line(saved["memory"]))


def _memory_line(memory: dict[str, Any]) -> str:
    """What became of the forgetting model's parameters in a tenant's fit."""
    if memory["in_force"] == "deployment":
        return f"forgetting model: the deployment's parameters stay ({memory['reason']})"
    checked, theirs = memory["validation"], memory["validation"]["deployment"]
    return (
        f"forgetting model: fitted on {memory['training']['reviews']:,} reviews; on the latest"
        f" {checked['predictions']:,}: log-loss {checked['log_loss']:.4f}, AUC"
        f" {checked['auc']:.4f} (the deployment's: {theirs['log_loss']:.4f} /"
        f" {theirs['auc']:.4f}); saved, served from now on"
    )


def _show_stats(stats: ReplayStats) -> None:
    for message in stats.errors:
        _say(f"[yellow]rejected[/yellow] {message}")
    if stats.rejected > len(stats.errors):
        _say(f"... and {stats.rejected - len(stats.errors)} more rejected lines")


@models.command("predict-replay")
def predict_replay(
    events: InputFile,
    model_path: Annotated[
        Path, typer.Option("--model", exists=True, dir_okay=False, help="Model JSON (from fit)")
    ],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write: id,p_correct")],
) -> None:
    """Replay a file into a fresh in-memory store, predicting each quiz answer before it."""
    try:
        model = load_model(model_path)
    except MasteryError as exc:
        fail(exc.message)
        return
    began = time.perf_counter()
    with out.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink)
        writer.writerow(("id", "p_correct"))

        def predict(event: Event, before: StudentAggregates | None, _fresh: bool) -> None:
            assert event.skill_id is not None
            p = p_correct(before, event.skill_id, event.occurred_at, model)
            writer.writerow((event.id, f"{p:.6f}"))

        stats = replay(events, predict)
    _show_stats(stats)
    _say(
        f"predicted {stats.quizzes:,} quiz answers of {stats.events:,} events"
        f" ({stats.duplicates:,} duplicates, {stats.rejected:,} rejected)"
        f" in {time.perf_counter() - began:.1f} s -> {out}"
    )
    if stats.rejected:
        raise typer.Exit(1)
