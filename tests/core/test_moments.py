"""Packed day buckets hold the very same moments as the mapping they pack, in day order."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mastery_engine.core.instants import US_PER_DAY
from mastery_engine.core.moments import MOMENTS, DayBuckets, Moments, weighted

FLOATS = st.floats(-1e6, 1e6, allow_nan=False)
MOMENT_LISTS = st.lists(FLOATS, min_size=MOMENTS, max_size=MOMENTS).map(tuple)
BUCKETS = st.dictionaries(
    st.integers(-100_000, 100_000),
    st.builds(Moments, st.integers(0, 1_000), MOMENT_LISTS, MOMENT_LISTS),
    max_size=20,
)


@given(BUCKETS)
def test_packed_buckets_read_back_every_moment_exactly(days: dict[int, Moments]) -> None:
    packed = DayBuckets.of(days)
    in_order = sorted(days)
    assert packed == days and len(packed) == len(days)
    assert list(packed) == in_order
    assert [day for day, _ in packed.items()] == in_order
    assert list(packed.values()) == [days[day] for day in in_order]
    for day, moments in days.items():
        assert day in packed
        assert packed[day].n == moments.n
        assert [x.hex() for x in (*packed[day].w, *packed[day].s)] == [
            x.hex() for x in (*moments.w, *moments.s)
        ]


@given(BUCKETS, MOMENT_LISTS)
def test_weighted_sums_of_packed_buckets_are_those_of_their_moments(
    days: dict[int, Moments], coefficients: tuple[float, ...]
) -> None:
    packed = list(weighted(DayBuckets.of(days), coefficients))
    assert packed == list(weighted(days, coefficients))
    assert [day for day, *_ in packed] == sorted(d for d, m in days.items() if m.n > 0)


def test_missing_days_answer_as_in_a_dict() -> None:
    packed = DayBuckets.of({3: Moments.of(3 * US_PER_DAY, 0.5)})
    assert 3 in packed and 4 not in packed and "3" not in packed
    assert packed.get(4) is None
    with pytest.raises(KeyError):
        packed[2]
    assert not DayBuckets() and DayBuckets() == {}


def test_a_bucket_needs_every_moment() -> None:
    with pytest.raises(ValueError, match="each bucket has 16 moments"):
        DayBuckets([(1, 1, [0.0] * 3)])


def test_plus_adds_to_existing_days_and_inserts_new_ones_in_order() -> None:
    from mastery_engine.core.moments import DayBuckets, Moments

    day = 20_000
    base = {day: Moments.of(day * 86_400_000_000 + 1, 0.5), day + 3: Moments.of(1, 1.0)}
    more = {day + 3: Moments.of(5, 0.25), day - 2: Moments.of(7, 0.0), day + 9: Moments.of(9, 1)}
    got = DayBuckets.of(base).plus(more)
    want = {d: base.get(d, Moments()) + more.get(d, Moments()) for d in {*base, *more}}
    assert list(got) == sorted(want)
    assert dict(got.items()) == want
    assert dict(DayBuckets.of(base).items()) == base  # the original is untouched
