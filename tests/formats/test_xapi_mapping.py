"""xAPI statements as real emitters send them (Open edX, Moodle, H5P, the ADL templates),
mapped onto canonical events: types, skills by prefix and by context, boundaries, overrides."""

import json
from typing import Any

import pytest

from mastery_engine.core.activities import ActivityIndex
from mastery_engine.core.errors import InvalidConfig, InvalidEvent
from mastery_engine.core.events import parse_event
from mastery_engine.core.instants import parse_rfc3339
from mastery_engine.core.records import RecordRules
from mastery_engine.formats.mapping import SkillRule
from mastery_engine.formats.records import Mapped, RecordRulesInForce
from mastery_engine.formats.xapi import map_statement
from tests.emitters import adl_statements, named, samples

NOW = "2026-03-20T12:00:00Z"
EDX_COURSE = "http://localhost:18000/course/course-v1:edX+DemoX+Demo_Course"
MOODLE_COURSE = "http://www.example.org/course/view.php?id=1"
EDX_STUDENT = "32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb"


def rules(*prefixes: tuple[str, str], table: RecordRules | None = None) -> RecordRulesInForce:
    index = ActivityIndex.of(prefixes or [(EDX_COURSE, "edx"), (MOODLE_COURSE, "moodle")])
    return RecordRulesInForce(SkillRule(), index, table or RecordRules(), NOW)


def outcome(body: Any, in_force: RecordRulesInForce | None = None) -> Mapped:
    mapped = map_statement(body, in_force or rules())
    if mapped.event is not None:  # every event it makes meets the event contract
        parse_event(mapped.event, parse_rfc3339(NOW, "now") + 10**15)
    return mapped


@pytest.mark.parametrize("family", ["openedx_xapi", "moodle_xapi", "h5p_xapi"])
def test_every_real_statement_maps_or_is_refused_with_a_reason(family: str) -> None:
    for name, body in samples(family).items():
        try:
            mapped = outcome(body)
        except InvalidEvent as exc:
            pytest.fail(f"{name}: refused ({exc.field}: {exc.message})")
        assert (mapped.event is None) == (mapped.skipped is not None), name


def test_every_adl_template_maps_or_is_refused_naming_the_field() -> None:
    refused = {}
    for name, body in adl_statements().items():
        try:
            outcome(body)
        except InvalidEvent as exc:
            refused[name] = exc.field
    assert refused == {
        "actor": "actor",  # an Agent with no identifier names no student
        "no_actor": "actor",
        "no_object": "object",
        "no_verb": "verb",
        "verb": "verb.id",
    }


def test_open_edx_problem_answer_is_a_graded_quiz_of_the_course_skill() -> None:
    event = outcome(named("openedx_xapi", "problem_check (server) - evaluated")).event
    assert event is not None
    assert event["type"] == "quiz.graded"
    assert event["skill_id"] == "edx"  # from contextActivities.parent
    assert event["student_id"] == EDX_STUDENT
    assert event["data"]["quiz_id"].endswith("type@problem+block@3fc5461f86764ad7bdbdf6cbdde61e66")
    assert event["data"]["score"] == 0.0
    assert event["id"] == "6d1f033b-3f70-458c-b53a-e6bb63cbaef9"
    assert event["occurred_at"] == "2020-07-14T14:39:26.906232Z"


def test_open_edx_grades_navigation_video_and_enrolment() -> None:
    earned = outcome(named("openedx_xapi", "edx.grades.subsection.grade_calculated - earned"))
    assert earned.event is not None and earned.event["type"] == "quiz.graded"
    navigated = outcome(named("openedx_xapi", "edx.ui.lms.sequence.next_selected"))
    assert navigated.event is not None
    assert (navigated.event["type"], navigated.event["data"]) == ("activity", {"kind": "navigated"})
    paused = outcome(named("openedx_xapi", "pause_video")).event
    assert paused is not None and paused["type"] == "activity"
    video = outcome(named("openedx_xapi", "complete_video")).event
    assert video is not None and video["type"] == "exercise.completed"
    enrolled = outcome(named("openedx_xapi", "edx.course.enrollment.activated"))
    assert enrolled.event is None and enrolled.skipped is not None
    assert "registered" in enrolled.skipped
    passed = outcome(named("openedx_xapi", "edx.course.grade.passed.first_time")).event
    assert passed is not None and passed["data"]["passed"] is True


