"""Candidate features for the next-answer model, chosen by cross-validation on ASSISTments 2015.

An offline harness: every pyKT sequence is replayed in time order (answer i at minute i, as
`import-pykt` does) and each answer gets features from the student's earlier answers only,
all of them readable from state bounded per student x skill and per student whose merge is
order-independent (sums, counts, the latest K answers by time). The logistic model is the
product's (`service.fitting.fit_weights`: per-skill weights pulled toward a common centre
that serves unseen skills). Features are chosen on folds 0-3 only (by default folds 2 and 3,
each predicted by a fit on the other three); fold 4 only gives the final figures.

    PYTHONPATH=src:bench .venv/bin/python bench/predict_features.py --check
"""

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

import report
from answer_features import (
    HALF_LIVES,
    NGRAM,
    Answers,
    Floats,
    Groups,
    check,
    feature_table,
    latest_decays,
    load,
)
from mastery_engine.cli.models import PYKT_START
from mastery_engine.core.features import V1_FEATURES
from mastery_engine.core.instants import parse_rfc3339
from mastery_engine.service.fitting import L2_SKILL, fit_weights
from predict_eval import DATA, metrics

Ints = NDArray[np.int64]
CHOSEN_HALF_LIVES = (5.0, 30.0, 120.0)  # those of the candidate groups
START = parse_rfc3339(PYKT_START, "start")


SKILL_HALF_LIVES = (2.0, 10.0)  # chosen by `tune`


def truncation(
    table: dict[str, Floats], a: Answers, pool: list[int], valid: list[int], fold: int
) -> None:
    """The chosen decayed sums exact, against the same from the latest K answers only."""
    skill, student = Groups(a.seq * 1000 + a.skill), Groups(a.seq)
    names = CURRENT + _decays("student") + _decays("skill", SKILL_HALF_LIVES)
    base = cross_validate(table, names, a, pool, valid, l2=30.0)
    rows = [_row("exact decayed sums", base, base)]
    for k in (5, 10, 20):
        cut = table | latest_decays(a, skill, "skill", k, SKILL_HALF_LIVES)
        cut |= latest_decays(a, student, "student", k, CHOSEN_HALF_LIVES)
        figures = cross_validate(cut, names, a, pool, valid, l2=30.0)
        rows.append(_row(f"decayed sums from the latest {k} answers", figures, base))
    title = "Decayed sums from the latest K answers per group (d against exact sums)"
    report.print_table(title, HEADERS, rows)
    cut = table | latest_decays(a, skill, "skill", 5, SKILL_HALF_LIVES)
    cut |= latest_decays(a, student, "student", 5, CHOSEN_HALF_LIVES)
    figures = held_out(cut, names, a, fold, l2=30.0)
    print(
        "held-out fold {}, sums from the latest 5: AUC {:.4f}, log-loss {:.4f}, ECE {:.4f}".format(
            fold, *figures
        )
    )


def ece(y: Floats, p: Floats, bins: int = 10) -> float:
    """Expected calibration error over equal-width bins of the predicted probability."""
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    gap = np.bincount(which, weights=p - y, minlength=bins)
    return float(np.abs(gap).sum() / len(y)) if count.any() else float("nan")


def predict(
    x: Floats,
    skill: Ints,
    y: Floats,
    train: NDArray[np.bool_],
    test: NDArray[np.bool_],
    *,
    l2: float = L2_SKILL,
) -> Floats:
    """Fit the product's per-skill logistic model on `train` rows; P(correct) of `test` rows."""
    names = [str(s) for s in skill[train]]
    fitted = fit_weights(x[train], names, y[train], l2_skill=l2)
    row = {int(name): i for i, name in enumerate(fitted.names)}
    weights = np.vstack([fitted.weights, fitted.per_skill])
    pick = np.array([row.get(int(s), -1) + 1 for s in skill[test]])
    z = np.einsum("ij,ij->i", x[test], weights[pick])
    return 1.0 / (1.0 + np.exp(-z))


def score(y: Floats, p: Floats) -> tuple[float, float, float]:
    """AUC, log-loss and ECE (10 bins)."""
    auc, _, loss = metrics(y, p)
    return auc, loss, ece(y, p)


def cross_validate(
    table: dict[str, Floats],
    names: Sequence[str],
    a: Answers,
    pool: Sequence[int],
    valid: Sequence[int],
    *,
    l2: float = L2_SKILL,
) -> tuple[float, float, float]:
    """Each fold of `valid` predicted by a fit on the other folds of `pool`, pooled."""
    x = np.column_stack([table[n] for n in names])
    inside = np.isin(a.fold, pool)
    ys, ps = [], []
    for k in valid:
        ps.append(predict(x, a.skill, a.y, inside & (a.fold != k), a.fold == k, l2=l2))
        ys.append(a.y[a.fold == k])
    return score(np.concatenate(ys), np.concatenate(ps))


