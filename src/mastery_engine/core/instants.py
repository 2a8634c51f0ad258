"""Instants as integer UTC microseconds since the epoch, and their RFC 3339 parsing.

Integers keep comparisons (`occurred_at <= as_of`) exact; floats appear only in the formula.
"""

import re
from datetime import UTC, date, datetime, timedelta

from mastery_engine.core.errors import InvalidRequest

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The one rule for written dates and times (the service, and the `pattern` of every date and
# date-time in the OpenAPI document and the JSON Schemas; ASCII digits, as JSON Schema reads
# them). A date is YYYY-MM-DD written between 1970-01-01 and 8999-12-31 (that keeps every date
# computation far from datetime's limits); a date-time is RFC 3339 with an offset, on such a
# date. The range is of the date as written: with its offset, an instant can lie up to a day
# outside it in UTC (MIN_US, MAX_US). Always `fullmatch`: `$` would also accept a final
# newline. Calendar validity (no February 30) is checked by parsing, as `format` does.
FIRST_DATE, LAST_DATE = date(1970, 1, 1), date(8999, 12, 31)
_YEAR = "(?:19[7-9][0-9]|[2-8][0-9]{3})"
_DAY = f"{_YEAR}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
DATE_PATTERN = re.compile(_DAY)
DATE_TIME_PATTERN = re.compile(
    rf"{_DAY}[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{{1,9}})?{_OFFSET}"
)
_LATEST_OFFSET = timedelta(hours=23, minutes=59)
MIN_US = -_LATEST_OFFSET // timedelta(microseconds=1)  # 1970-01-01T00:00:00+23:59
MAX_US = (
    (  # 8999-12-31T23:59:59.999999-23:59
        (LAST_DATE - FIRST_DATE).days + 1
    )
    * US_PER_DAY
    - 1
    + _LATEST_OFFSET // timedelta(microseconds=1)
)
# Only to say what is wrong with a time that breaks the rule.
_NAIVE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?")
_ANY_YEAR = re.compile(r"[0-9]{4}(-.*)", re.DOTALL)
_DATE_LIKE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def from_us(us: int) -> datetime:
    """The aware UTC datetime of an instant."""
    return EPOCH + timedelta(microseconds=us)


def day_of(us: int) -> int:
    """The UTC day number (days since 1970-01-01) that contains an instant."""
    return us // US_PER_DAY


def day_to_date(day: int) -> date:
    """The calendar date of a UTC day number."""
    return date(1970, 1, 1) + timedelta(days=day)


def date_to_day(value: date) -> int:
    """The UTC day number of a calendar date."""
    return (value - date(1970, 1, 1)).days


def end_of_day(day: int) -> int:
    """The last microsecond of a UTC day."""
    return (day + 1) * US_PER_DAY - 1


def format_us(us: int) -> str:
    """RFC 3339 text of an instant, in UTC with a `Z`."""
    text = from_us(us).isoformat().replace("+00:00", "Z")
    return text


def _year_out_of_range(text: str, pattern: re.Pattern[str]) -> bool:
    """Whether `text` would follow `pattern` but for its year."""
    matched = _ANY_YEAR.fullmatch(text)
    return matched is not None and pattern.fullmatch(f"2000{matched.group(1)}") is not None


def _time_problem(text: str, field: str) -> str | None:
    """What is wrong with a text that breaks DATE_TIME_PATTERN, when it can be said precisely."""
    if _year_out_of_range(text, DATE_TIME_PATTERN):
        return f"{field} must lie between {FIRST_DATE} and {LAST_DATE} (as written), got {text!r}"
    if DATE_TIME_PATTERN.fullmatch(text.replace(" ", "T", 1)):
        return f"{field} must separate the date and the time with 'T' (RFC 3339), got {text!r}"
    if _NAIVE.fullmatch(text):
        return f"{field} has no UTC offset ({text!r}); use RFC 3339 with 'Z' or '+hh:mm'"
    return None


def parse_rfc3339(text: str, field: str) -> int:
    """Parse an RFC 3339 date-time with an offset (DATE_TIME_PATTERN); others are refused."""
    if not DATE_TIME_PATTERN.fullmatch(text):
        problem = _time_problem(text, field) or (
            f"{field} must be an RFC 3339 date-time with an offset such as"
            f" 2026-03-01T10:15:00Z, got {text!r}"
        )
        raise InvalidRequest(problem, field=field)
    # Python keeps microseconds; extra fraction digits are truncated, not rounded.
    head, sep, tail = text.partition(".")
    if sep:
        digits = re.match(r"[0-9]+", tail)
        assert digits is not None
        frac = digits.group(0)
        text = f"{head}.{frac[:6].ljust(6, '0')}{tail[len(frac) :]}"
    try:
        return to_us(datetime.fromisoformat(text.replace("z", "Z")))
    except ValueError as exc:
        raise InvalidRequest(f"{field} is not a valid date-time: {exc}", field=field) from None


def parse_date(text: str, field: str) -> int:
    """Parse a YYYY-MM-DD date (DATE_PATTERN) into its UTC day number."""
    if not DATE_PATTERN.fullmatch(text):
        if _year_out_of_range(text, DATE_PATTERN):
            raise InvalidRequest(
                f"{field} must lie between {FIRST_DATE} and {LAST_DATE}, got {text!r}", field=field
            )
        if _DATE_LIKE.fullmatch(text):
            raise InvalidRequest(
                f"{field} is not a valid date (month 01-12, day 01-31), got {text!r}", field=field
            )
        raise InvalidRequest(f"{field} must be a date YYYY-MM-DD, got {text!r}", field=field)
    try:
        return date_to_day(date.fromisoformat(text))
    except ValueError as exc:
        raise InvalidRequest(f"{field} is not a valid date: {exc}", field=field) from None


def parse_as_of(text: str, field: str = "as_of") -> int:
    """A date means the end of that UTC day; otherwise an RFC 3339 date-time."""
    if _DATE_LIKE.fullmatch(text):
        return end_of_day(parse_date(text, field))
    if DATE_TIME_PATTERN.fullmatch(text):
        return parse_rfc3339(text, field)
    problem = _time_problem(text, field) or (
        f"{field} must be a date (2026-03-01) or an RFC 3339 date-time with an offset"
        f" (2026-03-01T10:15:00Z), got {text!r}"
    )
    raise InvalidRequest(problem, field=field)
