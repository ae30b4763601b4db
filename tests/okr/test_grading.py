from __future__ import annotations

import pytest

from bot.okr.grading import grade_band, grade_kr, grade_objective
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
