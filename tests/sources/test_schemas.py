"""The committed schemas/ directory is exactly what `mastery-engine schemas` generates."""

import difflib
import json
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from typer.testing import CliRunner

from mastery_engine.cli.main import app
from mastery_engine.formats.schemas import asyncapi_yaml, json_schemas
from tests.conftest import event

COMMITTED = Path(__file__).resolve().parents[2] / "schemas"
REGENERATE = "run `mastery-engine schemas --out schemas` and commit the result"


def generated() -> dict[str, bytes]:
    """File name -> content, serialised as the `schemas` command writes them."""
    documents = {name: json.dumps(doc, indent=2) + "\n" for name, doc in json_schemas().items()}
    documents["asyncapi.yaml"] = asyncapi_yaml()
    return {name: text.encode("utf-8") for name, text in documents.items()}


def files_in(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def drift(expected: dict[str, bytes], found: dict[str, bytes]) -> list[str]:
    """What differs between two directories' files, with the start of each diff."""
    problems = [f"missing: {name}" for name in sorted(expected.keys() - found.keys())]
    problems += [f"not generated: {name}" for name in sorted(found.keys() - expected.keys())]
    for name in sorted(expected.keys() & found.keys()):
        if expected[name] != found[name]:
            lines = difflib.unified_diff(
                found[name].decode("utf-8", "replace").splitlines(),
                expected[name].decode("utf-8").splitlines(),
                f"committed/{name}",
                f"generated/{name}",
                lineterm="",
            )
            problems.append(f"differs: {name}\n" + "\n".join(list(lines)[:20]))
    return problems


def test_the_committed_schemas_are_the_generated_ones() -> None:
    assert COMMITTED.is_dir(), f"{COMMITTED} is missing: {REGENERATE}"

    problems = drift(generated(), files_in(COMMITTED))

    assert not problems, f"schemas/ is out of date ({REGENERATE}):\n" + "\n".join(problems)


def test_the_schemas_command_writes_the_generated_files(tmp_path: Path) -> None:
    out = tmp_path / "schemas"

    written = CliRunner().invoke(app, ["schemas", "--out", str(out)])

    assert written.exit_code == 0, written.output
    expected = generated()
    assert f"wrote {len(expected)} files" in written.output
    assert drift(expected, files_in(out)) == []


def test_every_event_type_has_a_schema_in_the_union() -> None:
    schemas = json_schemas()
    union = [ref["$ref"] for ref in schemas["event.json"]["oneOf"]]
    kinds = {"exercise.completed", "exercise.attempted", "quiz.graded", "code.reviewed", "activity"}

    assert sorted(union) == sorted(f"event.{kind}.json" for kind in kinds)
    assert all(ref in schemas for ref in union)
    for kind in kinds:
        document = schemas[f"event.{kind}.json"]
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["$id"] == f"event.{kind}.json"


def union_validator() -> Draft202012Validator:
    """A validator of event.json that resolves its `$ref`s to the committed sibling files."""
    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text())))
        for path in COMMITTED.glob("*.json")
    ]
    registry: Registry = Registry().with_resources(resources)
    union = json.loads((COMMITTED / "event.json").read_text())
    return Draft202012Validator(union, registry=registry)


VALID = [
    event("v1", "quiz.graded", "2026-03-01T10:15:00Z", quiz_id="q7", score=0.8),
    event("v2", "exercise.completed", "2026-03-01T10:15:00+02:00", exercise_id="e1"),
    event("v3", "exercise.attempted", "2026-03-01T10:15:00Z", exercise_id="e1", passed=False),
    event("v4", "code.reviewed", "2026-03-01T10:15:00Z", submission_id="r1", quality=1),
    event("v5", "activity", "2026-03-01T10:15:00Z", skill=None, kind="study_session"),
]
INVALID = [
    event("i1", "quiz.graded", "2026-03-01T10:15:00Z", quiz_id="q7", score=1.5),
    event("i2", "quiz.graded", "2026-03-01T10:15:00Z", quiz_id="q7"),
    event("i3", "lesson.watched", "2026-03-01T10:15:00Z", lesson="l1"),
    event("i4", "exercise.completed", "2026-03-01T10:15:00Z", skill=None, exercise_id="e1"),
    {"id": "i5", "type": "activity", "student_id": "s-1", "data": {"kind": "x"}},
    event("i6\x07", "quiz.graded", "2026-03-01T10:15:00Z", quiz_id="q7", score=0.5),
    event("i7", "quiz.graded", "2026-03-01T10:15:00Z", student="s/1", quiz_id="q7", score=0.5),
    event("i8", "quiz.graded", "2026-03-01 10:15:00Z", quiz_id="q7", score=0.5),
    event("i9", "quiz.graded", "1969-12-31T23:00:00Z", quiz_id="q7", score=0.5),
    {**event("i10", "activity", "2026-03-01T10:15:00Z", skill=None, kind="x"), "tenant_id": None},
]


def test_canonical_events_validate_against_the_committed_union() -> None:
    validator = union_validator()

    assert [e["id"] for e in VALID if not validator.is_valid(e)] == []
    assert [e["id"] for e in INVALID if validator.is_valid(e)] == []
