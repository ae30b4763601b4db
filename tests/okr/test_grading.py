from __future__ import annotations

import pytest

from bot.okr.grading import (
    Verdict,
    grade_band,
    grade_kr,
    grade_objective,
    grade_verdict,
    unfinished,
)
from bot.okr.kinds import GradeBand, KRKind
from tests.okr.fakes import KR


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (1.0, GradeBand.GREEN),
        (0.7, GradeBand.GREEN),
        (0.69, GradeBand.YELLOW),
        (0.4, GradeBand.YELLOW),
        (0.39, GradeBand.RED),
        (0.0, GradeBand.RED),
    ],
)
def test_grade_bands(score, band) -> None:
    assert grade_band(score) is band


def test_kr_grade_is_clamped_progress() -> None:
    assert grade_kr(KR(KRKind.INCREASE, 0, 1_000_000, 650_000)) == 0.65
    assert grade_kr(KR(KRKind.INCREASE, 0, 10, 30)) == 1.0
    assert grade_kr(KR(KRKind.DECREASE, 300, 100, 400)) == 0.0
    assert grade_kr(KR(KRKind.INCREASE, 0, 10, None)) == 0.0


def test_objective_grade_is_weighted() -> None:
    assert grade_objective([(1.0, 1), (0.4, 2)]) == 0.6
    assert grade_objective([]) is None


@pytest.mark.parametrize(
    ("score", "committed", "verdict"),
    [
        # Committed: 1.0 is the promise; anything less falls short of it.
        (1.0, True, Verdict.MET),
        (0.99, True, Verdict.SHORT),
        (0.7, True, Verdict.SHORT),
        (0.69, True, Verdict.MISSED),
        (0.0, True, Verdict.MISSED),
        # Aspirational: about 0.7 is success, 1.0 means the bar was too low.
        (1.0, False, Verdict.AIM_HIGHER),
        (0.99, False, Verdict.MET),
        (0.7, False, Verdict.MET),
        (0.69, False, Verdict.SHORT),
        (0.4, False, Verdict.SHORT),
        (0.39, False, Verdict.MISSED),
    ],
)
def test_grade_verdict_against_expectation(score, committed, verdict) -> None:
    assert grade_verdict(score, committed=committed) is verdict


def test_the_same_grade_reads_differently_committed_or_aspirational() -> None:
    assert grade_verdict(0.8, committed=False) is Verdict.MET
    assert grade_verdict(0.8, committed=True) is Verdict.SHORT
    assert grade_verdict(1.0, committed=True) is Verdict.MET
    assert grade_verdict(1.0, committed=False) is Verdict.AIM_HIGHER


def test_expected_grade() -> None:
    # What is expected: 1.0 of a committed objective, 0.7 of an aspirational one.
    assert grade_verdict(1.0, committed=True) is Verdict.MET
    assert grade_verdict(0.99, committed=True) is not Verdict.MET
    assert grade_verdict(0.7, committed=False) is Verdict.MET
    assert grade_verdict(0.69, committed=False) is not Verdict.MET


@pytest.mark.parametrize(("score", "left"), [(None, True), (0.0, True), (0.99, True), (1.0, False)])
def test_unfinished_krs_are_below_one(score, left) -> None:
    assert unfinished(score) is left
