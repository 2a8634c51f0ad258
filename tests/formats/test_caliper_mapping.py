"""Caliper events as real emitters send them (Open edX, Canvas, the IMS 1.1 examples) mapped
onto canonical events: learners, scores, skills by prefix and by context, skipped items,
rejections that name the field, overrides."""

import copy
from typing import Any

import pytest

from mastery_engine.core.activities import ActivityIndex
from mastery_engine.core.errors import InvalidEvent
from mastery_engine.core.events import parse_event
from mastery_engine.core.instants import parse_rfc3339
from mastery_engine.core.records import RecordRules
from mastery_engine.formats.caliper import map_caliper_event
from mastery_engine.formats.mapping import SkillRule
from mastery_engine.formats.records import Mapped, RecordRulesInForce
from mastery_engine.formats.sensor import caliper_items, looks_like_caliper
from tests.emitters import named as sample
from tests.emitters import samples

NOW = "2026-03-20T12:00:00Z"
EDX_COURSE = "http://localhost:18000/course/course-v1:edX+DemoX+Demo_Course"
EDX_BLOCKS = "http://localhost:18000/xblock/block-v1:edX+DemoX+Demo_Course"
EDX_PROBLEM = f"{EDX_BLOCKS}+type@problem+block@3fc5461f86764ad7bdbdf6cbdde61e66"
EDX_STUDENT = "32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb"
CANVAS_COURSE = "urn:instructure:canvas:course:21070000000000565"
CANVAS_QUIZ_COURSE = "urn:instructure:canvas:course:21070000000100123"
SPEC_SECTION = "https://example.edu/terms/201601/courses/7/sections/1"
COURSES = [
    (EDX_COURSE, "edx"),
    (CANVAS_COURSE, "canvas"),
    (CANVAS_QUIZ_COURSE, "canvas-quizzes"),
    (SPEC_SECTION, "cps435"),
]


def rules(*prefixes: tuple[str, str], table: RecordRules | None = None) -> RecordRulesInForce:
    index = ActivityIndex.of(prefixes or COURSES)
    return RecordRulesInForce(SkillRule(extension=None), index, table or RecordRules(), NOW)


def named(family: str, start: str) -> Any:
    """The one event of the sample whose name starts so (an envelope's single item)."""
    (item,) = caliper_items(sample(family, start))
    return item


def outcome(item: Any, in_force: RecordRulesInForce | None = None) -> Mapped:
    mapped = map_caliper_event(item, in_force or rules())
    assert (mapped.event is None) == (mapped.skipped is not None)
    if mapped.event is not None:  # every event it makes meets the event contract
        parse_event(mapped.event, parse_rfc3339(NOW, "now") + 10**15)
    return mapped


def event_of(item: Any, in_force: RecordRulesInForce | None = None) -> dict[str, Any]:
    found = outcome(item, in_force).event
    assert found is not None
    return found


def refusal(item: Any, in_force: RecordRulesInForce | None = None) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as refused:
        outcome(item, in_force)
    return refused.value


def summary(item: Any) -> str:
    """What an item becomes, in a word: its event type (with the skill), skipped, rejected."""
    try:
        mapped = outcome(item)
    except InvalidEvent as exc:
        return f"rejected ({exc.field})"
    if mapped.event is None:
        return "skipped"
    skill = mapped.event.get("skill_id")
    return f"{mapped.event['type']} {skill}" if skill else mapped.event["type"]


EXPECTED = {
    "openedx_caliper": {
        "problem_check (server) - GradeEvent Graded": "quiz.graded edx",
        "problem_check (server) - AssessmentEvent Submitted (mid-age ERB)": "activity",
        "problem_check (server) - AssessmentEvent Submitted (oldest ERB": "activity",
        "edx.grades.problem.submitted": "activity",
        "edx.course.grade.passed.first_time": "activity edx",
        "play_video": "activity",
        "complete_video": "activity edx",
        "postion_changed_video": "activity edx",
        "show_transcript": "activity edx",
        "speed_change_video": "activity edx",
        "edx.ui.lms.sequence.next_selected": "activity",
        "edx.ui.lms.link_clicked (required data only)": "activity",
        "edx.ui.lms.link_clicked (anonymous user)": "activity",
        "edx.course.enrollment.activated": "skipped",
        "edx.course.completed": "activity",
    },
    "canvas_caliper": {
        "grade_change": "rejected (generated.scoreGiven)",  # scoreGiven 5 of maxScore 1
        "quiz_submitted": "exercise.completed canvas-quizzes",
        "logged_in": "activity",
        "logged_out": "activity",
        "asset_accessed (assignment)": "activity canvas",
        "asset_accessed (attachment)": "rejected (actor)",  # a SoftwareApplication actor
        "asset_accessed (account outcomes)": "activity",
    },
    "caliper_spec": {
        "GradeEvent Graded": "quiz.graded cps435",
        "AssessmentEvent Submitted": "exercise.completed cps435",
    },
}


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_every_real_sample_maps_skips_or_is_refused_naming_the_field(family: str) -> None:
    found = {}
    for name, body in samples(family).items():
        items = caliper_items(body)
        assert len(items) == 1, name
        (start,) = [key for key in EXPECTED[family] if name.startswith(key)]
        found[start] = summary(items[0])
    assert found == EXPECTED[family]


