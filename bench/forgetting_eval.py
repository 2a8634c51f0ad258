"""Forgetting model vs the reference FSRS scheduler on a real review log, in the same run.

Every review of a card after its first is a prediction: the probability of recall
(rating > 1) from the reviews before it. Scored by log-loss and AUC:

- reference: py-fsrs `Scheduler()` with its default parameters (whole elapsed days, so a
  review later the same day is predicted at exactly 1);
- core, per review: `core.memory_model` with the same FSRS-6 defaults, fractional days;
- core, per day: what the service computes — one review per card and UTC day (the day's
  first rating), each review predicted from the days before it;
- core, fitted: the per-review model with parameters fitted on half of the cards
  (coordinate search) and scored on the other half, next to the other three on that half.
"""

import argparse
import csv
import math
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from fsrs import Card, Rating, Scheduler

import report
from mastery_engine.core.memory_model import MemoryParams, MemoryState, retrievability, review
from mastery_engine.service.forgetting import coordinate_search

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "anki" / "review_logs.csv"
EPS = 1e-6
Review = tuple[datetime, int]  # time, rating
Predictor = Callable[[Sequence[Review]], list[float]]


def load(path: Path) -> dict[str, list[Review]]:
    """Reviews per card, in time order."""
    cards: dict[str, list[Review]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            at = datetime.fromisoformat(row["review_time"])
            cards.setdefault(row["card_id"], []).append((at, int(row["review_rating"])))
    return {card: sorted(reviews) for card, reviews in cards.items()}


def reference(reviews: Sequence[Review]) -> list[float]:
    """py-fsrs defaults: retrievability before each review after the first."""
    scheduler, card, out = Scheduler(enable_fuzzing=False), Card(), []
    for i, (at, rating) in enumerate(reviews):
        if i:
            out.append(scheduler.get_card_retrievability(card, current_datetime=at))
        card, _ = scheduler.review_card(card, Rating(rating), review_datetime=at)
    return out


def days(at: datetime) -> float:
    """Fractional days since the epoch."""
    return at.timestamp() / 86_400.0


def per_review(params: MemoryParams) -> Predictor:
    """The core model updated at every review."""

    def predict(reviews: Sequence[Review]) -> list[float]:
        state: MemoryState | None = None
        out = []
        for at, rating in reviews:
            t = days(at)
            if state is not None:
                out.append(retrievability(state, t, params))
            state = review(state, t, rating, params)
        return out

    return predict


def per_day(params: MemoryParams) -> Predictor:
    """The core model as the service runs it: one review per UTC day, its first rating."""

    def predict(reviews: Sequence[Review]) -> list[float]:
        state: MemoryState | None = None
        day = None
        out = []
        for at, rating in reviews:
            t = days(at)
            if state is not None:
                out.append(retrievability(state, t, params))
            if at.date() != day:
                day, state = at.date(), review(state, t, rating, params)
        return out

    return predict


def outcomes(reviews: Sequence[Review]) -> list[int]:
    """Recall (rating > 1) of every review after the first."""
    return [int(rating > 1) for _, rating in reviews[1:]]


def log_loss(p: Sequence[float], y: Sequence[int]) -> float:
    """Mean negative log-likelihood, probabilities clipped to [1e-6, 1 - 1e-6]."""
    total = 0.0
    for pi, yi in zip(p, y, strict=True):
        q = min(1.0 - EPS, max(EPS, pi))
        total -= math.log(q if yi else 1.0 - q)
    return total / len(y)


def auc(p: Sequence[float], y: Sequence[int]) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    ranks = [0.0] * len(p)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and p[order[j + 1]] == p[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    positives = sum(y)
    negatives = len(y) - positives
    rank_sum = sum(r for r, yi in zip(ranks, y, strict=True) if yi)
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def score(predict: Predictor, cards: Sequence[Sequence[Review]]) -> tuple[float, float, int]:
    """Log-loss, AUC and count of the predictions over these cards."""
    p: list[float] = []
    y: list[int] = []
    for reviews in cards:
        p += predict(reviews)
        y += outcomes(reviews)
    return log_loss(p, y), auc(p, y), len(y)


def fit(cards: Sequence[Sequence[Review]], rounds: int) -> MemoryParams:
    """What `fit --tenant` does with a tenant's reviews (`service.forgetting`), on cards."""
    return coordinate_search(
        [[(days(at), rating) for at, rating in r] for r in cards], rounds=rounds
    )


def main() -> None:
    """Score every model on the log; print and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--fit-rounds", type=int, default=4)
    args = parser.parse_args()
    cards = load(args.data)
    every = [cards[c] for c in sorted(cards)]
    defaults = MemoryParams()
    models: dict[str, Predictor] = {
        "py-fsrs 6.3.2 defaults (reference)": reference,
        "core, per review, defaults": per_review(defaults),
        "core, per UTC day (service), defaults": per_day(defaults),
    }
    rows = [[name, *score(model, every)] for name, model in models.items()]
    report.print_table(
        f"All {len(every)} cards, {sum(len(r) for r in every)} reviews",
        ["model", "log-loss", "AUC", "predictions"],
        rows,
    )
    train = [cards[c] for c in sorted(cards) if zlib.crc32(c.encode()) % 2 == 0]
    test = [cards[c] for c in sorted(cards) if zlib.crc32(c.encode()) % 2 == 1]
    fitted = fit(train, args.fit_rounds)
    models["core, per review, fitted on the other half"] = per_review(fitted)
    held_out = [[name, *score(model, test)] for name, model in models.items()]
    report.print_table(
        f"Held-out half: {len(test)} cards (fitted on {len(train)} others)",
        ["model", "log-loss", "AUC", "predictions"],
        held_out,
    )
    report.write_result(
        "forgetting_eval",
        {
            "all_cards": {r[0]: {"log_loss": r[1], "auc": r[2], "n": r[3]} for r in rows},
            "held_out": {r[0]: {"log_loss": r[1], "auc": r[2], "n": r[3]} for r in held_out},
            "fitted_parameters": list(fitted.w),
        },
    )


if __name__ == "__main__":
    main()