def held_out(
    table: dict[str, Floats], names: Sequence[str], a: Answers, fold: int, l2: float = L2_SKILL
) -> tuple[float, float, float]:
    """Fitted on every other fold, scored on `fold`."""
    x = np.column_stack([table[n] for n in names])
    return score(
        a.y[a.fold == fold], predict(x, a.skill, a.y, a.fold != fold, a.fold == fold, l2=l2)
    )


def _grams(name: str) -> tuple[str, ...]:
    return tuple(f"{name}_gram{p:03b}" for p in range(2**NGRAM - 1))


def _decays(name: str, half_lives: Sequence[float] = CHOSEN_HALF_LIVES) -> tuple[str, ...]:
    return tuple(f"{name}_decay{h:g}m_{o}" for h in half_lives for o in ("wins", "fails"))


CURRENT = V1_FEATURES  # the product's first ten (version 1), computed by `current`
# Candidate groups, and the bounded state each reads (every merge order-independent).
CANDIDATES: dict[str, tuple[tuple[str, ...], str]] = {
    "skill last 3 outcomes": (
        ("skill_last1", "skill_last2", "skill_last3"),
        "latest 3 answers per student x skill",
    ),
    "skill 3-gram": (_grams("skill"), "latest 3 answers per student x skill"),
    "skill last-5 mean": (("skill_mean5",), "latest 5 answers per student x skill"),
    "skill last-10 mean": (("skill_mean10",), "latest 10 answers per student x skill"),
    "student last 3 outcomes": (
        ("student_last1", "student_last2", "student_last3"),
        "latest 3 answers per student",
    ),
    "student 3-gram": (_grams("student"), "latest 3 answers per student"),
    "student last-10 mean": (("student_mean10",), "latest 10 answers per student"),
    "skill decayed sums 5m/30m/2h": (
        _decays("skill"),
        "win/fail sums per minute bucket per student x skill",
    ),
    "student decayed sums 5m/30m/2h": (
        _decays("student"),
        "win/fail sums per minute bucket per student",
    ),
    "skill gap (log minutes, repeat flag)": (
        ("skill_gap_log", "skill_repeat"),
        "latest answer time per student x skill",
    ),
}


def columns_of(groups: Sequence[str]) -> tuple[str, ...]:
    """The current features followed by those of the named candidate groups."""
    return CURRENT + tuple(c for g in groups for c in CANDIDATES[g][0])


def _row(label: str, figures: tuple[float, float, float], base: tuple[float, ...]) -> list[object]:
    auc, loss, calibration = figures
    return [label, f"{auc:.4f}", f"{auc - base[0]:+.4f}", f"{loss:.4f}", f"{loss - base[1]:+.4f}",
            f"{calibration:.4f}"]  # fmt: skip


HEADERS = ["features", "AUC", "dAUC", "log-loss", "dloss", "ECE"]


def ablate(table: dict[str, Floats], a: Answers, pool: list[int], valid: list[int]) -> dict:
    """Cross-validated figures of the current set, and of it plus each candidate group."""
    began = time.perf_counter()
    base = cross_validate(table, CURRENT, a, pool, valid)
    single = {g: cross_validate(table, columns_of([g]), a, pool, valid) for g in CANDIDATES}
    rows = [_row("current (10 features)", base, base)]
    rows += [_row(f"+ {g}", f, base) for g, f in single.items()]
    report.print_table(
        f"Cross-validation (fit on folds {pool} minus one, validate on each of {valid}),"
        f" one candidate group added at a time ({time.perf_counter() - began:.0f} s)",
        HEADERS, rows,
    )  # fmt: skip
    return {"current": base, "single": single}


def forward(
    table: dict[str, Floats], a: Answers, pool: list[int], valid: list[int], found: dict
) -> list[str]:
    """Add groups in order of their single gain, keeping each that improves CV AUC and loss."""
    base = found["current"]
    ranked = sorted(found["single"], key=lambda g: -found["single"][g][0])
    chosen, best, rows = [], base, []
    for group in ranked:
        if found["single"][group][0] <= base[0]:
            break
        figures = cross_validate(table, columns_of([*chosen, group]), a, pool, valid)
        kept = figures[0] > best[0] + 2e-4 and figures[1] <= best[1]
        rows.append(_row(f"{'+' if kept else 'x'} {group}", figures, best))
        print("  " + "  ".join(str(v) for v in rows[-1]), flush=True)
        if kept:
            chosen, best = [*chosen, group], figures
    report.print_table(
        "Forward selection on the same folds (+ kept, x dropped; d against the set before it)",
        HEADERS, rows,
    )  # fmt: skip
    found["forward"] = [(r[0], r[1], r[3], r[5]) for r in rows]
    return chosen