def test_open_edx_problem_grade_is_a_quiz_of_the_course_skill() -> None:
    event = event_of(named("openedx_caliper", "problem_check (server) - GradeEvent"))
    assert event == {
        "id": "urn:uuid:129915b8-4455-46d9-9da5-ef0707fddc06",
        "student_id": EDX_STUDENT,  # object.extensions.assignee
        "occurred_at": "2020-07-14T14:39:26.906000Z",
        "type": "quiz.graded",
        "data": {"quiz_id": EDX_PROBLEM, "score": 0.0},  # object.extensions.assignable
        "skill_id": "edx",  # found through object.extensions.isPartOf
    }


def test_open_edx_success_string_is_read_when_the_grade_counts_as_an_attempt() -> None:
    attempted = RecordRules().overridden({"caliper": {"actions": {"Graded": "attempted"}}})
    grade = named("openedx_caliper", "problem_check (server) - GradeEvent")
    event = event_of(grade, rules(table=attempted))
    assert (event["type"], event["data"]) == (
        "exercise.attempted",
        {"exercise_id": EDX_PROBLEM, "passed": False},  # extensions.success "False"
    )
    grade["generated"]["score"]["extensions"]["success"] = "maybe"
    assert event_of(grade, rules(table=attempted))["type"] == "activity"


def test_a_grade_without_a_skill_is_the_learners_activity_with_a_warning() -> None:
    mapped = outcome(named("openedx_caliper", "problem_check (server) - GradeEvent"), rules())
    assert mapped.warning is None
    bare = outcome(
        named("openedx_caliper", "problem_check (server) - GradeEvent"), rules(("x", "y"))
    )
    assert bare.event is not None and bare.warning is not None
    assert (bare.event["type"], bare.event["data"]) == ("activity", {"kind": "grade.graded"})
    assert "skill_id" not in bare.event
    assert EDX_PROBLEM in bare.warning and "activities" in bare.warning


def test_canvas_grade_names_the_assignee_and_refuses_a_score_above_its_maximum() -> None:
    grade = named("canvas_caliper", "grade_change")
    refused = refusal(grade)
    assert refused.field == "generated.scoreGiven"
    assert "generated.scoreGiven 5 is outside 0 .. maxScore 1" in refused.message

    grade["generated"] |= {"scoreGiven": "4", "maxScore": "5"}  # numbers as strings
    event = event_of(grade)
    assert event["student_id"] == "21070000000000048"  # the assignee, not the grader (…987)
    assert event["type"] == "quiz.graded"
    assert event["data"] == {
        "quiz_id": "urn:instructure:canvas:assignment:21070000000000355",
        "score": 0.8,
    }
    assert event["skill_id"] == "canvas"  # the event's group


def test_canvas_quiz_submission_completes_the_quiz_not_the_attempt() -> None:
    event = event_of(named("canvas_caliper", "quiz_submitted"))
    assert event["student_id"] == "21070000000987123"
    assert event["type"] == "exercise.completed"
    assert event["data"] == {"exercise_id": "urn:instructure:canvas:quiz:11210000002223333"}
    assert event["skill_id"] == "canvas-quizzes"


def test_canvas_sessions_and_navigation_are_activity() -> None:
    logged_in = event_of(named("canvas_caliper", "logged_in"))
    assert logged_in["student_id"] == "21070000000000001"
    assert logged_in["data"] == {"kind": "session.loggedin"} and "skill_id" not in logged_in
    logged_out = event_of(named("canvas_caliper", "logged_out"))
    assert logged_out["data"] == {"kind": "session.loggedout"}
    navigated = event_of(named("canvas_caliper", "asset_accessed (assignment)"))
    assert navigated["data"] == {"kind": "navigation.navigatedto"}
    edx = event_of(named("openedx_caliper", "edx.ui.lms.sequence.next_selected"))
    assert (edx["type"], edx["data"], edx["student_id"]) == (
        "activity",
        {"kind": "navigation.navigatedto"},
        EDX_STUDENT,
    )
    software = refusal(named("canvas_caliper", "asset_accessed (attachment)"))
    assert software.field == "actor" and "SoftwareApplication, not a Person" in software.message


