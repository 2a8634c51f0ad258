"""Which skill a piece of course material belongs to: the longest configured IRI prefix.

A curriculum skill lists `activities`, IRI prefixes of a course, a unit, a namespace of
activities or one exact activity. An IRI belongs to the skill of its longest matching prefix.
A prefix matches only at a boundary: the IRI ends there, or the prefix ends with, or the IRI
continues with, one of `/ ? # : + @ =` (so `.../course-1` does not match `.../course-10`).
"""

from collections.abc import Iterable
from dataclasses import dataclass

BOUNDARIES = frozenset("/?#:+@=")


@dataclass(frozen=True, slots=True)
class ActivityIndex:
    """Prefix -> skill id; `skill_of` costs one dictionary lookup per boundary of the IRI."""

    skills: dict[str, str]

    @classmethod
    def of(cls, prefixes: Iterable[tuple[str, str]]) -> "ActivityIndex":
        """From (prefix, skill id) pairs (each prefix once)."""
        return cls(dict(prefixes))

    def __bool__(self) -> bool:
        return bool(self.skills)

    def skill_of(self, iri: str) -> str | None:
        """The skill of the longest prefix of `iri` that matches at a boundary, if any."""
        matched = self._match(iri) if self.skills else None
        return None if matched is None else matched[1]

    def longest(self, iris: Iterable[str]) -> str | None:
        """The skill of the longest match among several IRIs (ties: the first IRI given)."""
        best: tuple[int, str] | None = None
        for iri in iris:
            matched = self._match(iri)
            if matched is not None and (best is None or len(matched[0]) > best[0]):
                best = (len(matched[0]), matched[1])
        return None if best is None else best[1]

    def _match(self, iri: str) -> tuple[str, str] | None:
        """(prefix, skill) of the longest match; boundaries are tried from the end."""
        if iri in self.skills:
            return iri, self.skills[iri]
        for end in range(len(iri) - 1, 0, -1):
            if iri[end] in BOUNDARIES:
                for prefix in (iri[: end + 1], iri[:end]):
                    if prefix in self.skills:
                        return prefix, self.skills[prefix]
        return None
