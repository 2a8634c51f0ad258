"""The `mastery-engine` command: replay a file, then show the result."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mastery_engine.cli.main import app
from tests.backends import fresh_store_url
from tests.conftest import event


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"MASTERY_STORE_URL": f"sqlite:///{tmp_path}/cli.db", "MASTERY_LOG_LEVEL": "WARNING"}


def write_events(path: Path) -> None:
    lines = [
        json.dumps(event("c1", "exercise.completed", "2026-03-01T09:00:00Z", exercise_id="e1")),
        json.dumps(event("q1", "quiz.graded", "2026-03-01T10:00:00Z", quiz_id="a", score=0.8)),
        "",
        json.dumps(event("q1", "quiz.graded", "2026-03-01T10:00:00Z", quiz_id="a", score=0.8)),
        json.dumps(event("bad", "quiz.graded", "2026-03-01T10:00:00Z", quiz_id="a", score=3)),
        "{broken",
    ]
    path.write_text("\n".join(lines) + "\n")


def test_replay_then_show(tmp_path: Path, env: dict[str, str]) -> None:
    source = tmp_path / "events.jsonl"
    write_events(source)
    runner = CliRunner()
    replayed = runner.invoke(app, ["replay", str(source), "--batch", "2"], env=env)
    assert replayed.exit_code == 1  # some lines were rejected
    assert "2 accepted, 1 duplicate, 2 rejected" in replayed.output
    assert "data.score must be in [0, 1]" in replayed.output
    assert "line 6 is not valid JSON" in replayed.output

    shown = runner.invoke(
        app, ["show", "s-1", "--as-of", "2026-03-01"], env=env, terminal_width=200
    )
    assert shown.exit_code == 0, shown.output
    assert "s-1 as of 2026-03-01T23:59:59.999999Z" in shown.output
    # basics: C = 0.1, Q = 0.8, S = 1/14 -> 0.04 + 0.24 + 0.00714 = 0.287
    basics = next(line for line in shown.output.splitlines() if "basics" in line)
    assert "0.287" in basics and "Beginner" in basics

    one = runner.invoke(app, ["show", "s-1", "--skill", "basics", "--as-of", "2026-03-01"], env=env)
    assert one.exit_code == 0 and "best next step" in one.output


def test_show_reports_errors_plainly(env: dict[str, str]) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["show", "nobody"], env=env)
    assert missing.exit_code == 2 and "has no events" in missing.output
    bad = runner.invoke(app, ["show", "nobody", "--as-of", "tomorrow"], env=env)
    assert bad.exit_code == 2 and "RFC 3339" in bad.output


def test_clean_replay_exits_zero(tmp_path: Path, env: dict[str, str]) -> None:
    source = tmp_path / "ok.jsonl"
    source.write_text(json.dumps(event("a1", "activity", "2026-03-01T09:00:00Z", kind="k")) + "\n")
    result = CliRunner().invoke(app, ["replay", str(source)], env=env)
    assert result.exit_code == 0 and "1 accepted" in result.output


def test_replay_survives_lines_json_cannot_decode(tmp_path: Path, env: dict[str, str]) -> None:
    good = json.dumps(event("ok", "activity", "2026-03-01T09:00:00Z", skill=None, kind="k"))
    huge = '{"id": "h", "data": {"duration_s": ' + "9" * 5000 + "}}"
    deep = "[" * 50_000 + "]" * 50_000
    source = tmp_path / "hostile.jsonl"
    source.write_text("\n".join([good, "not json", huge, deep]) + "\n")
    result = CliRunner().invoke(app, ["replay", str(source)], env=env)
    assert result.exit_code == 1, result.output
    assert "1 accepted, 0 duplicate, 3 rejected" in result.output
    shown = CliRunner().invoke(app, ["show", "s-1", "--as-of", "2200-01-01"], env=env)
    assert shown.exit_code == 0, shown.output


def test_migrate_brings_a_postgres_schema_up_to_date(tmp_path: Path) -> None:
    with fresh_store_url("postgres", tmp_path) as url:
        env = {"MASTERY_STORE_URL": url, "MASTERY_LOG_LEVEL": "WARNING"}
        migrated = CliRunner().invoke(app, ["migrate"], env=env)
        assert migrated.exit_code == 0, migrated.output
        assert (
            "postgresql store is up to date: 0001_initial.sql, 0002_config_and_audit.sql,"
            " 0003_documents.sql" in migrated.output
        )


def test_purge_reports_what_it_removed(tmp_path: Path, env: dict[str, str]) -> None:
    source = tmp_path / "events.jsonl"
    write_events(source)
    runner = CliRunner()
    runner.invoke(app, ["replay", str(source)], env=env)
    kept = runner.invoke(app, ["purge"], env=env)
    assert kept.exit_code == 0, kept.output
    assert "purged 0 raw event records older than 90 days" in kept.output
    # Retention of 1 day, with the clock of a CLI run: the records ingested now stay.
    assert (
        "purged 0"
        in runner.invoke(app, ["purge"], env=env | {"MASTERY_RETENTION_DAYS": "1"}).output
    )
