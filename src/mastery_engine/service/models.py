"""Next-answer models per tenant: fitted from the tenant's own events in the store, validated
on its latest answers, saved as the tenant's document `model` and served by every replica.

`mastery-engine fit --tenant T` replays the tenant's kept events in time order (as `fit` does a
file), fits on the answers before the latest 20 % (by time) and validates on those: AUC,
log-loss and expected calibration error (10 bins), beside the deployment's model on the same
answers. A fit that validates worse (a higher log-loss) is refused with that comparison; one
that does better is saved, and replicas serve it within `MODEL_TTL_S`.

The same fit also fits the forgetting model's parameters where the tenant has review
history (see `forgetting`): saved beside the answer model when they validate better than the
deployment's, left at the deployment's otherwise, with the reason in the document.
"""

import time
from typing import Any, NamedTuple

from mastery_engine.core.errors import InvalidConfig
from mastery_engine.core.instants import US_PER_DAY, format_us
from mastery_engine.core.memory_model import MemoryParams, day_reviews
from mastery_engine.core.prediction import PredictionModel
from mastery_engine.service.fitting import Design, fit_design, replay_events
from mastery_engine.service.forgetting import MemoryFit, Review, fit_memory
from mastery_engine.service.mastery import MasteryService
from mastery_engine.service.scoring import calibration, metrics
from mastery_engine.stores.base import Document

MODEL = "model"  # the tenant document holding its fitted model
MODEL_TTL_S = 1.0  # other replicas serve a newly saved model within this time
VALIDATION_SHARE = 0.2
MIN_ANSWERS = 50  # fewer answers in either part than this: nothing to fit or judge on
ECE_BINS = 10


class FitRefused(InvalidConfig):
    """A tenant's fit validated worse than the model it would replace."""


