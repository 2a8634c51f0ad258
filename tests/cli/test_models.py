"""The next-answer model: its pure core, and the import-pykt -> fit -> predict-replay contract."""

import csv
import json
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mastery_engine.cli.main import app
from mastery_engine.core.aggregates import StudentAggregates, contribution, fold
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.events import Event, parse_event
from mastery_engine.core.features import FEATURES, features
from mastery_engine.core.instants import MAX_US, US_PER_DAY, format_us, parse_rfc3339
from mastery_engine.core.prediction import DEFAULT_MODEL, P_MAX, PredictionModel, p_correct
from mastery_engine.stores.memory import MemoryStore
from tests.conftest import event

PYKT = Path(__file__).resolve().parents[1] / "data" / "assist2015_head200.csv"  # see data/README.md
T0 = parse_rfc3339("2026-03-01T08:00:00Z", "t0")
HOUR = 3600 * 1_000_000


def quiz(n: int, at: int, score: float, skill: str = "functions", student: str = "s-1") -> Event:
    """A validated quiz.graded event."""
    raw = event(
        f"q{n}", "quiz.graded", format_us(at), student=student, skill=skill, quiz_id=f"q{n}"
    )
    raw["data"]["score"] = score
    return parse_event(raw, MAX_US)


def aggregates_of(events: Sequence[Event]) -> StudentAggregates:
    """The aggregates of some events, as a store would fold them."""
    return fold(contribution(e) for e in events)


def history(scores: Sequence[float], skill: str = "functions", start: int = 0) -> list[Event]:
    """Quiz answers one hour apart, from T0."""
    return [quiz(start + i, T0 + (start + i) * HOUR, s, skill) for i, s in enumerate(scores)]


def weights(**named: float) -> tuple[float, ...]:
    """A weight per feature, zero unless named."""
    return tuple(named.get(name, 0.0) for name in FEATURES)


def test_more_wins_raise_p_and_more_fails_lower_it() -> None:
    as_of = T0 + 40 * HOUR
    base = history([1, 0, 1, 0])
    more_wins = [*base, *history([1, 1], start=4)]
    more_fails = [*base, *history([0, 0], start=4)]
    # Wins on another skill count too, through the student's own counts.
    elsewhere = [*base, *history([1, 1, 1], skill="oop", start=4)]
    p = [
        p_correct(aggregates_of(e), "functions", as_of, DEFAULT_MODEL)
        for e in (base, more_wins, more_fails, elsewhere)
    ]
    assert p[1] > p[0] > p[2] and p[3] > p[0]


def test_unknown_skills_use_the_global_weights() -> None:
    known = weights(bias=2.0, skill_wins=1.0)
    model = PredictionModel(weights(bias=-1.0, skill_wins=0.5), {"functions": known})
    aggregates = aggregates_of(history([1, 1, 0]) + history([1, 0], skill="oop", start=3))
    as_of = T0 + 10 * HOUR
    global_only = PredictionModel(model.weights)
    assert p_correct(aggregates, "oop", as_of, model) == p_correct(
        aggregates, "oop", as_of, global_only
    )
    assert p_correct(aggregates, "functions", as_of, model) == p_correct(
        aggregates, "functions", as_of, PredictionModel(known)
    )
    assert p_correct(aggregates, "never-seen", as_of, model) == pytest.approx(
        1 / (1 + math.exp(1.0))
    )


def test_p_stays_strictly_between_0_and_1() -> None:
    aggregates = aggregates_of(history([1] * 30))
    for bias in (-1e6, -50.0, 0.0, 50.0, 1e6):
        model = PredictionModel(weights(bias=bias))
        for state in (None, aggregates):
            assert 0.0 < p_correct(state, "functions", T0 + 50 * HOUR, model) < 1.0
    assert p_correct(None, "x", T0, PredictionModel(weights(bias=1e6))) == P_MAX
    # Nobody has ever answered: only the bias and the new-skill flag count.
    assert p_correct(None, "functions", T0, DEFAULT_MODEL) == pytest.approx(
        1 / (1 + math.exp(-(DEFAULT_MODEL.weights[0] + DEFAULT_MODEL.weights[1])))
    )


