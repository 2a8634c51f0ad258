"""Dates and date-times: what the service accepts is what the JSON Schemas accept."""

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mastery_engine.api.schemas.common import AS_OF_SCHEMA
from mastery_engine.core.errors import InvalidRequest
from mastery_engine.core.instants import (
    DATE_PATTERN,
    DATE_TIME_PATTERN,
    MAX_US,
    MIN_US,
    format_us,
    parse_as_of,
    parse_date,
    parse_rfc3339,
)
from mastery_engine.formats.contracts import DATE_SCHEMA, DATE_TIME_SCHEMA

# ECMA-262 patterns and asserted formats, as Schemathesis judges them.
AS_OF = jsonschema_rs.validator_for(AS_OF_SCHEMA, validate_formats=True)
DATE = jsonschema_rs.validator_for(DATE_SCHEMA, validate_formats=True)
DATE_TIME = jsonschema_rs.validator_for(DATE_TIME_SCHEMA, validate_formats=True)

DATES = ["2026-03-01", "1970-01-01", "8999-12-31", "2024-02-29", "2000-02-29"]
DATE_TIMES = [
    "2026-03-01T10:15:00Z",
    "2026-03-01t10:15:00.123456789z",
    "2026-03-01T10:15:00-00:00",
    "1970-01-01T00:00:00+23:59",
    "8999-12-31T23:59:59.999999-23:59",
]
NEITHER = [
    ("", "must be a date (2026-03-01) or an RFC 3339 date-time"),
    ("2026-03-01\n", "or an RFC 3339 date-time"),  # `$` would let a final newline through
    ("2026-03-01T10:15:00Z\n", "or an RFC 3339 date-time"),
    ("1969-12-31", "must lie between 1970-01-01 and 8999-12-31"),
    ("9000-01-01", "must lie between"),
    ("0001-01-01T00:00:00+01:00", "must lie between 1970-01-01 and 8999-12-31 (as written)"),
    ("2026-02-29", "not a valid date"),
    ("1900-02-29", "must lie between"),
    ("2026-13-01", "not a valid date"),
    ("2026-03-01 10:15:00Z", "separate the date and the time with 'T'"),
    ("2026-03-01T10:15:00", "no UTC offset"),
    ("2026-03-01T23:59:60Z", "RFC 3339"),  # leap seconds: Python has none
    ("2026-03-01T24:00:00Z", "RFC 3339"),
    ("2026-03-01T10:15:00+24:00", "RFC 3339"),
    ("2026-03-01T10:15:00.1234567891Z", "RFC 3339"),
    ("٢٠٢٦-03-01", "RFC 3339"),  # digits, but not ASCII ones
]


@pytest.mark.parametrize("text", DATES)
def test_dates(text: str) -> None:
    assert parse_as_of(text) == parse_date(text, "as_of") * 86_400_000_000 + 86_399_999_999
    assert AS_OF.is_valid(text) and DATE.is_valid(text) and not DATE_TIME.is_valid(text)


@pytest.mark.parametrize("text", DATE_TIMES)
def test_date_times(text: str) -> None:
    assert MIN_US <= parse_as_of(text) == parse_rfc3339(text, "at") <= MAX_US
    assert AS_OF.is_valid(text) and DATE_TIME.is_valid(text) and not DATE.is_valid(text)


@pytest.mark.parametrize(("text", "message"), NEITHER)
def test_neither_say_why(text: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_as_of(text)
    assert message in refused.value.message
    assert not AS_OF.is_valid(text)


def test_the_range_is_of_the_date_as_written() -> None:
    assert format_us(MIN_US) == "1969-12-31T00:01:00Z"
    assert format_us(MAX_US) == "9000-01-01T23:58:59.999999Z"


@settings(max_examples=300, deadline=None)
@given(text=st.from_regex(DATE_TIME_PATTERN, fullmatch=True))
def test_a_calendar_check_agrees_with_the_format(text: str) -> None:
    try:
        parse_rfc3339(text, "at")
    except InvalidRequest:
        assert not DATE_TIME.is_valid(text), text
    else:
        assert DATE_TIME.is_valid(text), text


@settings(max_examples=300, deadline=None)
@given(text=st.from_regex(DATE_PATTERN, fullmatch=True))
def test_a_calendar_check_agrees_with_the_date_format(text: str) -> None:
    try:
        parse_date(text, "on")
    except InvalidRequest:
        assert not DATE.is_valid(text), text
    else:
        assert DATE.is_valid(text), text
