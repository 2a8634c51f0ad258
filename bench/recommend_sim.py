"""Simulated students: steps to Proficient in every skill per policy, and forecast calibration.

Each simulated student has a true knowledge theta in [0, 1] per skill of the default
curriculum and a learning rate per skill: a skill-dependent base (0.18 for oop to 0.35 for
basics) times the student's ability (log-normal, sigma 0.35), at most 0.9. While the weakest
prerequisite's theta is below 0.8 the rate is cut, linearly down to 15 % at 0.4 or less. One
step is one study session on one skill, emitting the events it would produce:

  practice     the next 3 exercises, beyond the curriculum's count once those are done (each
               may first fail with an error type, chance 1 - theta); theta += rate (1 - theta)
  quiz         one quiz, score = Binomial(10, recall) / 10;  theta += 0.3 rate (1 - theta)
  code review  one submission, quality ~ N(recall, 0.08);    theta += 0.5 rate (1 - theta)

plus an activity event. Recall = theta / (1 + days since the skill's last session /
(9 stability)); stability starts at 3 days and grows 2.5x per session. A student studies on a
share of days (0.5 to 0.95), 2 sessions a day, until every skill is Proficient at once (or
600 steps). Mastery comes from the real core: events -> aggregates -> formula; retrievability
from the FSRS memory model.

Policies, on the same students: `recommend` (the top recommendation each step); `fixed order`
(the first skill not yet Proficient, done as a course lays it out: its exercises, then quiz
and code review in turn); `random eligible` (a random skill not yet Proficient whose
prerequisites are, done the same way); `fixed order + recommended action` (the fixed order's
skill, with the action `recommend` gives it: which rules pay off where).

Calibration: at the start of days 7, 14, 21, 28, 42 and 56, every skill not yet Proficient
gets a forecast from its daily series so far; a hit is a true first Proficient day inside
the 80 % interval.
"""

import argparse
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import report
from mastery_engine.core.aggregates import AggregateBuilder, StudentAggregates, contribution
from mastery_engine.core.curriculum import DEFAULT_CURRICULUM
from mastery_engine.core.events import Event, EventType
from mastery_engine.core.forecast import Forecast, forecast
from mastery_engine.core.formula import FormulaConfig, Level, SkillMastery, evaluate_student
from mastery_engine.core.history import history
from mastery_engine.core.instants import US_PER_DAY, date_to_day
from mastery_engine.core.memory_model import MemoryParams, days_of, retrievability, skill_memory
from mastery_engine.core.recommend import Action, eligible, recommend

CURRICULUM = DEFAULT_CURRICULUM
CONFIG = FormulaConfig()
PARAMS = MemoryParams()
SKILLS = CURRICULUM.skill_ids
BASE_RATE = {
    "basics": 0.35,
    "control-flow": 0.30,
    "data-structures": 0.25,
    "functions": 0.25,
    "oop": 0.18,
    "files": 0.30,
    "errors": 0.28,
    "libraries": 0.30,
}
FIRST_DAY = date_to_day(date(2026, 1, 5))
SESSIONS_PER_DAY = 2
SESSION_US = 40 * 60 * 1_000_000
MAX_STEPS = 600
CHECKPOINTS = (7, 14, 21, 28, 42, 56)
PASSING = (Level.PROFICIENT, Level.MASTERED)
CALIBRATED = ("recommend", "fixed order")
ERRORS = ("TypeError", "NameError", "IndexError", "KeyError")


@dataclass(frozen=True, slots=True)
class Profile:
    """A simulated student: learning rate per skill and the share of days studied."""

    rates: dict[str, float]
    study_share: float

    @classmethod
    def draw(cls, seed: int, index: int) -> "Profile":
        """The student number `index` of a seeded population."""
        rng = random.Random(f"profile:{seed}:{index}")
        ability = rng.lognormvariate(0.0, 0.35)
        rates = {k: min(0.9, base * ability) for k, base in BASE_RATE.items()}
        return cls(rates, rng.uniform(0.5, 0.95))


