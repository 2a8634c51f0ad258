"""What xAPI and Caliper mappings share: the skill rule, ISO 8601 durations, ids, instants."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mastery_engine.core.errors import InvalidConfig, InvalidEvent, InvalidRequest
from mastery_engine.core.instants import format_us, parse_rfc3339

PLACEHOLDER = "{skill_id}"
_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "json-or-python"})
_CLASS_NAME = re.compile(r" or instance of \w+")
_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+(?:[.,]\d+)?)W)?(?:(?P<days>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?"
)
_BASIC_OFFSET = re.compile(r"(T[\d:.,]+[+-]\d\d)(\d\d)$")
_SECONDS = {"weeks": 604_800, "days": 86_400, "hours": 3600, "minutes": 60, "seconds": 1}


def _glob(text: str) -> str:
    return "".join(".*" if char == "*" else re.escape(char) for char in text)


@dataclass(frozen=True, slots=True)
class SkillRule:
    """How an activity names its skill: an extension's value, else the shape of its id."""

    extension: str | None = None
    pattern: str = "*/skills/{skill_id}"
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pattern.count(PLACEHOLDER) != 1:
            raise InvalidConfig(
                f"activity skill pattern {self.pattern!r} must contain {PLACEHOLDER} exactly once",
                field="MASTERY_ACTIVITY_SKILL_PATTERN",
            )
        head, tail = self.pattern.split(PLACEHOLDER)
        # The skill is one path segment; whatever follows the pattern (a path, a query) is allowed.
        regex = f"{_glob(head)}(?P<skill>[^/?#]+){_glob(tail)}(?:[/?#].*)?"
        object.__setattr__(self, "_regex", re.compile(regex, re.DOTALL))

    def from_extensions(self, *extensions: object) -> str | None:
        """The skill named by the first extension map that has the configured key."""
        if self.extension:
            for found in extensions:
                value = found.get(self.extension) if isinstance(found, Mapping) else None
                if isinstance(value, str) and value:
                    return value
        return None

    def from_pattern(self, activity_id: str) -> str | None:
        """The skill the shape of an activity id names, if it has that shape."""
        matched = self._regex.fullmatch(activity_id)
        return matched.group("skill") if matched else None

    def how(self) -> str:
        """The other ways to name a skill."""
        how = f"an id shaped like {self.pattern!r} (MASTERY_ACTIVITY_SKILL_PATTERN)"
        return f"the extension {self.extension!r} or {how}" if self.extension else how


def duration_seconds(value: str, where: str) -> float:
    """An ISO 8601 duration (PnWnDTnHnMnS) in seconds."""
    matched = _DURATION.fullmatch(value)
    if matched is None or value in ("P", "PT") or value.endswith("T"):
        raise InvalidEvent(
            f"{where} {value!r} is not an ISO 8601 duration such as PT12M30S", field=where
        )
    return sum(
        float(amount.replace(",", ".")) * _SECONDS[unit]
        for unit, amount in matched.groupdict().items()
        if amount is not None
    )


def last_segment(iri: str) -> str:
    """The last path segment of an IRI (`https://x.edu/users/554433` -> `554433`)."""
    trimmed = iri.rstrip("/")
    cut = max(trimmed.rfind("/"), trimmed.rfind(":") if "/" not in trimmed else -1)
    return trimmed[cut + 1 :]


def instant(value: str, where: str) -> str:
    """An RFC 3339 time with an offset, normalised to UTC; a time without one is refused.

    ISO 8601's basic offset (`+0000`, `-0530`), which some emitters write, is read as the
    extended one (`+00:00`): the instant it names is the same.
    """
    try:
        return format_us(parse_rfc3339(_BASIC_OFFSET.sub(r"\1:\2", value), where))
    except InvalidRequest as exc:
        raise InvalidEvent(exc.message, field=where) from None


def _is_field(part: object) -> bool:
    """False for the union-member tags pydantic puts in a location (`Entity`, `str`, ...)."""
    text = str(part)
    return not (text[:1].isupper() or text in _TYPE_TAGS or text.startswith("function-"))


def first_error(errors: list[Any], prefix: str = "") -> InvalidEvent:
    """A pydantic validation error as one `InvalidEvent` naming the first field at fault."""
    first = errors[0]
    path = ".".join(str(part) for part in first.get("loc", ()) if _is_field(part))
    where = f"{prefix}{path}" if path else prefix.rstrip(".") or None
    message = _CLASS_NAME.sub("", str(first.get("msg", "invalid")))
    return InvalidEvent(f"{where}: {message}" if where else message, field=where)