class TenantModels:
    """The model each tenant is served: its own fitted one, else the deployment's."""

    def __init__(
        self, service: MasteryService, default: PredictionModel, memory: MemoryParams
    ) -> None:
        self.service = service
        self.default = default
        self.memory = memory
        self._cache: dict[str, tuple[float, Served]] = {}

    async def _load(self, tenant: str) -> "Served":
        cached = self._cache.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < MODEL_TTL_S:
            return cached[1]
        document = await self.service.store.get_document(tenant, MODEL)
        served = Served(self.default, self.memory, document)
        if document is not None:
            memory = document.get("memory", {})
            served = Served(
                PredictionModel.from_json(document.get("model")),
                MemoryParams.from_json(memory["w"]) if "w" in memory else self.memory,
                document,
            )
        self._cache[tenant] = (time.monotonic(), served)
        return served

    async def of(self, tenant: str) -> PredictionModel:
        """The next-answer model the tenant is served now."""
        return (await self._load(tenant)).model

    async def memory_of(self, tenant: str) -> MemoryParams:
        """The forgetting model's parameters the tenant is served now."""
        return (await self._load(tenant)).memory

    async def summary(self, tenant: str) -> dict[str, Any]:
        """Which model is in force, and for a tenant's own: when it was fitted and how it
        validated (the forgetting model's too)."""
        document = (await self._load(tenant)).document
        if document is None:
            return {"in_force": "deployment", "memory": {"in_force": "deployment"}}
        shown = {key: document[key] for key in ("fitted_at", "training", "validation")}
        memory = document.get("memory", {"in_force": "deployment"})
        return {"in_force": "tenant", **shown, "memory": memory}

    async def fit(self, tenant: str, *, per_skill: bool = True) -> Document:
        """Fit, validate and (unless refused) save the tenant's model; the saved document."""
        design, _ = replay_events(await self._events(tenant))
        if not design.skills:
            raise InvalidConfig(f"tenant {tenant!r} has no quiz answers to fit on")
        cut = _cutoff(design)
        train, held = design.split(cut)
        if len(train.skills) < MIN_ANSWERS or len(held.skills) < MIN_ANSWERS:
            raise InvalidConfig(
                f"tenant {tenant!r} has {len(train.skills)} answers to fit on and"
                f" {len(held.skills)} to validate on; at least {MIN_ANSWERS} of each are needed"
            )
        fitted = fit_design(train, per_skill=per_skill)[0]
        ours, theirs = _scores(held, fitted), _scores(held, self.default)
        if ours["log_loss"] > theirs["log_loss"]:
            raise FitRefused(
                f"the fit validates worse than the model in force on the latest"
                f" {len(held.skills)} answers: log-loss {ours['log_loss']:.4f} against"
                f" {theirs['log_loss']:.4f}, AUC {ours['auc']:.4f} against {theirs['auc']:.4f};"
                " nothing was saved"
            )
        document: Document = {
            "model": fitted.to_json(),
            "fitted_at": format_us(self.service.clock()),
            "training": {"answers": len(train.skills), "before": format_us(cut)},
            "validation": {"answers": len(held.skills), **ours, "deployment": theirs},
            "memory": memory_document(fit_memory(await self._reviews(tenant))),
        }
        await self.service.store.put_document(tenant, MODEL, document)
        self._cache.pop(tenant, None)
        await self.service.audit(tenant, "fit", "fit_model", None, document["validation"])
        return document

    async def _reviews(self, tenant: str) -> dict[str, list[Review]]:
        """Every student x skill's day reviews, from the aggregates (which outlive raw events)."""
        now = self.service.clock()
        students = await self.service.store.students(tenant)
        found: dict[str, list[Review]] = {}
        read = await self.service.store.read_many(tenant, students, now, cache=False)
        for student, aggregates in zip(students, read, strict=True):
            if aggregates is None:
                continue
            for skill in aggregates.skill_ids(now):
                reviews = day_reviews(aggregates, skill, now)
                if len(reviews) > 1:
                    found[f"{student}\x00{skill}"] = reviews
        return found

    async def _events(self, tenant: str) -> list[dict[str, Any]]:
        """Every kept event of the tenant's students, as canonical JSON, in time order."""
        events = []
        for student in await self.service.store.students(tenant):
            events += [kept.event for kept in await self.service.store.events_of(tenant, student)]
        events.sort(key=lambda e: (e.occurred_at, e.id))
        return [e.to_json() for e in events]


class Served(NamedTuple):
    """What a tenant is served: the next-answer model, the forgetting model's parameters, and
    the tenant's document they come from (None: the deployment's)."""

    model: PredictionModel
    memory: MemoryParams
    document: Document | None


def memory_document(found: MemoryFit | str) -> Document:
    """The forgetting model's part of a tenant's model document."""
    if isinstance(found, str):
        return {"in_force": "deployment", "reason": found}
    validation = {**found.fitted.to_json(), "deployment": found.defaults.to_json()}
    training = {"reviews": found.training, "before": format_us(round(found.cutoff * US_PER_DAY))}
    if not found.better:
        reason = (
            f"the fit validates worse than the deployment's parameters on the latest"
            f" {found.fitted.predictions} reviews: log-loss {found.fitted.log_loss:.4f} against"
            f" {found.defaults.log_loss:.4f}"
        )
        return {"in_force": "deployment", "reason": reason, "validation": validation}
    return {
        "in_force": "tenant",
        "w": list(found.params.w),
        "training": training,
        "validation": validation,
    }


def _cutoff(design: Design) -> int:
    """The instant from which the latest VALIDATION_SHARE of the answers happened."""
    times = sorted(design.times)
    return times[min(len(times) - 1, int(len(times) * (1 - VALIDATION_SHARE)))]


def _scores(held: Design, model: PredictionModel) -> dict[str, float]:
    """AUC, log-loss and ECE of a model on held-out answers."""
    p, y = held.probabilities(model), list(held.scores)
    return {**metrics(p, y), "ece": calibration(p, y, ECE_BINS)}
