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
import csv
import itertools
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

import report
from mastery_engine.cli.models import PYKT_START
from mastery_engine.cli.models import US_PER_MINUTE as MINUTE
from mastery_engine.core.instants import format_us, parse_rfc3339
from mastery_engine.core.prediction import FEATURES
from mastery_engine.service.fitting import L2_SKILL, design_of, fit_weights
from predict_eval import DATA, metrics

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
HALF_LIVES = (1.0, 2.0, 5.0, 10.0, 30.0, 120.0, 480.0)  # minutes, all computed
CHOSEN_HALF_LIVES = (5.0, 30.0, 120.0)  # those of the candidate groups
NGRAM = 3
START = parse_rfc3339(PYKT_START, "start")


@dataclass(frozen=True)
class Answers:
    """Every answer of the file, in file order: fold, sequence, minute, skill, outcome."""

    fold: Ints
    seq: Ints
    t: Ints
    skill: Ints
    y: Floats


def load(path: Path) -> Answers:
    """The answers of a pyKT CSV (no item ids there: concepts and responses only)."""
    fold, seq, t, skill, y = [], [], [], [], []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            concepts = [int(c) for c in row["concepts"].split(",")]
            responses = [int(r) for r in row["responses"].split(",")]
            kept = [
                (i, c, r)
                for i, (c, r) in enumerate(zip(concepts, responses, strict=True))
                if r >= 0
            ]
            fold += [int(row["fold"])] * len(kept)
            seq += [number] * len(kept)
            t += [i for i, _, _ in kept]
            skill += [c for _, c, _ in kept]
            y += [r for _, _, r in kept]
    ints = [np.array(v, dtype=np.int64) for v in (fold, seq, t, skill)]
    return Answers(*ints, np.array(y, dtype=np.float64))


class Groups:
    """Answers grouped by a key (student, or student x skill), in time order within a group."""

    def __init__(self, key: Ints) -> None:
        self.order = np.argsort(key, kind="stable")  # file order is time order per student
        k = key[self.order]
        index = np.arange(len(k))
        starts = np.r_[True, k[1:] != k[:-1]]
        self.start = np.maximum.accumulate(np.where(starts, index, 0))
        self.rank = index - self.start  # earlier answers in the group

    def back(self, sorted_values: NDArray[np.float64]) -> Floats:
        """Values computed in group order, put back in file order."""
        out = np.empty_like(sorted_values)
        out[self.order] = sorted_values
        return out

    def prior(self, values: Floats) -> Floats:
        """Sum of the values of the group's earlier answers."""
        cs = np.r_[0.0, np.cumsum(values[self.order])]
        return self.back(cs[:-1] - cs[self.start])

    def lag(self, values: Floats, k: int) -> Floats:
        """The value of the k-th latest earlier answer of the group (NaN when there is none)."""
        v = values[self.order]
        idx = np.arange(len(v))
        found = np.where(self.rank >= k, v[np.maximum(idx - k, 0)], np.nan)
        return self.back(found)

    def decayed(self, t: Ints, values: Floats, half_lives: Sequence[float]) -> Floats:
        """Sum over earlier answers of value * 2 ** -(age / half-life), one column per half-life."""
        v, tt = values[self.order], t[self.order].astype(np.float64)
        rate = np.log(2.0) / np.asarray(half_lives)
        d = np.zeros((len(v), len(half_lives)))
        by_rank = np.argsort(self.rank, kind="stable")
        bounds = np.searchsorted(self.rank[by_rank], np.arange(1, self.rank.max() + 2))
        for lo, hi in itertools.pairwise(bounds):
            at = by_rank[lo:hi]
            gap = (tt[at] - tt[at - 1])[:, None]
            d[at] = (d[at - 1] + v[at - 1][:, None]) * np.exp(-gap * rate)
        out = np.empty_like(d)
        out[self.order] = d
        return out

    def recency(self, t: Ints, values: Floats) -> Floats:
        """Sum of value * ((t_j - first) / (t - first)) ** 2, first: the group's first time."""
        tf = t.astype(np.float64)
        first = self.back(tf[self.order][self.start])
        moments = [self.prior(values * tf**j) for j in range(3)]
        # (t_j - f)^2 = t_j^2 - 2 f t_j + f^2: exact from three running sums (the product's
        # power moments of its buckets).
        total = moments[2] - 2 * first * moments[1] + first**2 * moments[0]
        span = tf - first
        return np.where(span > 0, total / np.maximum(span, 1.0) ** 2, 0.0)


def current(a: Answers, skill: Groups, student: Groups) -> dict[str, Floats]:
    """The product's ten features (`core.prediction.features`), recency power 2."""
    fails = 1.0 - a.y
    log = np.log1p
    columns = {"bias": np.ones_like(a.y), "skill_new": (skill.back(skill.rank) == 0) * 1.0}
    for name, g in (("skill", skill), ("student", student)):
        columns[f"{name}_wins"] = log(g.prior(a.y))
        columns[f"{name}_fails"] = log(g.prior(fails))
    for name, g in (("skill", skill), ("student", student)):
        columns[f"{name}_recent_wins"] = log(g.recency(a.t, a.y))
        columns[f"{name}_recent_fails"] = log(g.recency(a.t, fails))
    return columns