@dataclass
class Learner:
    """One student's true state and the aggregates of the events their sessions emitted."""

    profile: Profile
    rng: random.Random
    theta: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SKILLS, 0.0))
    stability: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SKILLS, 3.0))
    touched: dict[str, float] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKILLS, 0))
    scored: dict[tuple[str, str], int] = field(default_factory=dict)
    builder: AggregateBuilder = field(default_factory=AggregateBuilder)
    emitted: int = 0

    def emit(self, type_: EventType, skill: str | None, at: int, **data: object) -> None:
        """Apply one event to the aggregates."""
        self.emitted += 1
        event = Event(f"e{self.emitted}", type_, "sim", skill, at, data)
        self.builder.add(contribution(event))

    def rate(self, skill: str) -> float:
        """The learning rate now: cut while the weakest prerequisite is weak."""
        spec = CURRICULUM.get(skill)
        weakest = min((self.theta[p] for p in spec.prerequisites), default=1.0) if spec else 1.0
        gate = 0.15 + 0.85 * min(1.0, max(0.0, (weakest - 0.4) / 0.4))
        return self.profile.rates[skill] * gate

    def recall(self, skill: str, at: int) -> float:
        """The chance of answering right now, with forgetting since the last session."""
        elapsed = days_of(at) - self.touched.get(skill, days_of(at))
        return self.theta[skill] / (1.0 + elapsed / (9.0 * self.stability[skill]))

    def session(self, skill: str, action: str, at: int) -> None:
        """One study session: its events, then what it taught."""
        recall, rate = self.recall(skill, at), self.rate(skill)
        if action == "practice":
            self._practice(skill, at)
        elif action == "quiz":
            score = sum(self.rng.random() < recall for _ in range(10)) / 10
            self.emit(EventType.QUIZ_GRADED, skill, at, quiz_id=f"q{self.emitted}", score=score)
        else:
            quality = min(1.0, max(0.0, self.rng.gauss(recall, 0.08)))
            self.emit(EventType.CODE_REVIEWED, skill, at, submission_id="x", quality=quality)
        self.scored[skill, action] = self.scored.get((skill, action), 0) + 1
        share = {"practice": 1.0, "quiz": 0.3}.get(action, 0.5)
        self.theta[skill] += share * rate * (1.0 - self.theta[skill])
        self.stability[skill] = min(365.0, self.stability[skill] * 2.5)
        self.touched[skill] = days_of(at)
        self.emit(EventType.ACTIVITY, None, at + 1, kind="study_session")

    def _practice(self, skill: str, at: int) -> None:
        first = self.done[skill]
        for number in range(first, first + 3):
            exercise = f"{skill}-{number}"
            if self.rng.random() > self.theta[skill]:
                error = self.rng.choice(ERRORS)
                self.emit(
                    EventType.EXERCISE_ATTEMPTED, skill, at, exercise_id=exercise, passed=False,
                    error_type=error,
                )  # fmt: skip
            self.emit(EventType.EXERCISE_COMPLETED, skill, at, exercise_id=exercise)
        self.done[skill] = first + 3


Policy = Callable[[Learner, list[SkillMastery], StudentAggregates, int], tuple[str, str]]
ACTIONS = {
    Action.START: "practice",
    Action.PRACTICE: "practice",
    Action.QUIZ: "quiz",
    Action.REVIEW: "quiz",
    Action.IMPROVE_QUALITY: "review",
}


def course_action(learner: Learner, skill: str) -> str:
    """A course's own order: the exercises, then quiz and code review in turn."""
    if learner.done[skill] < CURRICULUM.exercise_count(skill):
        return "practice"
    quizzes = learner.scored.get((skill, "quiz"), 0)
    return "quiz" if quizzes <= learner.scored.get((skill, "review"), 0) else "review"


def first_open(skills: list[SkillMastery]) -> str:
    """The first skill in curriculum order not yet Proficient."""
    return next(m.skill_id for m in skills if m.level not in PASSING)


def reviews_of(aggregates: StudentAggregates, at: int) -> dict[str, float]:
    """Retrievability now of every skill with quiz history."""
    found = {}
    for skill in SKILLS:
        state = skill_memory(aggregates, skill, at, PARAMS)
        if state is not None:
            found[skill] = retrievability(state, days_of(at), PARAMS)
    return found


