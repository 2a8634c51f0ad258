"""The answers of ASSISTments 2015 replayed in time order (answer i at minute i, as
`import-pykt` does), and candidate next-answer features from each student's earlier answers
only, each readable from state bounded per student x skill and per student whose merge is
order-independent: the product's ten, the latest answers, outcome n-grams, decayed win/fail
sums with short half-lives (exact, and from the latest K answers only), gaps between answers.
`predict_features.py` chooses among them.
"""

import csv
import itertools
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mastery_engine.cli.models import PYKT_START
from mastery_engine.cli.models import US_PER_MINUTE as MINUTE
from mastery_engine.core.features import V1_FEATURES
from mastery_engine.core.instants import format_us, parse_rfc3339
from mastery_engine.service.fitting import design_of

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
HALF_LIVES = (1.0, 2.0, 5.0, 10.0, 30.0, 120.0, 480.0)  # minutes, all computed
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
    mine = np.column_stack([table[n][chosen] for n in V1_FEATURES])
    return float(np.abs(design.matrix()[0][:, : len(V1_FEATURES)] - mine).max())
