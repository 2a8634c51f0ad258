"""The one id rule: what the service refuses, the JSON Schema `pattern` refuses too."""

import jsonschema_rs
import pytest

from mastery_engine.core.events import (
    ID_PATTERN,
    MAX_ID_LENGTH,
    URL_ID_PATTERN,
    id_problem,
)
from mastery_engine.formats.contracts import ID_SCHEMA, URL_ID_SCHEMA

# JSON Schema patterns are ECMA-262, where `$` is the end of the text: a validator of that
# dialect (the one Schemathesis uses) judges them, not Python's `re.search`.
ID = jsonschema_rs.validator_for(ID_SCHEMA)
URL_ID = jsonschema_rs.validator_for(URL_ID_SCHEMA)

GOOD = ["s-42", "7b1e5f0c-quiz-1", "é", "Ada Lovelace", " padded ", "数据", "😀", "x" * 256]
REFUSED = [
    ("", "must be a non-empty string"),
    ("x" * (MAX_ID_LENGTH + 1), "longer than 256 characters"),
    (" ", "not only whitespace"),
    ("\u3000\xa0", "not only whitespace"),
    ("s-1\n", "U+000A at position 3"),  # a final newline: `$` would let it through
    ("\ns-1", "U+000A at position 0"),
    ("s\r1", "U+000D"),
    ("s\t1", "U+0009"),
    ("s\x00", "U+0000"),
    ("s\x7f", "U+007F"),
    ("s\x85", "U+0085"),  # C1
    ("s\x9f", "U+009F"),
    ("s\xad", "U+00AD"),
    ("s\u061c", "U+061C"),
    ("s\u180e", "U+180E"),
    ("s\u200b", "U+200B"),  # zero width space
    ("s\u200f", "U+200F"),  # right-to-left mark
    ("s\u2028", "U+2028"),  # line separator
    ("s\u202e", "U+202E"),  # right-to-left override
    ("s\u2060", "U+2060"),
    ("s\u206f", "U+206F"),
    ("\ufeffs", "U+FEFF"),
    ("s\ufff9", "U+FFF9"),
    ("s\ufffe", "U+FFFE"),
    ("s\uffff", "U+FFFF"),
]


@pytest.mark.parametrize("value", GOOD)
def test_good_ids_pass_the_rule_and_the_pattern(value: str) -> None:
    assert id_problem(value, "id") is None
    assert ID.is_valid(value) and URL_ID.is_valid(value)


@pytest.mark.parametrize(("value", "message"), REFUSED)
def test_refused_ids_say_why_and_break_the_pattern(value: str, message: str) -> None:
    problem = id_problem(value, "id")
    assert problem is not None and message in problem, problem
    assert not ID.is_valid(value) and not URL_ID.is_valid(value)


def test_a_slash_is_refused_only_where_ids_are_in_urls() -> None:
    assert id_problem("a/b", "id", in_url=False) is None and ID.is_valid("a/b")
    assert id_problem("a/b", "student_id") == "student_id must not contain '/' (it is part of URLs)"
    assert not URL_ID.is_valid("a/b")


def test_a_lone_surrogate_is_refused() -> None:
    # No JSON decoder or URL yields one (so no pattern needs to name it), but Python can.
    assert "U+D800 at position 1 is a lone surrogate" in str(id_problem("a\ud800", "id"))


def test_rule_and_pattern_agree_on_every_character() -> None:
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # lone surrogates: above
        char = chr(code)
        problem = id_problem(char, "id")
        assert (problem is None) == URL_ID.is_valid(char), hex(code)
        if problem is not None and "U+" not in problem:  # not barred: whitespace or '/'
            assert char.isspace() or char == "/", hex(code)
        if char.isspace():
            assert problem is not None, hex(code)


def test_the_patterns_are_the_core_rules_fully_anchored() -> None:
    assert ID_SCHEMA["pattern"] == f"^(?:{ID_PATTERN.pattern})$"
    assert URL_ID_SCHEMA["pattern"] == f"^(?:{URL_ID_PATTERN.pattern})$"
    assert ID_SCHEMA["maxLength"] == URL_ID_SCHEMA["maxLength"] == MAX_ID_LENGTH