def by_recommend(
    learner: Learner, skills: list[SkillMastery], agg: StudentAggregates, at: int
) -> tuple[str, str]:
    top = recommend(skills, CURRICULUM, CONFIG, reviews_of(agg, at), limit=1)
    if not top:
        skill = first_open(skills)
        return skill, course_action(learner, skill)
    return top[0].skill_id, ACTIONS[top[0].action]


def by_order(
    learner: Learner, skills: list[SkillMastery], agg: StudentAggregates, at: int
) -> tuple[str, str]:
    skill = first_open(skills)
    return skill, course_action(learner, skill)


def by_chance(
    learner: Learner, skills: list[SkillMastery], agg: StudentAggregates, at: int
) -> tuple[str, str]:
    by_id = {m.skill_id: m for m in skills}
    open_ = [m.skill_id for m in skills if m.level not in PASSING]
    choices = [s for s in open_ if eligible(s, by_id, CURRICULUM)]
    skill = learner.rng.choice(choices)
    return skill, course_action(learner, skill)


def by_order_recommended(
    learner: Learner, skills: list[SkillMastery], agg: StudentAggregates, at: int
) -> tuple[str, str]:
    skill = first_open(skills)
    every = recommend(skills, CURRICULUM, CONFIG, {}, limit=len(skills) * 2)
    mine = [r for r in every if r.skill_id == skill]
    return skill, ACTIONS[mine[0].action] if mine else course_action(learner, skill)


POLICIES: dict[str, Policy] = {
    "recommend": by_recommend,
    "fixed order": by_order,
    "random eligible": by_chance,
    "fixed order + recommended action": by_order_recommended,
}


@dataclass
class Run:
    """What one student did under one policy."""

    steps: int = 0
    done: bool = False
    reached: dict[str, int] = field(default_factory=dict)  # skill -> day index first Proficient
    forecasts: list[tuple[int, Forecast]] = field(default_factory=list)  # (checkpoint, forecast)


def checkpoint(learner: Learner, day: int, run: Run) -> None:
    """Forecast every skill not yet Proficient from its daily series up to `day`."""
    aggregates = learner.builder.freeze()
    days = range(FIRST_DAY, FIRST_DAY + day + 1)
    for skill in SKILLS:
        if skill not in run.reached:
            points = history(aggregates, skill, days, CURRICULUM, CONFIG)
            run.forecasts.append((day, forecast(skill, points)))


def simulate(profile: Profile, seed: int, index: int, policy: Policy) -> Run:
    """Steps until every skill is Proficient (or MAX_STEPS) under one policy."""
    learner = Learner(profile, random.Random(f"outcomes:{seed}:{index}"))
    calendar = random.Random(f"calendar:{seed}:{index}")
    run, day = Run(), 0
    while run.steps < MAX_STEPS and not run.done:
        if day in CHECKPOINTS:
            checkpoint(learner, day - 1, run)
        if calendar.random() < profile.study_share:
            for session in range(SESSIONS_PER_DAY):
                at = (FIRST_DAY + day) * US_PER_DAY + 17 * 3600 * 10**6 + session * SESSION_US
                aggregates = learner.builder.freeze()
                skills = evaluate_student(aggregates, at, CURRICULUM, CONFIG)
                skill, action = policy(learner, skills, aggregates, at)
                learner.session(skill, action, at)
                run.steps += 1
                after = evaluate_student(learner.builder.freeze(), at + 2, CURRICULUM, CONFIG)
                for m in after:
                    if m.level in PASSING:
                        run.reached.setdefault(m.skill_id, day)
                run.done = all(m.level in PASSING for m in after)
                if run.done:
                    break
        day += 1
    return run


def true_days(run: Run, day: int, skill: str) -> float:
    """Days after `day` at whose end the skill was first Proficient (inf: never in the run)."""
    reached = run.reached.get(skill)
    return math.inf if reached is None else reached - day


