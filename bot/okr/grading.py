"""Grading at cycle close: 0.0-1.0 per KR and objective, with colour bands."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from bot.okr.kinds import GradeBand
from bot.okr.progress import Measurable, progress, weighted_mean


def grade_kr(kr: Measurable) -> float:
    """The KR's clamped progress, rounded to the 0.01 people read grades at."""
    return round(progress(kr), 2)


def grade_objective(graded_krs: Iterable[tuple[float, float]]) -> float | None:
    """Weighted mean of (grade, weight) pairs; None for an objective without KRs."""
    mean = weighted_mean(list(graded_krs))
    return None if mean is None else round(mean, 2)


def grade_band(score: float) -> GradeBand:
    if score >= 0.7:
        return GradeBand.GREEN
    if score >= 0.4:
        return GradeBand.YELLOW
    return GradeBand.RED


# -- Judged against the expectation --------------------------------------------------------
# Committed objectives are promises: 1.0 is expected. Aspirational ones are stretch goals:
# about 0.7 is success, and 1.0 says the target was too easy.

COMMITTED_EXPECTED = 1.0
ASPIRATIONAL_EXPECTED = 0.7
SHORT_FLOOR = 0.4  # an aspirational grade from here up is progress, not a miss


class Verdict(StrEnum):
    MET = "met"  # what was expected (1.0 committed, ~0.7 aspirational)
    AIM_HIGHER = "aim_higher"  # 1.0 on an aspirational objective: the target was too easy
    SHORT = "short"  # below what was expected, with real progress
    MISSED = "missed"


def grade_verdict(score: float, *, committed: bool) -> Verdict:
    """How a grade reads against the objective's expectation."""
    if committed:
        if score >= COMMITTED_EXPECTED:
            return Verdict.MET
        return Verdict.SHORT if score >= ASPIRATIONAL_EXPECTED else Verdict.MISSED
    if score >= COMMITTED_EXPECTED:
        return Verdict.AIM_HIGHER
    if score >= ASPIRATIONAL_EXPECTED:
        return Verdict.MET
    return Verdict.SHORT if score >= SHORT_FLOOR else Verdict.MISSED


def unfinished(score: float | None) -> bool:
    """A KR that may be carried into the next cycle: graded below 1.0 (or never graded)."""
    return score is None or score < COMMITTED_EXPECTED
