"""Progress of one key result.

Conventions (see README, "How Ladder computes progress"):
- increase: (current - start) / (target - start)
- decrease: (start - current) / (start - target)
- at_least / at_most: 1 when the threshold holds right now, else 0
- milestone: 1 when done (current >= 1), else 0
The raw value is unclamped (125% is shown as such); roll-up and grading use the value clamped
to 0..1 so one over-achieved KR cannot hide another that is behind.
"""

from __future__ import annotations

import math
from typing import Protocol

from bot.okr.kinds import KRKind


class Measurable(Protocol):
    """What the math needs of a key result; storage rows satisfy it as they are."""

    @property
    def kind(self) -> KRKind | str: ...
    @property
    def start_value(self) -> float | None: ...
    @property
    def target_value(self) -> float | None: ...
    @property
    def current_value(self) -> float | None: ...


def raw_progress(kr: Measurable) -> float | None:
    """Unclamped progress, or None when there is nothing to measure yet."""
    kind = KRKind(kr.kind)
    current = kr.current_value
    if current is None or not math.isfinite(current):
        return None
    if kind is KRKind.MILESTONE:
        return 1.0 if current >= 1 else 0.0
    target = kr.target_value
    if target is None:
        return None
    if kind is KRKind.AT_LEAST:
        return 1.0 if current >= target else 0.0
    if kind is KRKind.AT_MOST:
        return 1.0 if current <= target else 0.0
    start = kr.start_value if kr.start_value is not None else 0.0
    span = target - start if kind is KRKind.INCREASE else start - target
    moved = current - start if kind is KRKind.INCREASE else start - current
    if span <= 0:
        # Zero (or inverted) range: the KR is reached once current is at or past the target.
        reached = current >= target if kind is KRKind.INCREASE else current <= target
        return 1.0 if reached else 0.0
    return moved / span


def clamp01(value: float) -> float:
    return 0.0 if value < 0 else 1.0 if value > 1 else value


def progress(kr: Measurable) -> float:
    """Progress clamped to 0..1 for roll-up; a KR with no value yet counts as 0."""
    raw = raw_progress(kr)
    return 0.0 if raw is None else clamp01(raw)


def weighted_mean(items: list[tuple[float, float]]) -> float | None:
    """Mean of (value, weight) pairs; None when nothing carries weight."""
    total = sum(w for _, w in items if w > 0)
    if total <= 0:
        return None
    mean = sum(v * w for v, w in items if w > 0) / total
    # Guard against float drift pushing a mean of 0..1 values just outside the range.
    lo = min(v for v, w in items if w > 0)
    hi = max(v for v, w in items if w > 0)
    return min(max(mean, lo), hi)