def kind_of(f: Forecast) -> str:
    """Why a forecast has no value, or "forecast"."""
    if f.to_proficient is not None:
        return "forecast"
    if f.pace is None:
        started = not (f.reason or "").startswith("no progress on")
        return "little data" if started else "not started"
    return "no pace" if f.pace.mean <= 0 else "beyond horizon"


def _share(flags: list[bool]) -> float:
    return 100.0 * sum(flags) / len(flags) if flags else float("nan")


def calibration_row(label: object, made: list[tuple[int, Run, Forecast]]) -> list[object]:
    """Why forecasts are missing, how often the 80 % interval held the true day, the errors."""
    kinds = [kind_of(f) for _, _, f in made]
    valued = [
        (true_days(run, day, f.skill_id), e) for day, run, f in made if (e := f.to_proficient)
    ]
    inside = [e.low <= t <= (math.inf if e.high is None else e.high) for t, e in valued]
    bounded = [e.low <= t <= e.high for t, e in valued if e.high is not None]
    early = sum(1 for t, e in valued if t < e.low)
    errors = sorted(abs(t - e.days) for t, e in valued)
    return [
        label,
        len(made),
        *(kinds.count(k) for k in ("not started", "little data", "no pace")),
        len(valued),
        len(valued) - len(bounded),
        sum(1 for _, _, f in made if f.at_risk),
        _share(inside),
        _share(bounded),
        f"{early}/{len(valued) - sum(inside) - early}",
        statistics.median(errors) if errors else float("nan"),
    ]


def calibration(runs: list[Run]) -> list[list[object]]:
    """One row per checkpoint, then one for all of them."""
    made = [(day, run, f) for run in runs for day, f in run.forecasts]
    rows = [calibration_row(c, [m for m in made if m[0] == c - 1]) for c in CHECKPOINTS]
    return [*rows, calibration_row("all", made)]


def steps_row(name: str, runs: list[Run], baseline: float) -> list[object]:
    """Mean, median and p90 of the steps to all-Proficient, and the saving on the baseline."""
    steps = sorted(run.steps for run in runs)
    mean = statistics.fmean(steps)
    unfinished = sum(1 for run in runs if not run.done)
    fewer = 100.0 * (baseline - mean) / baseline
    p90 = report.percentile(steps, 90.0)
    return [name, mean, statistics.median(steps), p90, fewer, unfinished]


CALIBRATION_HEADERS = [
    "day",
    "not Proficient",
    "not started",
    "too little data",
    "no pace",
    "forecasts",
    "open-ended",
    "at risk",
    "% in 80% interval",
    "% in, bounded only",
    "misses early/late",
    "median |error| days",
]
STEPS_HEADERS = ["policy", "mean", "median", "p90", "% fewer than fixed", "unfinished"]


def main() -> None:
    """Simulate every policy on the same students; print and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    args = parser.parse_args()
    source = report.source_state()
    profiles = [Profile.draw(args.seed, i) for i in range(args.students)]
    names = sorted(set(args.policies) | {"fixed order"}, key=list(POLICIES).index)
    runs = {
        name: [simulate(p, args.seed, i, POLICIES[name]) for i, p in enumerate(profiles)]
        for name in names
    }
    baseline = statistics.fmean(run.steps for run in runs["fixed order"])
    rows = [steps_row(name, found, baseline) for name, found in runs.items()]
    title = f"Steps until every skill is Proficient ({args.students} students, seed {args.seed})"
    report.print_table(title, STEPS_HEADERS, rows)
    calibrated = {name: calibration(runs[name]) for name in names if name in CALIBRATED}
    for name, cal_rows in calibrated.items():
        title = f"Forecast of days to Proficient at checkpoints ({name})"
        report.print_table(title, CALIBRATION_HEADERS, cal_rows)
    report.write_result(
        "recommend_sim",
        {
            "settings": vars(args),
            "source_at_start": source,
            "steps": [dict(zip(STEPS_HEADERS, row, strict=True)) for row in rows],
            "calibration": {
                name: [dict(zip(CALIBRATION_HEADERS, row, strict=True)) for row in cal_rows]
                for name, cal_rows in calibrated.items()
            },
        },
    )


if __name__ == "__main__":
    main()
