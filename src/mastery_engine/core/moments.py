"""Power moments of score observations: one bucket (`Moments`), or a skill's buckets packed
by day (`DayBuckets`).

Scores (quiz, quality) are kept per student x skill x UTC day as power moments of the
observation time: with x the offset from that day's noon in days (|x| <= 0.5),

    w_k = sum(x**k)          s_k = sum(score * x**k)        k = 0 .. MOMENTS - 1

A recency weight 2 ** (x / H) = exp(a x), a = ln 2 / H, is then sum(a**k / k! * w_k) for any
half-life H >= 1 day (truncation error below 1e-8 relative), so the half-life can change
without recomputing anything, and the buckets stay plain sums that commute.
"""

from array import array
from bisect import bisect_left
from collections.abc import ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass
from operator import add, itemgetter, mul
from struct import Struct

from mastery_engine.core.instants import US_PER_DAY

MOMENTS = 8
ZEROS = (0.0,) * MOMENTS
SUMS = 2 * MOMENTS  # w_0 .. w_7, then s_0 .. s_7
_HALF = Struct(f"{MOMENTS}d")  # w or s of one bucket in a packed array of doubles


def day_offset(us: int) -> float:
    """Offset of an instant from the noon of its UTC day, in days, in [-0.5, 0.5)."""
    return (us % US_PER_DAY) / US_PER_DAY - 0.5


@dataclass(frozen=True, slots=True)
class Moments:
    """Count and power moments of the score observations of one bucket."""

    n: int = 0
    w: tuple[float, ...] = ZEROS
    s: tuple[float, ...] = ZEROS

    @classmethod
    def of(cls, occurred_at: int, score: float) -> "Moments":
        """The moments of a single observation."""
        x = day_offset(occurred_at)
        powers = tuple(x**k for k in range(MOMENTS))
        return cls(1, powers, tuple(score * p for p in powers))

    def __add__(self, other: "Moments") -> "Moments":
        return Moments(
            self.n + other.n,
            tuple(a + b for a, b in zip(self.w, other.w, strict=True)),
            tuple(a + b for a, b in zip(self.s, other.s, strict=True)),
        )

    def __sub__(self, other: "Moments") -> "Moments":
        return Moments(
            self.n - other.n,
            tuple(a - b for a, b in zip(self.w, other.w, strict=True)),
            tuple(a - b for a, b in zip(self.s, other.s, strict=True)),
        )


# (day, n, the SUMS moments w_0 .. w_7 then s_0 .. s_7) of one bucket
Bucket = tuple[int, int, Sequence[float]]


