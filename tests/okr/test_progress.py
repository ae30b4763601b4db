from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.okr.kinds import KRKind
from bot.okr.progress import progress, raw_progress, weighted_mean
from tests.okr.fakes import KR

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(
    ("kind", "start", "target", "current", "expected"),
    [
        (KRKind.INCREASE, 0, 100, 50, 0.5),
        (KRKind.INCREASE, 20, 120, 70, 0.5),
        (KRKind.INCREASE, 0, 100, 125, 1.25),  # over-achieved: shown as 125%
        (KRKind.INCREASE, 10, 20, 5, -0.5),  # went backwards
        (KRKind.DECREASE, 300, 100, 200, 0.5),
        (KRKind.DECREASE, 8, 5, 5, 1.0),
        (KRKind.DECREASE, 8, 5, 9, -1 / 3),
        (KRKind.AT_LEAST, None, 9, 9, 1.0),
        (KRKind.AT_LEAST, None, 9, 8.9, 0.0),
        (KRKind.AT_MOST, None, 100, 100, 1.0),
        (KRKind.AT_MOST, None, 100, 101, 0.0),
        (KRKind.MILESTONE, 0, 1, 1, 1.0),
        (KRKind.MILESTONE, 0, 1, 0, 0.0),
    ],
)
def test_raw_progress_per_kind(kind, start, target, current, expected) -> None:
    assert raw_progress(KR(kind, start, target, current)) == pytest.approx(expected)


def test_clamped_progress_caps_overachievement_and_regression() -> None:
    assert progress(KR(KRKind.INCREASE, 0, 100, 125)) == 1.0
    assert progress(KR(KRKind.INCREASE, 10, 20, 5)) == 0.0


@pytest.mark.parametrize("kind", [KRKind.INCREASE, KRKind.DECREASE])
def test_zero_range_does_not_divide_by_zero(kind) -> None:
    assert raw_progress(KR(kind, 5, 5, 5)) == 1.0
    below_or_above = 4 if kind is KRKind.INCREASE else 6
    assert raw_progress(KR(kind, 5, 5, below_or_above)) == 0.0


def test_missing_current_is_no_data_but_counts_as_zero() -> None:
    kr = KR(KRKind.INCREASE, 0, 100, None)
    assert raw_progress(kr) is None
    assert progress(kr) == 0.0


def test_missing_start_means_zero_baseline() -> None:
    assert raw_progress(KR(KRKind.INCREASE, None, 1_000_000, 250_000)) == 0.25


def test_non_finite_current_is_treated_as_missing() -> None:
    assert raw_progress(KR(KRKind.INCREASE, 0, 10, math.nan)) is None


def test_kind_may_be_given_as_stored_string() -> None:
    assert raw_progress(KR("decrease", 10, 0, 5)) == 0.5  # type: ignore[arg-type]


def test_weighted_mean() -> None:
    assert weighted_mean([(1.0, 3), (0.0, 1)]) == 0.75
    assert weighted_mean([]) is None
    assert weighted_mean([(0.5, 0)]) is None


@given(start=finite, target=finite, current=finite, kind=st.sampled_from(list(KRKind)))
def test_progress_stays_in_unit_interval(start, target, current, kind) -> None:
    value = progress(KR(kind, start, target, current))
    assert 0.0 <= value <= 1.0


@given(
    start=finite,
    target=finite,
    steps=st.tuples(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5)).map(sorted),
)
def test_moving_toward_target_never_lowers_progress(start, target, steps) -> None:
    kind = KRKind.INCREASE if target >= start else KRKind.DECREASE
    nearer_start, nearer_target = (start + t * (target - start) for t in steps)
    assert progress(KR(kind, start, target, nearer_target)) >= progress(
        KR(kind, start, target, nearer_start)
    )


@given(
    start=st.floats(-1e6, 1e6),
    span=st.floats(1e-3, 1e6),
    current=st.floats(-1e6, 2e6),
)
def test_increase_and_mirrored_decrease_agree(start, span, current) -> None:
    up = raw_progress(KR(KRKind.INCREASE, start, start + span, current))
    down = raw_progress(KR(KRKind.DECREASE, -start, -start - span, -current))
    assert up == pytest.approx(down, rel=1e-9, abs=1e-9)
