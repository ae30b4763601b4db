"""Validation of objectives and key results, shared by modals, the CLI and storage.

Each check returns {field: message}; an empty dict means the input is fine. Messages are
written for the person who typed the value.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from bot.okr.kinds import KRKind, UnitKind
from bot.okr.limits import (
    CONFIDENCE_MAX,
    CONFIDENCE_MIN,
    DESCRIPTION_MAX,
    KR_TITLE_MAX,
    OBJECTIVE_TITLE_MAX,
    UNIT_LABEL_MAX,
    VALUE_MAX_ABS,
)

WEIGHT_MAX = 100.0
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str | None, *, single_line: bool = False) -> str:
    """Trimmed, NFC-normalized text without control characters (PostgreSQL refuses NUL).

    Bidirectional marks and emoji are kept: they are real text in many languages.
    """
    text = unicodedata.normalize("NFC", text or "")
    text = _CONTROL.sub("", text.replace("\r\n", "\n"))
    if single_line:
        text = " ".join(text.split())
    return text.strip()


@dataclass(frozen=True)
class KRSpec:
    """A key result as typed, before it is stored."""

    title: str
    kind: KRKind
    target_value: float
    start_value: float | None = None
    unit: UnitKind = UnitKind.NUMBER
    unit_label: str | None = None
    weight: float = 1.0
    due_date: date | None = None
    current_value: float | None = None
    owner_id: str | None = None  # None: the objective's owner

    @property
    def stored_start(self) -> float | None:
        """The start value kept for it: milestones 0, thresholds none, otherwise 0 if not given."""
        if self.kind is KRKind.MILESTONE:
            return 0.0
        if self.kind.is_threshold:
            return None
        return self.start_value if self.start_value is not None else 0.0


def number_problem(value: float | None, *, what: str) -> str | None:
    if value is None:
        return None
    if not math.isfinite(value):
        return f"The {what} must be a real number."
    if abs(value) > VALUE_MAX_ABS:
        return f"The {what} is too large (at most {VALUE_MAX_ABS:,.0f})."
    return None


def title_problem(title: str, *, limit: int, what: str) -> str | None:
    if not title:
        return f"Give the {what} a title."
    if len(title) > limit:
        return f"Keep the {what} title under {limit} characters (it has {len(title)})."
    return None


def weight_problem(weight: float) -> str | None:
    if not math.isfinite(weight) or not 0 < weight <= WEIGHT_MAX:
        return f"The weight must be a number above 0 and at most {WEIGHT_MAX:g}."
    return None


def confidence_problem(confidence: int | None) -> str | None:
    if confidence is not None and not CONFIDENCE_MIN <= confidence <= CONFIDENCE_MAX:
        return f"Confidence goes from {CONFIDENCE_MIN} to {CONFIDENCE_MAX}."
    return None


def objective_problems(*, title: str, description: str = "", weight: float = 1.0) -> dict[str, str]:
    problems = {
        "title": title_problem(title, limit=OBJECTIVE_TITLE_MAX, what="objective"),
        "description": (
            f"Keep the description under {DESCRIPTION_MAX} characters."
            if len(description) > DESCRIPTION_MAX
            else None
        ),
        "weight": weight_problem(weight),
    }
    return {k: v for k, v in problems.items() if v}


def kr_problems(spec: KRSpec) -> dict[str, str]:
    problems: dict[str, str | None] = {
        "title": title_problem(spec.title, limit=KR_TITLE_MAX, what="key result"),
        "target_value": number_problem(spec.target_value, what="target"),
        "start_value": number_problem(spec.start_value, what="start value"),
        "current_value": number_problem(spec.current_value, what="current value"),
        "weight": weight_problem(spec.weight),
        "unit_label": (
            f"Keep the unit under {UNIT_LABEL_MAX} characters."
            if spec.unit_label and len(spec.unit_label) > UNIT_LABEL_MAX
            else None
        ),
    }
    if not any(problems[k] for k in ("target_value", "start_value")):
        if spec.kind is KRKind.DECREASE and spec.start_value is None:
            # Counting up from zero is a fair default; coming down from zero is not.
            problems["start_value"] = "A decrease needs a start value: where is it today?"
        else:
            problems["target_value"] = _direction_problem(spec)
    return {k: v for k, v in problems.items() if v}


def _direction_problem(spec: KRSpec) -> str | None:
    start, target = spec.start_value, spec.target_value
    if spec.kind in (KRKind.INCREASE, KRKind.DECREASE):
        if start is None:
            return None  # an increase with no baseline counts from 0
        if target == start:
            return "The target equals the start value: there is nothing to move."
        if spec.kind is KRKind.INCREASE and target < start:
            return "For an increase the target must be above the start (or pick “Decrease to”)."
        if spec.kind is KRKind.DECREASE and target > start:
            return "For a decrease the target must be below the start (or pick “Increase to”)."
    if spec.kind is KRKind.MILESTONE and target != 1:
        return "A milestone's target is 1 (done)."
    return None
