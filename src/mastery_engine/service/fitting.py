"""Fit the next-answer model offline from a file of events (needs the `fit` extra).

The file is replayed in order into a fresh in-memory store through the event contract, and
each quiz answer is described by `core.prediction.features` of the store's aggregates just
before it: exactly what `p_correct` sees when it predicts. A logistic regression is then
fitted with weights per skill, pulled by an L2 penalty toward their common centre, which
becomes the global weights of skills the fit never saw.
"""

import asyncio
import math
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mastery_engine.core.aggregates import StudentAggregates
from mastery_engine.core.errors import InvalidConfig, InvalidEvent
from mastery_engine.core.events import Event, EventType, parse_event
from mastery_engine.core.features import DEFAULT_POWER, FEATURES, features
from mastery_engine.core.instants import MAX_US
from mastery_engine.core.prediction import PredictionModel, clamped
from mastery_engine.jsonl import read_lines
from mastery_engine.stores.memory import MemoryStore

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

TENANT = "replay"
SHOWN_ERRORS = 10
L2_SKILL = 30.0  # pulls each skill's weights toward the centre (chosen on held-out folds)
L2_GLOBAL = 1.0
# One quiz answer and the aggregates of its student just before it (None: first event).
Visitor = Callable[[Event, StudentAggregates | None, bool], None]


@dataclass
class ReplayStats:
    """What a replay read: events, quiz answers, duplicates and rejected lines."""

    events: int = 0
    quizzes: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, message: str) -> None:
        """Count a rejected line, keeping the first few messages."""
        self.rejected += 1
        if len(self.errors) < SHOWN_ERRORS:
            self.errors.append(message)


async def _replay(
    lines: Iterable[tuple[int, object | None, str | None]], visit: Visitor
) -> ReplayStats:
    store, stats = MemoryStore(), ReplayStats()
    for number, raw, error in lines:
        if error is not None:
            stats.reject(error)
            continue
        try:
            # A clock at the end of time: historical files are replayed, not checked for drift.
            event = parse_event(raw, MAX_US, 0)
        except InvalidEvent as exc:
            stats.reject(f"line {number}: {exc.message}")
            continue
        stats.events += 1
        before = None
        if event.type is EventType.QUIZ_GRADED:
            # The snapshot is a copy: applying the event below does not change it.
            before = await store.read(TENANT, event.student_id, event.occurred_at)
        fresh = (await store.apply(TENANT, [event], MAX_US))[0]
        stats.duplicates += not fresh
        if event.type is EventType.QUIZ_GRADED:
            stats.quizzes += 1
            visit(event, before, fresh)
    return stats


def replay(path: Path, visit: Visitor) -> ReplayStats:
    """Replay a JSONL file in order; call `visit` on each quiz answer with the state before it."""
    return asyncio.run(_replay(read_lines(path), visit))


def replay_events(events: list[dict[str, Any]]) -> tuple["Design", ReplayStats]:
    """The features of every quiz answer of some canonical events, replayed in their order
    (from a thread of its own: the caller may be inside an event loop)."""
    import concurrent.futures

    design = Design()
    lines = [(number, raw, None) for number, raw in enumerate(events, 1)]
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        stats = thread.submit(asyncio.run, _replay(lines, design.add)).result()
    return design, stats


@dataclass
class Design:
    """The fitting data: one row of features per (non-duplicate) quiz answer."""

    values: "array[float]" = field(default_factory=lambda: array("d"))  # rows, flattened
    skills: list[str] = field(default_factory=list)
    scores: "array[float]" = field(default_factory=lambda: array("d"))
    ids: list[str] = field(default_factory=list)
    times: "array[int]" = field(default_factory=lambda: array("q"))

    def matrix(self) -> "tuple[NDArray[np.float64], NDArray[np.float64]]":
        """The features (one row per answer) and the scores, as arrays."""
        import numpy as np

        x = np.frombuffer(self.values, dtype=np.float64).reshape(-1, len(FEATURES))
        return x, np.frombuffer(self.scores, dtype=np.float64)

    def add(self, event: Event, before: StudentAggregates | None, fresh: bool) -> None:
        """Describe one answer (a re-delivered duplicate is not a new observation)."""
        if fresh and event.skill_id is not None and event.score is not None:
            self.values.extend(features(before, event.skill_id, event.occurred_at, DEFAULT_POWER))
            self.skills.append(event.skill_id)
            self.scores.append(event.score)
            self.ids.append(event.id)
            self.times.append(event.occurred_at)

    def split(self, at: int) -> tuple["Design", "Design"]:
        """The answers before `at`, and those at or after it."""
        parts = (Design(), Design())
        width = len(FEATURES)
        for i, when in enumerate(self.times):
            part = parts[when >= at]
            part.values.extend(self.values[i * width : (i + 1) * width])
            part.skills.append(self.skills[i])
            part.scores.append(self.scores[i])
            part.ids.append(self.ids[i])
            part.times.append(when)
        return parts

    def probabilities(self, model: PredictionModel) -> list[float]:
        """The model's P(correct) of each answer (what `p_correct` gives for it)."""
        width = len(FEATURES)
        return [
            clamped(math.fsum(w * f for w, f in zip(model.weights_of(skill), row, strict=True)))
            for skill, row in zip(
                self.skills,
                (self.values[i * width : (i + 1) * width] for i in range(len(self.skills))),
                strict=True,
            )
        ]


