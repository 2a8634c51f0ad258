"""A next-answer prediction explains itself: the skill's base rate, and the features that
moved P(correct) most from it."""

from mastery_engine.core.explain import MAX_DRIVERS, predict
from mastery_engine.core.features import FEATURES, features
from mastery_engine.core.prediction import DEFAULT_MODEL, PredictionModel, clamped, p_correct
from tests.cli.test_models import aggregates_of, history


def test_a_student_with_no_answers_is_at_the_base_rate_with_nothing_to_explain() -> None:
    fresh = predict(None, "functions", 0, DEFAULT_MODEL)
    assert fresh.p_correct == fresh.base_rate == p_correct(None, "functions", 0, DEFAULT_MODEL)
    assert fresh.drivers == ()


def test_each_driver_is_the_change_when_that_feature_alone_goes_back() -> None:
    events = history([1, 1, 0, 1, 0, 0, 0]) + history([1, 1], skill="oop", start=7)
    aggregates = aggregates_of(events)
    as_of = max(e.occurred_at for e in events) + 60_000_000
    found = predict(aggregates, "functions", as_of, DEFAULT_MODEL)
    assert found.p_correct == p_correct(aggregates, "functions", as_of, DEFAULT_MODEL)
    assert 0 < len(found.drivers) <= MAX_DRIVERS
    x = features(aggregates, "functions", as_of)
    base = features(None, "functions", as_of)
    weights = DEFAULT_MODEL.weights_of("functions")
    z = sum(w * f for w, f in zip(weights, x, strict=True))
    every = {}
    for name, w, f, f0 in zip(FEATURES, weights, x, base, strict=True):
        if f != f0:
            every[name] = found.p_correct - clamped(z - w * (f - f0))
    for driver in found.drivers:
        assert abs(driver.effect - every[driver.feature]) < 1e-12
    # the largest effects, largest first
    largest = sorted(every.values(), key=abs, reverse=True)[: len(found.drivers)]
    assert [abs(d.effect) for d in found.drivers] == [abs(e) for e in largest]


def test_a_skill_s_own_weights_give_its_own_base_rate() -> None:
    weights = list(DEFAULT_MODEL.weights)
    easy = [*weights]
    easy[0] += 2.0  # a much easier skill: a higher bias
    model = PredictionModel(tuple(weights), {"easy": tuple(easy)})
    assert predict(None, "easy", 0, model).base_rate > predict(None, "hard", 0, model).base_rate