def test_an_older_open_edx_learner_by_openid_is_the_same_student() -> None:
    older = outcome(named("openedx_xapi", "play_video - played (older ERB release"))
    assert older.event is not None and older.event["student_id"] == EDX_STUDENT


def test_a_graded_statement_without_a_skill_is_activity_with_a_warning() -> None:
    mapped = outcome(named("openedx_xapi", "problem_check (server) - older ERB release"))
    assert mapped.event is not None
    assert mapped.event["type"] == "activity" and "skill_id" not in mapped.event
    assert mapped.warning is not None
    assert "block-v1:edX+DemoX+Demo_Course+type@problem" in mapped.warning
    assert "activities" in mapped.warning
    # the prefix that older release uses for its course, once configured, resolves it
    older = rules(("http://localhost:18000/courses/course-v1:edX+DemoX+Demo_Course", "edx"))
    fixed = outcome(named("openedx_xapi", "problem_check (server) - older ERB release"), older)
    assert fixed.event is not None and fixed.event["type"] == "quiz.graded"


def test_moodle_quiz_assignment_and_course_completion() -> None:
    quiz = outcome(named("moodle_xapi", "mod_quiz attempt_submitted (truefalse) - completed"))
    assert quiz.event is not None
    assert (quiz.event["type"], quiz.event["data"]["score"]) == ("quiz.graded", 0.5)
    assert quiz.event["skill_id"] == "moodle"  # the course is in contextActivities.grouping
    assert quiz.event["student_id"] == "1"
    graded = outcome(named("moodle_xapi", "mod_assign submission_graded")).event
    assert graded is not None and graded["type"] == "quiz.graded"
    course = outcome(named("moodle_xapi", "core course_completed - completed (adlnet)")).event
    assert course is not None and course["type"] == "exercise.completed"
    enrolled = outcome(named("moodle_xapi", "core user_enrolment_created"))
    assert enrolled.skipped is not None


def test_moodle_statements_without_id_or_timestamp_get_stable_ones() -> None:
    body = named(
        "moodle_xapi",
        "mod_quiz attempt_submitted (multichoice, fixture without timestamp) - completed",
    )
    assert "id" not in body and "timestamp" not in body
    first, again = outcome(body).event, outcome(json.loads(json.dumps(body))).event
    assert first is not None and again is not None
    assert first["id"] == again["id"]  # sent twice: the same event, a duplicate
    assert first["occurred_at"] == NOW  # no timestamp, no stored: when it was received
    stored = outcome(body | {"stored": "2026-03-19T08:00:00+01:00"}).event
    assert stored is not None and stored["occurred_at"] == "2026-03-19T07:00:00Z"
    assert stored["id"] != first["id"]


def test_h5p_answers_take_their_skill_from_an_exact_activity_prefix() -> None:
    body = named("h5p_xapi", "answered sub-content question")
    activity = body["object"]["id"].split("?")[0]
    mapped = outcome(body, rules((activity, "fractions")))
    assert mapped.event is not None
    assert (mapped.event["type"], mapped.event["skill_id"]) == ("quiz.graded", "fractions")