def test_the_state_does_not_depend_on_event_order() -> None:
    rng = random.Random(7)
    events = [
        quiz(i, T0 + rng.randrange(0, 9 * US_PER_DAY), rng.choice((0.0, 0.4, 1.0)), skill)
        for i, skill in enumerate(rng.choice(("functions", "oop", "files")) for _ in range(60))
    ]
    as_of = T0 + 9 * US_PER_DAY
    expected = [p_correct(aggregates_of(events), s, as_of, DEFAULT_MODEL) for s in ("oop", "x")]
    for _ in range(5):
        rng.shuffle(events)
        shuffled = [p_correct(aggregates_of(events), s, as_of, DEFAULT_MODEL) for s in ("oop", "x")]
        assert shuffled == pytest.approx(expected, rel=1e-12)


def test_a_snapshot_asked_at_ever_later_instants_keeps_a_bounded_memo() -> None:
    answers = [1.0, 0.0, 1.0, 0.5]
    instants = [T0 + k * HOUR for k in range(1, 6)]
    fresh = [
        p_correct(aggregates_of(history(answers)), "functions", at, DEFAULT_MODEL)
        for at in instants
    ]
    snapshot = aggregates_of(history(answers))
    again = [p_correct(snapshot, "functions", at, DEFAULT_MODEL) for at in instants]
    size = len(snapshot.memo)
    for k in range(500):  # a cached snapshot sees the clock move on at every request
        p_correct(snapshot, "functions", T0 + 6 * HOUR + k, DEFAULT_MODEL)
    assert again == fresh
    assert len(snapshot.memo) == size


def brute_force(events: Sequence[Event], skill: str | None, as_of: int) -> tuple[float, ...]:
    """Wins, fails and v**2-weighted wins and fails, straight from the raw events."""
    seen = [e for e in events if e.occurred_at <= as_of and skill in (None, e.skill_id)]
    first = min(e.occurred_at for e in seen)
    v = [(e.occurred_at - first) / (as_of - first) for e in seen]
    scores = [e.score or 0.0 for e in seen]
    wins = sum(scores)
    recent = sum(s * x**2 for s, x in zip(scores, v, strict=True))
    recent_all = sum(x**2 for x in v)
    return tuple(math.log1p(c) for c in (wins, len(seen) - wins, recent, recent_all - recent))


async def test_features_count_only_events_up_to_as_of_exactly() -> None:
    rng = random.Random(3)
    start = T0 - 5 * US_PER_DAY
    events = [
        quiz(i, start + rng.randrange(0, 6 * US_PER_DAY), float(rng.random() < 0.6), skill)
        for i, skill in enumerate(rng.choice(("functions", "oop")) for _ in range(80))
    ]
    store = MemoryStore()
    await store.apply("t", events, MAX_US)
    as_of = T0 + 5 * HOUR + 17  # mid-day: later events of that day are in the read's tail
    read = await store.read("t", "s-1", as_of)
    assert read is not None and read.tail
    x = dict(zip(FEATURES, features(read, "functions", as_of), strict=True))
    skill = brute_force(events, "functions", as_of)
    student = brute_force(events, None, as_of)
    assert [x["skill_wins"], x["skill_fails"]] == pytest.approx(skill[:2], rel=1e-9)
    assert [x["skill_recent_wins"], x["skill_recent_fails"]] == pytest.approx(skill[2:], rel=1e-6)
    assert [x["student_wins"], x["student_fails"]] == pytest.approx(student[:2], rel=1e-9)
    recent = [x["student_recent_wins"], x["student_recent_fails"]]
    assert recent == pytest.approx(student[2:], rel=1e-6)
    assert x["skill_new"] == 0.0 and features(read, "files", as_of)[1] == 1.0


def test_model_json_round_trip() -> None:
    model = PredictionModel(weights(bias=0.5), {"oop": weights(bias=-0.25)}, recency_power=3)
    document = json.loads(json.dumps(model.to_json()))
    assert PredictionModel.from_json(document) == model
    assert PredictionModel.from_json(DEFAULT_MODEL.to_json()) == DEFAULT_MODEL