def design_of(path: Path) -> tuple[Design, ReplayStats]:
    """The features of every quiz answer of a file, as `p_correct` would see them."""
    design = Design()
    stats = replay(path, design.add)
    return design, stats


@dataclass(frozen=True)
class Fitted:
    """Weights in feature order: the centre (for unknown skills), one row per skill in `names`."""

    weights: "NDArray[np.float64]"
    per_skill: "NDArray[np.float64]"
    names: list[str]
    iterations: int


def _objective(
    xs: "NDArray[np.float64]",
    y: "NDArray[np.float64]",
    skill: "NDArray[np.intp]",
    l2: tuple[float, float],
) -> Callable[["NDArray[np.float64]"], tuple[float, "NDArray[np.float64]"]]:
    """Mean penalised log-loss of per-skill weights and its gradient (rows sorted by skill)."""
    import numpy as np

    l2_skill, l2_global = l2
    n, d = xs.shape
    k = int(skill[-1]) + 1
    starts = np.searchsorted(skill, np.arange(k))
    # The bias of the centre is not penalised: it is the mean difficulty of the skills.
    shrink = l2_skill / (k * l2_skill + l2_global * (np.arange(d) > 0))

    def objective(theta: "NDArray[np.float64]") -> tuple[float, "NDArray[np.float64]"]:
        w = theta.reshape(k, d)
        centre = w.sum(axis=0) * shrink  # the best centre for these weights
        z = np.einsum("ij,ij->i", xs, w[skill])
        residual = 1.0 / (1.0 + np.exp(-z)) - y
        total = float(np.sum(np.logaddexp(0.0, z) - y * z))
        total += 0.5 * l2_skill * float(np.sum((w - centre) ** 2))
        total += 0.5 * l2_global * float(np.sum(centre[1:] ** 2))
        # The centre is optimal, so its own variation drops out of the gradient.
        grad = np.add.reduceat(residual[:, None] * xs, starts, axis=0) + l2_skill * (w - centre)
        return total / n, grad.ravel() / n

    return objective


def fit_weights(
    x: "NDArray[np.float64]",
    skills: list[str],
    y: "NDArray[np.float64]",
    l2_skill: float = L2_SKILL,
    l2_global: float = L2_GLOBAL,
) -> Fitted:
    """Logistic regression with weights per skill, each pulled toward their common centre."""
    import numpy as np
    from scipy.optimize import minimize

    names = sorted(set(skills))
    index = {name: i for i, name in enumerate(names)}
    codes = np.array([index[s] for s in skills], dtype=np.intp)
    order = np.argsort(codes, kind="stable")
    # Columns on one scale for the optimizer; the bias and constant columns stay as they are.
    scale = x.std(axis=0)
    scale[(scale < 1e-9) | (np.arange(x.shape[1]) == 0)] = 1.0
    objective = _objective(x[order] / scale, y[order], codes[order], (l2_skill, l2_global))
    k, d = len(names), x.shape[1]
    start = np.zeros((k, d))
    mean = float(np.clip(y.mean(), 1e-3, 1 - 1e-3))
    start[:, 0] = np.log(mean / (1 - mean))
    found = minimize(
        objective, start.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": 3000}
    )
    w = found.x.reshape(k, d)
    shrink = l2_skill / (k * l2_skill + l2_global * (np.arange(d) > 0))
    centre = w[0] if k == 1 else w.sum(axis=0) * shrink
    return Fitted(centre / scale, w / scale, names, int(found.nit))


def fit_design(
    design: Design, *, per_skill: bool = True, l2_skill: float = L2_SKILL
) -> tuple[PredictionModel, int]:
    """The model fitted on some answers (weights rounded to 6 decimals), and the optimiser's
    iterations."""
    x, y = design.matrix()
    skills = design.skills if per_skill else ["*"] * len(design.skills)
    fitted = fit_weights(x, skills, y, l2_skill=l2_skill)
    rounded = [round(float(v), 6) for v in fitted.weights]
    by_skill = {}
    if per_skill:
        by_skill = {
            name: tuple(round(float(v), 6) for v in row)
            for name, row in zip(fitted.names, fitted.per_skill, strict=True)
        }
    return PredictionModel(tuple(rounded), by_skill, DEFAULT_POWER), fitted.iterations


def fit_model(
    path: Path, *, per_skill: bool = True, l2_skill: float = L2_SKILL
) -> tuple[PredictionModel, dict[str, Any]]:
    """Fit a model on the quiz answers of a JSONL file; also what was read, and how long."""
    began = time.perf_counter()
    design, stats = design_of(path)
    if not design.skills:
        raise InvalidConfig(f"{path} holds no valid quiz.graded event to fit on")
    replayed = time.perf_counter()
    model, iterations = fit_design(design, per_skill=per_skill, l2_skill=l2_skill)
    done = time.perf_counter()
    report = {
        "answers": len(design.skills),
        "skills": len(set(design.skills)),
        "stats": stats,
        "iterations": iterations,
        "replay_s": replayed - began,
        "optimise_s": done - replayed,
    }
    return model, report