def test_a_software_actors_session_is_its_users() -> None:
    app = {"id": "https://example.edu", "type": "SoftwareApplication"}
    session = {"id": "https://example.edu/sessions/1", "type": "Session", "duration": "PT30M"}
    timed_out = {
        "id": "urn:uuid:1",
        "type": "SessionEvent",
        "action": "TimedOut",
        "actor": app,
        "object": session | {"user": "https://example.edu/users/554433"},
        "eventTime": "2026-03-18T11:00:00+02:00",
    }
    event = event_of(timed_out)
    assert (event["student_id"], event["occurred_at"]) == ("554433", "2026-03-18T09:00:00Z")
    assert event["data"] == {"kind": "session.timedout", "duration_s": 1800.0}
    by_session = timed_out | {"object": app, "session": {"id": "s", "user": {"id": "u/7"}}}
    assert event_of(by_session)["student_id"] == "7"
    refused = refusal(timed_out | {"object": app})
    assert refused.field == "session.user"


def test_the_ims_examples_grade_the_assignee_and_complete_the_assessment() -> None:
    graded = event_of(named("caliper_spec", "GradeEvent Graded"))
    assert graded["student_id"] == "554433"  # the assignee; the actor is the autograder
    assert graded["data"] == {
        "quiz_id": f"{SPEC_SECTION}/assess/1",
        "score": pytest.approx(10 / 15),
    }
    submitted = event_of(named("caliper_spec", "AssessmentEvent Submitted"))
    assert submitted["data"] == {"exercise_id": f"{SPEC_SECTION}/assess/1"}
    assert submitted["skill_id"] == "cps435"


def test_types_and_actions_written_as_iris_count_by_their_last_segment() -> None:
    plain = named("caliper_spec", "AssessmentEvent Submitted")
    iris = plain | {
        "type": "http://purl.imsglobal.org/caliper/v1/AssessmentEvent",
        "action": "http://purl.imsglobal.org/vocab/caliper/v1/action#Submitted",
    }
    assert event_of(iris) == event_of(plain)
    enrolment = named("openedx_caliper", "edx.course.enrollment.activated")
    enrolment["action"] = "http://purl.imsglobal.org/vocab/caliper/v1/action#Activated"
    assert outcome(enrolment).skipped is not None


def test_activation_is_skipped_and_a_tenant_can_map_any_action() -> None:
    enrolled = outcome(named("openedx_caliper", "edx.course.enrollment.activated"))
    assert enrolled.skipped is not None
    assert "'Event.Activated'" in enrolled.skipped and "caliper.actions" in enrolled.skipped
    table = RecordRules().overridden(
        {
            "caliper": {
                "actions": {
                    "Activated": "activity",
                    "MediaEvent.Ended": "completed",
                    "NavigationEvent.NavigatedTo": "ignore",
                }
            }
        }
    )
    tenant = rules(table=table)
    activated = event_of(named("openedx_caliper", "edx.course.enrollment.activated"), tenant)
    assert activated["data"] == {"kind": "activated"}
    video = event_of(named("openedx_caliper", "complete_video"), tenant)
    assert (video["type"], video["skill_id"]) == ("exercise.completed", "edx")
    assert video["data"]["exercise_id"].endswith(
        "type@video+block@0b9e39477cf34507a7a48f74be381fdd"
    )
    navigated = outcome(named("canvas_caliper", "asset_accessed (assignment)"), tenant)
    assert navigated.skipped is not None and "NavigationEvent.NavigatedTo" in navigated.skipped
    # the defaults still apply to everyone else
    assert event_of(named("openedx_caliper", "complete_video"))["type"] == "activity"


def test_prefixes_match_at_a_boundary_and_the_objects_own_match_comes_first() -> None:
    grade = named("openedx_caliper", "problem_check (server) - GradeEvent")
    # `…Demo` is not a prefix of `…Demo_Course`: `_` is no boundary
    assert "skill_id" not in event_of(grade, rules((EDX_COURSE.removesuffix("_Course"), "demo")))
    # `+` is one: every block of the course, by the quiz id itself
    assert event_of(grade, rules((EDX_BLOCKS, "blocks")))["skill_id"] == "blocks"
    # the object's (the assignable's) match wins over the course found in isPartOf
    assert event_of(grade, rules((EDX_BLOCKS, "blocks"), *COURSES))["skill_id"] == "blocks"
    # bare usage keys of older Open edX releases resolve the same way
    older = named("openedx_caliper", "problem_check (server) - AssessmentEvent Submitted (mid")
    keyed = event_of(older, rules(("block-v1:edX+DemoX+Demo_Course", "demo")))
    assert (keyed["type"], keyed["skill_id"]) == ("exercise.completed", "demo")