def test_a_version_1_document_is_the_same_model_with_the_new_features_at_zero() -> None:
    old = {
        "kind": "mastery-engine/next-answer-model",
        "version": 1,
        "features": list(FEATURES[:10]),
        "recency_power": 2,
        "weights": [0.5, -1.0, 0.3, -0.6, 0.1, -0.3, 0.5, -0.1, 0.3, -0.2],
        "skills": {"oop": [0.25] * 10},
    }
    model = PredictionModel.from_json(old)
    assert model.weights == (0.5, -1.0, 0.3, -0.6, 0.1, -0.3, 0.5, -0.1, 0.3, -0.2) + (0.0,) * 10
    assert model.weights_of("oop") == (0.25,) * 10 + (0.0,) * 10
    assert PredictionModel.from_json(model.to_json()) == model  # saved again as version 2


def _document(**changes: Any) -> dict[str, Any]:
    document = DEFAULT_MODEL.to_json()
    document.update(changes)
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], "must be a JSON object"),
        (_document(kind="other"), "kind must be"),
        (_document(version=3), "version 1 or 2"),
        (_document(version=True), "version 1 or 2"),
        (_document(features=["bias"]), "model features must be"),
        (_document(weights=[1.0, 2.0]), "weights must be a list of 20 finite numbers"),
        (_document(weights=[float("nan")] * 20), "is not finite"),
        (_document(weights=[True] * 20), "is not a number"),
        (_document(skills=[]), "skills must map skill ids"),
        (_document(skills={"oop": [0.0] * 9}), "skills.oop must be a list of 20"),
        (_document(version=1), "model features must be"),  # a version 1 names ten
        (
            _document(version=1, features=list(FEATURES[:10])),
            "weights must be a list of 10",
        ),
        (_document(recency_power=9), "recency_power must be an integer from 1 to 4"),
    ],
)
def test_from_json_says_what_is_wrong(document: object, message: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        PredictionModel.from_json(document)


# -- the contract, end to end on a small slice of the real data ------------------------------


def auc(p: Sequence[float], y: Sequence[float]) -> float:
    """Area under the ROC curve: the chance a correct answer outranks a wrong one."""
    ranked = sorted(zip(p, y, strict=True))
    wins = ties = positives = 0.0
    below = 0  # wrong answers with a strictly lower p
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        group = [label for _, label in ranked[i:j]]
        right = sum(group)
        wins += right * below
        ties += right * (len(group) - right)
        positives += right
        below += len(group) - int(right)
        i = j
    return (wins + ties / 2) / (positives * below)


def slice_csv(target: Path, rows: range) -> None:
    """Copy some rows of the pyKT file (with its header)."""
    with PYKT.open(newline="") as handle:
        lines = handle.read().splitlines()
    target.write_text("\n".join([lines[0], *(lines[1 + r] for r in rows)]) + "\n")


def invoke(*arguments: object) -> Result:
    """Run a command of the CLI."""
    return CliRunner().invoke(app, [str(a) for a in arguments])


def run(*arguments: object) -> str:
    """Run a command of the CLI; its output (it must succeed)."""
    result = invoke(*arguments)
    assert result.exit_code == 0, result.output
    return result.output


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_import_pykt_writes_one_quiz_event_per_answer(tmp_path: Path) -> None:
    slice_csv(tmp_path / "s.csv", range(3))
    run("import-pykt", tmp_path / "s.csv", "--out", tmp_path / "e.jsonl")
    events = read_jsonl(tmp_path / "e.jsonl")
    with (tmp_path / "s.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(events) == sum(len(r["concepts"].split(",")) for r in rows)
    first, second = rows[0], events[1]
    assert events[0] == {
        "id": f"{first['uid']}-0",
        "type": "quiz.graded",
        "student_id": first["uid"],
        "skill_id": f"as15-{first['concepts'].split(',')[0]}",
        "occurred_at": "2015-01-01T00:00:00Z",
        "data": {"quiz_id": f"{first['uid']}-0", "score": int(first["responses"][0])},
    }
    assert second["id"] == f"{first['uid']}-1" and second["occurred_at"] == "2015-01-01T00:01:00Z"
    assert [e["id"] for e in events if e["student_id"] == rows[2]["uid"]][-1] == (
        f"{rows[2]['uid']}-{len(rows[2]['concepts'].split(',')) - 1}"
    )
    for raw in events:
        parse_event(raw, MAX_US)
    run("import-pykt", tmp_path / "s.csv", "--folds", "3,4", "--out", tmp_path / "n")
    assert (tmp_path / "n").read_text() == ""


def test_import_pykt_skips_padding_and_refuses_other_files(tmp_path: Path) -> None:
    source = tmp_path / "p.csv"
    source.write_text('fold,uid,concepts,responses\n0,7,"3,4,-1","1,0,-1"\n')
    run("import-pykt", source, "--out", tmp_path / "e.jsonl")
    assert [e["id"] for e in read_jsonl(tmp_path / "e.jsonl")] == ["7-0", "7-1"]
    (tmp_path / "bad.csv").write_text("uid,skills\n1,2\n")
    result = invoke("import-pykt", tmp_path / "bad.csv", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "lacks the pyKT column(s) concepts, responses" in result.output


def test_fit_then_predict_replay_beats_the_per_skill_mean(tmp_path: Path) -> None:
    slice_csv(tmp_path / "train.csv", range(150))
    slice_csv(tmp_path / "test.csv", range(150, 200))
    for name in ("train", "test"):
        run("import-pykt", tmp_path / f"{name}.csv", "--out", tmp_path / f"{name}.jsonl")
    model_path, out = tmp_path / "model.json", tmp_path / "p.csv"
    run("fit", tmp_path / "train.jsonl", "--out", model_path)
    model = PredictionModel.from_json(json.loads(model_path.read_text()))
    assert model.skills and all(s.startswith("as15-") for s in model.skills)
    run("predict-replay", tmp_path / "test.jsonl", "--model", model_path, "--out", out)

    test = read_jsonl(tmp_path / "test.jsonl")
    with out.open(newline="") as handle:
        assert handle.readline().strip() == "id,p_correct"
        rows = list(csv.reader(handle))
    assert [r[0] for r in rows] == [e["id"] for e in test]
    p = [float(r[1]) for r in rows]
    assert all(0.0 < x < 1.0 for x in p)

    train = read_jsonl(tmp_path / "train.jsonl")
    sums: dict[str, list[float]] = {}
    for e in train:
        sums.setdefault(e["skill_id"], []).append(e["data"]["score"])
    overall = sum(e["data"]["score"] for e in train) / len(train)
    means = {skill: sum(v) / len(v) for skill, v in sums.items()}
    y = [e["data"]["score"] for e in test]
    baseline = auc([means.get(e["skill_id"], overall) for e in test], y)
    assert auc(p, y) > baseline + 0.03


def test_predict_replay_reports_rejected_lines(tmp_path: Path) -> None:
    model_path, out = tmp_path / "m.json", tmp_path / "p.csv"
    model_path.write_text(json.dumps(DEFAULT_MODEL.to_json()))
    good = event("a", "quiz.graded", "2015-01-01T00:00:00Z", skill="k", quiz_id="a", score=1)
    again = event("b", "quiz.graded", "2015-01-01T00:01:00Z", skill="k", quiz_id="b", score=0)
    bad = event("c", "quiz.graded", "2015-01-01T00:02:00Z", skill="k", quiz_id="c", score=2)
    lines = [json.dumps(good), json.dumps(again), json.dumps(good), json.dumps(bad), "{"]
    (tmp_path / "e.jsonl").write_text("\n".join(lines) + "\n")
    result = invoke("predict-replay", tmp_path / "e.jsonl", "--model", model_path, "--out", out)
    assert result.exit_code == 1
    assert "line 4: data.score must be in [0, 1]" in result.output
    assert "line 5 is not valid JSON" in result.output
    ids = [r[0] for r in csv.reader(out.read_text().splitlines())][1:]
    assert ids == ["a", "b", "a"]  # a re-delivered answer is predicted, then ignored
