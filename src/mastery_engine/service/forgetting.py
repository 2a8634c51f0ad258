"""The forgetting model's parameters fitted to one tenant's review history.

A review is a UTC day with quiz scores of a skill (as `core.memory_model` reads the day
buckets); every review of a student x skill after its first is a prediction: recall (the
day's mean score at least 0.5, i.e. not a lapse) with the retrievability before it. The
latest `VALIDATION_SHARE` of the reviews by time are held out; the parameters are fitted on
the earlier ones by coordinate search on log-loss (each weight scaled up or down while it
helps, the step halved each round) and judged against FSRS-6's defaults on the held-out ones.
"""

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from mastery_engine.core.memory_model import (
    AGAIN,
    MemoryParams,
    MemoryState,
    retrievability,
    review,
)
from mastery_engine.service.scoring import metrics

Review = tuple[float, int]  # (days since the epoch, rating)
VALIDATION_SHARE = 0.2
MIN_PREDICTIONS = 50  # fewer reviews to fit or judge on than this: no fit
MAX_SEQUENCES = 20_000  # fitting replays every sequence ~170 times: a fixed sample beyond this
ROUNDS = 4
DECAY_BOUNDS = (0.1, 0.8)  # FSRS-6 keeps the curve's exponent in this range


@dataclass(frozen=True, slots=True)
class Judged:
    """Log-loss and AUC of some parameters on some predictions, and how many there were."""

    log_loss: float
    auc: float
    predictions: int

    def to_json(self) -> dict[str, float]:
        """The figures, rounded for a document."""
        return {
            "log_loss": round(self.log_loss, 6),
            "auc": round(self.auc, 6),
            "predictions": self.predictions,
        }


EVER = (-math.inf, math.inf)


def predictions(
    sequences: Sequence[Sequence[Review]],
    params: MemoryParams,
    span: tuple[float, float] = EVER,
) -> tuple[list[float], list[int]]:
    """P(recall) and recall of every review after a sequence's first that falls in
    [span[0], span[1]); the earlier reviews still shape the memory."""
    p: list[float] = []
    y: list[int] = []
    low, high = span
    for reviews in sequences:
        state: MemoryState | None = None
        for at, rating in reviews:
            if state is not None and low <= at < high:
                p.append(retrievability(state, at, params))
                y.append(int(rating > AGAIN))
            state = review(state, at, rating, params)
    return p, y


def judge(p: Sequence[float], y: Sequence[int]) -> Judged:
    """Log-loss (probabilities clipped to [1e-6, 1 - 1e-6]) and AUC (ties counted half)."""
    if not y:
        return Judged(0.0, 0.5, 0)
    found = metrics(list(p), [float(r) for r in y])
    return Judged(found["log_loss"], found["auc"], len(y))


def coordinate_search(
    sequences: Sequence[Sequence[Review]], span: tuple[float, float] = EVER, rounds: int = ROUNDS
) -> MemoryParams:
    """Parameters lowering the log-loss of the predictions in `span`, from FSRS-6's defaults."""
    w = list(MemoryParams().w)
    best = judge(*predictions(sequences, MemoryParams(tuple(w)), span)).log_loss
    step = 0.5
    for _ in range(rounds):
        for i in range(len(w)):
            for factor in (1.0 + step, 1.0 / (1.0 + step)):
                trial = w.copy()
                trial[i] = w[i] * factor if w[i] > 0 else 0.01
                if i == len(w) - 1:
                    trial[i] = min(DECAY_BOUNDS[1], max(DECAY_BOUNDS[0], trial[i]))
                loss = judge(*predictions(sequences, MemoryParams(tuple(trial)), span)).log_loss
                if loss < best:
                    best, w = loss, trial
        step /= 2.0
    return MemoryParams(tuple(w))


@dataclass(frozen=True, slots=True)
class MemoryFit:
    """A tenant's fitted parameters, how they and the defaults validated, and the split."""

    params: MemoryParams
    fitted: Judged
    defaults: Judged
    training: int
    cutoff: float

    @property
    def better(self) -> bool:
        """True when the fit validates with a lower log-loss than the defaults."""
        return self.fitted.log_loss < self.defaults.log_loss


def fit_memory(sequences: dict[str, list[Review]]) -> MemoryFit | str:
    """Fit on the earlier reviews and validate on the latest ones; else why not (a reason)."""
    times = sorted(at for reviews in sequences.values() for at, _ in reviews[1:])
    if not times:
        return "no student has reviewed a skill on two different days"
    cutoff = times[min(len(times) - 1, int(len(times) * (1 - VALIDATION_SHARE)))]
    every = [sorted(sequences[key]) for key in sorted(sequences)]
    later = (cutoff, math.inf)
    held = judge(*predictions(every, MemoryParams(), later))
    training = len(times) - held.predictions
    if training < MIN_PREDICTIONS or held.predictions < MIN_PREDICTIONS:
        return (
            f"{training} reviews to fit on and {held.predictions} to validate on;"
            f" at least {MIN_PREDICTIONS} of each are needed"
        )
    sample = [sequences[key] for key in sorted(sequences, key=_spread)[:MAX_SEQUENCES]]
    params = coordinate_search([sorted(s) for s in sample], (-math.inf, cutoff))
    fitted = judge(*predictions(every, params, later))
    return MemoryFit(params, fitted, held, training, cutoff)


def _spread(key: str) -> int:
    """A fixed pseudo-random order of the sequences (the same sample on every run)."""
    return zlib.crc32(key.encode())