class DayBuckets(Mapping[int, Moments]):
    """The score buckets of one skill and component by UTC day, packed into arrays.

    Buckets are most of a cached snapshot's memory: packed, one takes 144 bytes, where a dict
    entry holding a `Moments` (two tuples of float objects) takes about 700. Each access
    builds the `Moments` again, with the very same floats; days iterate in ascending order.
    """

    __slots__ = ("_counts", "_days", "_sums")

    def __init__(self, buckets: Iterable[Bucket] = ()) -> None:
        self._days, self._counts, self._sums = array("q"), array("q"), array("d")
        for day, n, sums in sorted(buckets, key=itemgetter(0)):
            self._days.append(day)
            self._counts.append(n)
            self._sums.extend(sums)
        if len(self._sums) != SUMS * len(self._days):
            raise ValueError(f"each bucket has {SUMS} moments; got {len(self._sums)} in all")

    @classmethod
    def of(cls, buckets: Mapping[int, Moments]) -> "DayBuckets":
        """The packed form of a mapping of day -> moments."""
        return cls((day, m.n, (*m.w, *m.s)) for day, m in buckets.items())

    def _at(self, i: int) -> Moments:
        start = 2 * i * _HALF.size
        w = _HALF.unpack_from(self._sums, start)
        return Moments(self._counts[i], w, _HALF.unpack_from(self._sums, start + _HALF.size))

    def _index(self, day: object) -> int:
        """Position of `day`, or -1."""
        if not isinstance(day, int):
            return -1
        i = bisect_left(self._days, day)
        return i if i < len(self._days) and self._days[i] == day else -1

    def __getitem__(self, day: int) -> Moments:
        i = self._index(day)
        if i < 0:
            raise KeyError(day)
        return self._at(i)

    def __contains__(self, day: object) -> bool:
        return self._index(day) >= 0

    def __iter__(self) -> Iterator[int]:
        return iter(self._days)

    def __len__(self) -> int:
        return len(self._days)

    def __repr__(self) -> str:
        return f"DayBuckets({dict(self.items())!r})"

    def items(self) -> ItemsView[int, Moments]:
        """(day, moments) in ascending day order."""
        return _Items(self)

    def values(self) -> ValuesView[Moments]:
        """The moments in ascending day order."""
        return _Values(self)

    def plus(self, more: Mapping[int, Moments]) -> "DayBuckets":
        """A copy with more observations added to their days' buckets (new days inserted)."""
        merged = DayBuckets()
        merged._days, merged._counts, merged._sums = (
            array("q", self._days),
            array("q", self._counts),
            array("d", self._sums),
        )
        for day, moments in sorted(more.items(), key=itemgetter(0)):
            i = bisect_left(merged._days, day)
            added = (*moments.w, *moments.s)
            if i < len(merged._days) and merged._days[i] == day:
                at = i * SUMS
                old = merged._sums[at : at + SUMS]
                merged._sums[at : at + SUMS] = array("d", map(add, old, added))
                merged._counts[i] += moments.n
            else:
                merged._days.insert(i, day)
                merged._counts.insert(i, moments.n)
                merged._sums[i * SUMS : i * SUMS] = array("d", added)
        return merged

    def pairs(self) -> Iterator[tuple[int, Moments]]:
        """(day, moments) by position: no search per day."""
        sums, counts, unpack, size = self._sums, self._counts, _HALF.unpack_from, _HALF.size
        for i, day in enumerate(self._days):
            start = 2 * i * size
            yield day, Moments(counts[i], unpack(sums, start), unpack(sums, start + size))

    def weighted(self, coefficients: Sequence[float]) -> Iterator[tuple[int, int, float, float]]:
        """See `weighted`."""
        sums = self._sums
        for i, (day, n) in enumerate(zip(self._days, self._counts, strict=True)):
            if n > 0:
                at = i * SUMS
                w = sum(map(mul, coefficients, sums[at : at + MOMENTS]))
                yield day, n, w, sum(map(mul, coefficients, sums[at + MOMENTS : at + SUMS]))


class _Items(ItemsView[int, Moments]):
    __slots__ = ("_buckets",)

    def __init__(self, buckets: DayBuckets) -> None:
        super().__init__(buckets)
        self._buckets = buckets

    def __iter__(self) -> Iterator[tuple[int, Moments]]:
        return self._buckets.pairs()


class _Values(ValuesView[Moments]):
    __slots__ = ("_buckets",)

    def __init__(self, buckets: DayBuckets) -> None:
        super().__init__(buckets)
        self._buckets = buckets

    def __iter__(self) -> Iterator[Moments]:
        return (moments for _, moments in self._buckets.pairs())


def weighted(
    buckets: Mapping[int, Moments], coefficients: Sequence[float]
) -> Iterator[tuple[int, int, float, float]]:
    """(day, n, sum of c_k w_k, sum of c_k s_k) of each bucket holding observations, by day.

    Packed buckets are summed in place, without building a `Moments` per day.
    """
    if isinstance(buckets, DayBuckets):
        return buckets.weighted(coefficients)
    return (
        (day, m.n, sum(map(mul, coefficients, m.w)), sum(map(mul, coefficients, m.s)))
        for day, m in sorted(buckets.items(), key=itemgetter(0))
        if m.n > 0
    )
