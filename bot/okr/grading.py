"""Grading at cycle close: 0.0-1.0 per KR and objective, with colour bands."""

from __future__ import annotations

from collections.abc import Iterable

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
