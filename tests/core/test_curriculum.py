"""Curricula: the default track, loading a tenant's own, and refusing broken ones."""

from pathlib import Path

import pytest

from mastery_engine.core.curriculum import DEFAULT_CURRICULUM, Curriculum
from mastery_engine.core.errors import InvalidConfig
from mastery_engine.wiring import load_curriculum


def test_default_track_matches_the_product_brief() -> None:
    expected = {
        "basics": (10, ()),
        "control-flow": (12, ("basics",)),
        "data-structures": (12, ("control-flow",)),
        "functions": (10, ("control-flow",)),
        "oop": (15, ("functions", "data-structures")),
        "files": (8, ("functions",)),
        "errors": (8, ("functions",)),
        "libraries": (6, ("files", "errors")),
    }
    assert {s.id: (s.exercises, s.prerequisites) for s in DEFAULT_CURRICULUM.skills} == expected
    assert DEFAULT_CURRICULUM.exercise_count("not-in-track") == 10


def test_prerequisites_come_first_whatever_the_file_order() -> None:
    curriculum = Curriculum.from_mapping(
        {
            "skills": [
                {"id": "b", "exercises": 2, "prerequisites": ["a"]},
                {"id": "a", "exercises": 1},
            ]
        }
    )
    assert curriculum.skill_ids == ("a", "b")


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"skills": []}, "at least one skill"),
        ({"skills": [{"id": "a", "exercises": 0}]}, "positive integer"),
        ({"skills": [{"id": "a", "exercises": True}]}, "positive integer"),
        ({"skills": [{"exercises": 3}]}, "id must be"),
        ({"skills": [{"id": "a", "exercises": 1}, {"id": "a", "exercises": 2}]}, "twice"),
        (
            {"skills": [{"id": "a", "exercises": 1, "prerequisites": ["zz"]}]},
            "unknown prerequisites",
        ),
        (
            {
                "skills": [
                    {"id": "a", "exercises": 1, "prerequisites": ["c"]},
                    {"id": "b", "exercises": 1, "prerequisites": ["a"]},
                    {"id": "c", "exercises": 1, "prerequisites": ["b"]},
                ]
            },
            "cycle: a -> c -> b -> a",
        ),
        ("skills", "at least one skill"),
    ],
)
def test_broken_curricula_are_refused(document: object, fragment: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        Curriculum.from_mapping(document)
    assert fragment in caught.value.message


def test_load_from_yaml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "track.yaml"
    yaml_file.write_text(
        "skills:\n"
        "  - {id: intro, exercises: 3}\n"
        "  - id: loops\n"
        "    exercises: 4\n"
        "    prerequisites: [intro]\n"
    )
    json_file = tmp_path / "track.json"
    json_file.write_text('{"skills": [{"id": "intro", "exercises": 3}]}')
    assert load_curriculum(yaml_file).exercise_count("loops") == 4
    assert load_curriculum(json_file).skill_ids == ("intro",)
    assert load_curriculum(None) is DEFAULT_CURRICULUM
    assert Curriculum.from_mapping(DEFAULT_CURRICULUM.to_json()) == DEFAULT_CURRICULUM


def test_unreadable_curriculum_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="cannot read curriculum"):
        load_curriculum(tmp_path / "missing.yaml")