SKILL_DECAYS = "skill decayed sums 5m/30m/2h"
HALF_LIFE_SETS = (
    (2,),
    (5,),
    (10,),
    (2, 10),
    (1, 5, 30),
    (5, 30, 120),
    (2, 10, 120, 480),
    HALF_LIVES,
)
L2_SKILLS = (3.0, 30.0, 100.0)


def tune(
    table: dict[str, Floats], a: Answers, pool: list[int], valid: list[int], chosen: list[str]
) -> tuple[tuple[str, ...], float, dict]:
    """The skill decays' half-lives, then the per-skill L2 penalty, by the same validation."""
    others = [g for g in chosen if g != SKILL_DECAYS]
    sets = {hs: columns_of(others) + _decays("skill", hs) for hs in HALF_LIFE_SETS}
    by_set = {hs: cross_validate(table, names, a, pool, valid) for hs, names in sets.items()}
    base = cross_validate(table, columns_of(others), a, pool, valid)
    rows = [_row(f"skill decays, half-lives {hs} min", f, base) for hs, f in by_set.items()]
    best = max(by_set, key=lambda hs: by_set[hs][0])
    by_l2 = {L2_SKILL: by_set[best]}
    by_l2 |= {l2: cross_validate(table, sets[best], a, pool, valid, l2=l2) for l2 in L2_SKILLS}
    rows += [_row(f"half-lives {best}, L2 per skill {l2:g}", f, base) for l2, f in by_l2.items()]
    every = columns_of(list(CANDIDATES))
    rich = cross_validate(table, every, a, pool, valid, l2=max(L2_SKILLS))
    rows.append(_row(f"every candidate, L2 per skill {max(L2_SKILLS):g}", rich, base))
    report.print_table(
        "Tuning on the same folds (d against the chosen groups without skill decays)",
        HEADERS, rows,
    )  # fmt: skip
    l2 = max(by_l2, key=lambda v: by_l2[v][0])
    found = {"half_lives": {str(k): v for k, v in by_set.items()}, "l2": by_l2, "every": rich}
    return sets[best], l2, found


def final(
    table: dict[str, Floats], a: Answers, names: tuple[str, ...], l2: float, fold: int
) -> dict:
    """The held-out fold's figures of the current set, the chosen set and every candidate."""
    every = columns_of(list(CANDIDATES))
    sets = {
        "current (10 features)": (CURRENT, L2_SKILL),
        f"chosen ({len(names)} features, L2 per skill {l2:g})": (names, l2),
        f"every candidate ({len(every)} features, L2 per skill {L2_SKILL:g})": (every, L2_SKILL),
    }
    figures = {name: held_out(table, n, a, fold, l2=v) for name, (n, v) in sets.items()}
    base = figures["current (10 features)"]
    rows = [_row(name, f, base) for name, f in figures.items()]
    n = int((a.fold == fold).sum())
    report.print_table(f"Held-out fold {fold} ({n:,} answers), fitted on the others", HEADERS, rows)
    return figures


def main() -> None:
    """Ablation and forward selection on the pool's folds, then the held-out fold's figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--pool", default="0,1,2,3", help="folds used for choosing features")
    parser.add_argument("--valid", default="2,3", help="folds of the pool validated in turn")
    parser.add_argument("--holdout", type=int, default=4, help="fold for the final figures")
    parser.add_argument("--check", action="store_true", help="compare with the product first")
    parser.add_argument("--truncation", action="store_true", help="only the latest-K test")
    parser.add_argument("--chosen", help="skip the selection: these groups, ';'-separated")
    args = parser.parse_args()
    pool, valid = [int(f) for f in args.pool.split(",")], [int(f) for f in args.valid.split(",")]
    if args.holdout in pool:
        raise SystemExit("the held-out fold must not be in the pool used to choose features")
    began = time.perf_counter()
    a = load(args.data)
    table = feature_table(a)
    print(f"{len(a.y):,} answers, {len(table)} columns in {time.perf_counter() - began:.1f} s")
    if args.check:
        print(f"largest gap to core.prediction.features on 40 students: {check(a, table):.1e}")
    found: dict = {}
    if args.truncation:
        truncation(table, a, pool, valid, args.holdout)
        return
    if args.chosen is None:
        found = ablate(table, a, pool, valid)
        chosen = forward(table, a, pool, valid, found)
    else:  # groups chosen by an earlier run's forward selection
        chosen = [g for g in args.chosen.split(";") if g]
    print("chosen:", "; ".join(chosen) or "(none)")
    names, l2, found["tuning"] = tune(table, a, pool, valid, chosen)
    print(f"chosen columns (L2 per skill {l2:g}):", ", ".join(names))
    figures = final(table, a, names, l2, args.holdout)
    report.write_result(
        "predict_features",
        {"pool": pool, "valid": valid, "holdout": args.holdout, "chosen": chosen,
         "columns": names, "l2_skill": l2, "cv": found, "held_out": figures,
         "seconds": time.perf_counter() - began},
    )  # fmt: skip


if __name__ == "__main__":
    main()
