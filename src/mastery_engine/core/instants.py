"""Instants as integer UTC microseconds since the epoch, and their RFC 3339 parsing.

Integers keep comparisons (`occurred_at <= as_of`) exact; floats appear only in the formula.
"""

import re
from datetime import UTC, date, datetime, timedelta

from mastery_engine.core.errors import InvalidRequest

US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Instants the service reasons about; keeps every date computation far from datetime's limits.
MIN_US = 0
MAX_US = (date(9000, 1, 1) - date(1970, 1, 1)).days * US_PER_DAY - 1

_DATE = r"\d{4}-\d{2}-\d{2}"
# Matched with `fullmatch` only: `$` would also accept a final newline.
_RFC3339 = re.compile(
    rf"{_DATE}[Tt ]\d{{2}}:\d{{2}}:\d{{2}}(\.\d{{1,9}})?([Zz]|[+-]\d{{2}}:\d{{2}})"
)
_NAIVE = re.compile(rf"{_DATE}[Tt ]\d{{2}}:\d{{2}}(:\d{{2}}(\.\d+)?)?")
_DATE_ONLY = re.compile(_DATE)


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


def parse_rfc3339(text: str, field: str) -> int:
    """Parse an RFC 3339 date-time with an offset; naive or malformed times are refused."""
    if _NAIVE.fullmatch(text):
        raise InvalidRequest(
            f"{field} has no UTC offset ({text!r}); use RFC 3339 with 'Z' or '+hh:mm'",
            field=field,
        )
    if not _RFC3339.fullmatch(text):
        raise InvalidRequest(
            f"{field} must be an RFC 3339 date-time such as 2026-03-01T10:15:00Z, got {text!r}",
            field=field,
        )
    # Python keeps microseconds; extra fraction digits are truncated, not rounded.
    head, sep, tail = text.partition(".")
    if sep:
        digits = re.match(r"\d+", tail)
        assert digits is not None
        frac = digits.group(0)
        text = f"{head}.{frac[:6].ljust(6, '0')}{tail[len(frac) :]}"
    try:
        us = to_us(datetime.fromisoformat(text.replace("z", "Z")))
    except (ValueError, OverflowError) as exc:
        raise InvalidRequest(f"{field} is not a valid date-time: {exc}", field=field) from exc
    return _bounded(us, text, field)


def _bounded(us: int, text: str, field: str) -> int:
    if not MIN_US <= us <= MAX_US:
        raise InvalidRequest(
            f"{field} must lie between {format_us(MIN_US)} and {format_us(MAX_US)}, got {text!r}",
            field=field,
        )
    return us


def parse_date(text: str, field: str) -> int:
    """Parse a YYYY-MM-DD date into its UTC day number."""
    if not _DATE_ONLY.fullmatch(text):
        raise InvalidRequest(f"{field} must be a date YYYY-MM-DD, got {text!r}", field=field)
    try:
        day = date_to_day(date.fromisoformat(text))
    except ValueError as exc:
        raise InvalidRequest(f"{field} is not a valid date: {exc}", field=field) from exc
    _bounded(day * US_PER_DAY, text, field)
    return day


def parse_as_of(text: str, field: str = "as_of") -> int:
    """A date means the end of that UTC day; otherwise an RFC 3339 date-time."""
    if _DATE_ONLY.fullmatch(text):
        return end_of_day(parse_date(text, field))
    return parse_rfc3339(text, field)