def test_prefixes_match_only_at_a_boundary_and_the_longest_wins() -> None:
    def statement(object_id: str, parent: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "actor": {"account": {"homePage": "https://lms", "name": "s-1"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
            "object": {"id": object_id},
            "result": {"score": {"scaled": 0.75}},
            "timestamp": "2026-03-10T10:00:00Z",
        }
        if parent:
            body["context"] = {"contextActivities": {"parent": {"id": parent}}}
        return body

    in_force = rules(("https://lms/course-1", "one"), ("https://lms/course-1/unit-2", "two"))

    def skill(body: dict[str, Any]) -> str | None:
        event = outcome(body, in_force).event
        assert event is not None
        return event.get("skill_id")

    assert skill(statement("https://lms/course-1/unit-2/q1")) == "two"
    assert skill(statement("https://lms/course-1/unit-20/q1")) == "one"
    assert skill(statement("https://lms/course-10/q1")) is None
    assert skill(statement("https://lms/course-1?item=3")) == "one"
    # the object's own match wins over any context; context by the longest match
    assert skill(statement("https://lms/course-1/q", "https://lms/course-1/unit-2")) == "one"
    assert skill(statement("https://elsewhere/q", "https://lms/course-1/unit-2/x")) == "two"


def test_scores_scaled_raw_and_partial() -> None:
    def graded(score: dict[str, Any]) -> Mapped:
        body = {
            "id": "s1",
            "actor": {"mbox": "mailto:a@b.org"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
            "object": {"id": f"{EDX_COURSE}/q"},
            "result": {"score": score},
            "timestamp": "2026-03-10T10:00:00Z",
        }
        return outcome(body)

    def score(mapped: Mapped) -> Any:
        assert mapped.event is not None
        return mapped.event["data"].get("score")

    assert score(graded({"scaled": -0.5})) == 0.0
    assert score(graded({"raw": 3, "min": 1, "max": 5})) == 0.5
    partial = graded({"raw": 3}).event  # too little to tell: not a score
    assert partial is not None and partial["type"] == "activity"
    for broken, field in (
        ({"scaled": "0.5"}, "result.score.scaled"),
        ({"scaled": 1.5}, "result.score.scaled"),
        ({"raw": 7, "min": 0, "max": 5}, "result.score.raw"),
    ):
        with pytest.raises(InvalidEvent) as refused:
            graded(broken)
        assert refused.value.field is not None and refused.value.field.startswith(field)


def test_a_tenant_overrides_the_table_per_verb() -> None:
    table = RecordRules().overridden(
        {
            "xapi": {
                "verbs": {
                    "https://w3id.org/xapi/acrossx/verbs/evaluated": "attempted",
                    "https://w3id.org/xapi/dod-isd/verbs/navigated": "ignore",
                }
            }
        }
    )
    evaluated = outcome(
        named("openedx_xapi", "problem_check (server) - evaluated"),
        rules((EDX_COURSE, "edx"), table=table),
    )
    assert evaluated.event is not None
    assert evaluated.event["type"] == "exercise.attempted"
    assert evaluated.event["data"]["passed"] is False
    navigated = outcome(
        named("openedx_xapi", "edx.ui.lms.sequence.next_selected"),
        rules((EDX_COURSE, "edx"), table=table),
    )
    assert navigated.skipped is not None
    with pytest.raises(InvalidConfig) as refused:
        RecordRules().overridden({"xapi": {"verbs": {"http://x/verb": "graded-ish"}}})
    assert "graded, completed, attempted, activity, ignore" in refused.value.message


def test_who_when_and_what_score_are_strict() -> None:
    base = named("openedx_xapi", "problem_check (server) - evaluated")
    for change, field in (
        ({"actor": {"objectType": "Agent", "name": "nobody"}}, "actor"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": "2026-03-10T10:00:00"}, "timestamp"),
    ):
        with pytest.raises(InvalidEvent) as refused:
            outcome(base | change)
        assert refused.value.field == field


def test_an_empty_score_range_is_no_score() -> None:
    # Open edX sends an ungraded problem as 0 of 0 (scaled 0): not a zero score.
    mapped = outcome(named("openedx_xapi", "problem_check (server) with max_grade 0"))
    assert mapped.event is not None
    assert mapped.event["type"] != "quiz.graded"


def test_an_iso_8601_basic_offset_is_read_as_the_same_instant() -> None:
    base = named("openedx_xapi", "problem_check (server) - evaluated")
    for written, meant in (
        ("2020-07-14T14:39:26+0000", "2020-07-14T14:39:26Z"),
        ("2020-07-14T20:09:26.5+0530", "2020-07-14T14:39:26.500000Z"),
    ):
        event = outcome(base | {"timestamp": written}).event
        assert event is not None and event["occurred_at"] == meant