def latest(a: Answers, g: Groups, name: str) -> dict[str, Floats]:
    """From the group's latest 10 answers: signed last outcomes, 3-gram, last-K means."""
    lags = [g.lag(a.y, k) for k in range(1, 11)]
    columns = {f"{name}_last{k}": np.nan_to_num(2 * lags[k - 1] - 1) for k in (1, 2, 3)}
    full = ~np.isnan(lags[NGRAM - 1])
    code = sum(np.nan_to_num(lags[k]) * 2**k for k in range(NGRAM))
    for pattern in range(2**NGRAM - 1):  # all-wins is the reference pattern
        columns[f"{name}_gram{pattern:03b}"] = (full & (code == pattern)) * 1.0
    stacked = np.vstack(lags)
    for k in (3, 5, 10):
        seen = ~np.isnan(stacked[:k])
        wins = np.nansum(stacked[:k], axis=0)
        # Centred, so a missing history (no answers) reads as "no evidence".
        columns[f"{name}_mean{k}"] = (
            np.where(seen.any(0), wins / np.maximum(seen.sum(0), 1), 0.5) - 0.5
        )
    return columns


def decays(a: Answers, g: Groups, name: str) -> dict[str, Floats]:
    """log(1 + decayed wins / fails) for each half-life."""
    both = g.decayed(a.t, a.y, HALF_LIVES)
    lost = g.decayed(a.t, 1.0 - a.y, HALF_LIVES)
    columns = {}
    for i, h in enumerate(HALF_LIVES):
        columns[f"{name}_decay{h:g}m_wins"] = np.log1p(both[:, i])
        columns[f"{name}_decay{h:g}m_fails"] = np.log1p(lost[:, i])
    return columns


def latest_decays(
    a: Answers, g: Groups, name: str, k: int, half_lives: Sequence[float]
) -> dict[str, Floats]:
    """Decayed win/fail sums from the group's latest k answers only."""
    rate = np.log(2.0) / np.asarray(half_lives)
    won, lost = np.zeros((len(a.y), len(rate))), np.zeros((len(a.y), len(rate)))
    for back in range(1, k + 1):
        outcome, at = g.lag(a.y, back), g.lag(a.t.astype(np.float64), back)
        age = np.where(np.isnan(at), np.inf, a.t - np.nan_to_num(at))
        weight = np.exp(-age[:, None] * rate)
        won += weight * np.nan_to_num(outcome)[:, None]
        lost += weight * np.nan_to_num(1.0 - outcome)[:, None]
    columns = {}
    for i, h in enumerate(half_lives):
        columns[f"{name}_decay{h:g}m_wins"] = np.log1p(won[:, i])
        columns[f"{name}_decay{h:g}m_fails"] = np.log1p(lost[:, i])
    return columns


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


def gaps(a: Answers, skill: Groups) -> dict[str, Floats]:
    """Minutes since the skill's latest answer (log), and whether it was the previous answer."""
    previous = skill.lag(a.t.astype(np.float64), 1)
    gap = np.where(np.isnan(previous), 0.0, a.t - np.nan_to_num(previous))
    return {"skill_gap_log": np.log1p(gap), "skill_repeat": (gap == 1) * 1.0}


def feature_table(a: Answers) -> dict[str, Floats]:
    """Every candidate column, one value per answer in file order."""
    skill = Groups(a.seq * 1000 + a.skill)
    student = Groups(a.seq)
    columns = current(a, skill, student)
    columns |= latest(a, skill, "skill") | latest(a, student, "student")
    columns |= decays(a, skill, "skill") | decays(a, student, "student")
    return columns | gaps(a, skill)


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


CURRENT = FEATURES  # the product's, computed by `current`
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


def check(a: Answers, table: dict[str, Floats], students: int = 40) -> float:
    """Largest gap between the current columns and `core.prediction.features` on a replay."""
    chosen = a.seq < students
    with tempfile.TemporaryDirectory(prefix="predict-features-") as tmp:
        path = Path(tmp) / "events.jsonl"
        with path.open("w", encoding="utf-8") as sink:
            for s, t, k, y in zip(
                a.seq[chosen], a.t[chosen], a.skill[chosen], a.y[chosen], strict=True
            ):
                event = {"id": f"{s}-{t}", "type": "quiz.graded", "student_id": str(s),
                         "skill_id": f"as15-{k}", "occurred_at": format_us(START + int(t) * MINUTE),
                         "data": {"quiz_id": f"{s}-{t}", "score": int(y)}}  # fmt: skip
                sink.write(json.dumps(event) + "\n")
        design, _ = design_of(path)
    mine = np.column_stack([table[n][chosen] for n in FEATURES])
    return float(np.abs(design.matrix()[0] - mine).max())


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