def test_entities_in_an_envelope_are_skipped() -> None:
    envelope = samples("canvas_caliper")["logged_in - SessionEvent LoggedIn (envelope)"]
    person = {"id": "urn:instructure:canvas:user:21070000000000001", "type": "Person"}
    course = {"id": CANVAS_COURSE, "type": "CourseOffering", "name": "Maths"}
    envelope = envelope | {"data": [person, *envelope["data"], course]}
    first, event, last = (outcome(item) for item in caliper_items(envelope))
    assert first.skipped == "a Person entity is not an event"
    assert last.skipped == "a CourseOffering entity is not an event"
    assert event.event is not None and event.event["type"] == "activity"


def test_an_event_without_id_or_time_gets_a_stable_id_and_the_time_received() -> None:
    video = named("openedx_caliper", "complete_video")
    del video["id"], video["eventTime"]
    first, again = event_of(video), event_of(copy.deepcopy(video))
    assert first["id"] == again["id"]  # sent twice: the same event, a duplicate
    assert first["occurred_at"] == NOW
    other = event_of(video | {"action": "Paused"})
    assert other["id"] != first["id"]


@pytest.mark.parametrize(
    ("score", "field", "message"),
    [
        (
            {"scoreGiven": "ten", "maxScore": 2},
            "generated.scoreGiven",
            "'ten'; it must be a finite",
        ),
        ({"scoreGiven": "NaN", "maxScore": 2}, "generated.scoreGiven", "finite number"),
        ({"scoreGiven": True, "maxScore": 2}, "generated.scoreGiven", "True"),
        ({"scoreGiven": 1}, "generated.maxScore", "generated.maxScore is missing"),
        ({"scoreGiven": 0, "maxScore": 0}, "generated.maxScore", "is 0"),
        (
            {"scoreGiven": -1, "maxScore": 4},
            "generated.scoreGiven",
            "-1 is outside 0 .. maxScore 4",
        ),
        ({"scoreGiven": 3, "maxScore": "2.5"}, "generated.scoreGiven", "3 is outside"),
    ],
)
def test_a_score_that_cannot_be_a_fraction_is_refused(
    score: dict[str, Any], field: str, message: str
) -> None:
    item = named("caliper_spec", "GradeEvent Graded")
    item["generated"] = {"id": "_:score", "type": "Score"} | score
    refused = refusal(item)
    assert refused.field == field and message in refused.message, refused.message


@pytest.mark.parametrize(
    ("generated", "score"),
    [
        ({"type": "Score", "scoreGiven": " 3 ", "maxScore": "4"}, 0.75),
        ({"type": "Score", "scoreGiven": 1.5e0, "maxScore": 6}, 0.25),
        ({"type": "Result", "resultScore": 10, "maxResultScore": 15}, 10 / 15),  # Caliper 1.1
        ({"type": "Result", "score": {"scoreGiven": 2, "maxScore": 2}}, 1.0),  # Caliper 1.2
    ],
)
def test_scores_as_numbers_strings_and_results(generated: dict[str, Any], score: float) -> None:
    item = named("caliper_spec", "GradeEvent Graded") | {"generated": generated}
    assert event_of(item)["data"]["score"] == pytest.approx(score)


def test_events_that_can_name_no_learner_or_time_are_refused() -> None:
    grade = named("caliper_spec", "GradeEvent Graded")
    del grade["object"]["assignee"]
    assert refusal(grade).field == "object.assignee"
    submitted = named("caliper_spec", "AssessmentEvent Submitted")
    assert refusal(submitted | {"actor": 42}).field == "actor"
    assert refusal(submitted | {"actor": ""}).field == "actor"
    assert refusal(submitted | {"eventTime": "yesterday"}).field == "eventTime"
    assert refusal(submitted | {"eventTime": "2016-11-15T10:25:30"}).field == "eventTime"
    assert refusal(submitted | {"type": "Person"}).field == "type"
    assert refusal("urn:uuid:1").message.startswith("a Caliper event must be an object")


def test_envelopes_and_bare_events_and_what_is_neither() -> None:
    envelope = samples("canvas_caliper")["logged_out - SessionEvent LoggedOut (envelope)"]
    bare = named("openedx_caliper", "complete_video")
    assert caliper_items(envelope) == envelope["data"]
    assert caliper_items(bare) == [bare]
    assert looks_like_caliper(envelope) and looks_like_caliper(bare)
    statement: dict[str, Any] = {"actor": {}, "verb": {}, "object": {}}
    assert not looks_like_caliper(statement) and not looks_like_caliper([bare])
    for payload, field, message in [
        ([bare], None, "got a JSON list"),
        (None, None, "got a JSON null"),
        (envelope | {"data": []}, "data", "data: the envelope holds no events"),
        (envelope | {"data": bare}, "data", "data: Input should be a valid list"),
        ({k: v for k, v in envelope.items() if k != "sensor"}, "sensor", "sensor: Field required"),
    ]:
        with pytest.raises(InvalidEvent) as refused:
            caliper_items(payload)
        assert refused.value.field == field and message in refused.value.message
