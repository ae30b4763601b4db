"""The KR coach: deterministic hints on an objective and its key results, as they are written.

Rules (the OKR conventions Ally, open-okr and the hosted tools share):
- a KR with no number that is not a milestone is not measurable yet;
- a KR worded as an output ("launch", "ship", "build", "write" … and no number) names work, not
  the outcome it should move;
- an increase or decrease needs a baseline (its start value);
- a due date outside the cycle is flagged, with the cycle's end offered;
- an objective is qualitative: a number or metric in its title belongs in a KR;
- two KRs measuring the same thing the same way, and more than five KRs, dilute focus.

Hints never block a save, except a missing baseline, which the form cannot save without
(`Hint.blocking`). Pure: no Slack, no database; `today` is a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from bot.okr.kinds import KRKind, UnitKind
from bot.okr.parse import parse_key_result

MAX_FOCUSED_KRS = 5

# Verbs that name work delivered rather than a result measured.
OUTPUT_VERBS = frozenset(
    (
        *("launch", "ship", "build", "write", "release", "publish", "create", "implement"),
        *("deliver", "develop", "design", "complete", "finish", "migrate", "roll"),
    )
)
# Numbers in an objective title that name a period, not a target: Q3, H1, FY26, 2026.
_PERIOD_RE = re.compile(r"\b(?:q[1-4]|h[12]|fy\s?\d{2,4}|(?:19|20)\d{2})\b", re.I)
# What makes a title quantitative: a digit, a percent or a currency amount.
_QUANTITY_RE = re.compile(r"\d|%|[$€£¥]")
_FIRST_WORD_RE = re.compile(r"[a-z]+", re.I)
_DIGIT_RE = re.compile(r"\d")


class HintCode(StrEnum):
    NOT_MEASURABLE = "not_measurable"
    OUTPUT = "output"
    NO_BASELINE = "no_baseline"
    DUE_AFTER_CYCLE = "due_after_cycle"
    DUE_BEFORE_CYCLE = "due_before_cycle"
    QUANTITATIVE_OBJECTIVE = "quantitative_objective"
    SAME_MEASURE = "same_measure"
    TOO_MANY_KRS = "too_many_krs"


@dataclass(frozen=True)
class KRFacts:
    """What the coach needs about one key result, as typed or as saved."""

    sentence: str
    kind: KRKind | None  # None: nothing could be read from the sentence yet
    unit: UnitKind | None = None
    unit_label: str | None = None
    metric: str | None = None
    start: float | None = None
    target: float | None = None
    due: date | None = None


@dataclass(frozen=True)
class Hint:
    code: HintCode
    message: str  # plain text; the Slack layer escapes it
    kr: int | None = None  # the KR's position in the objective; None: about the objective
    blocking: bool = False  # the objective cannot be saved as it is
    suggested_due: date | None = None  # for a due date outside the cycle: the cycle's end


def facts_from_sentence(sentence: str, *, today: date) -> KRFacts:
    """A KR as the parser reads it (what the form proposes before the person edits it)."""
    proposal = parse_key_result(sentence, today=today)
    if proposal is None:
        return KRFacts(sentence=sentence, kind=None)
    return KRFacts(
        sentence=sentence,
        kind=proposal.kind,
        unit=proposal.unit,
        unit_label=proposal.unit_label,
        metric=proposal.metric,
        start=proposal.start,
        target=proposal.target,
        due=proposal.due,
    )


def coach_key_result(
    kr: KRFacts,
    *,
    index: int = 0,
    cycle_start: date | None = None,
    cycle_end: date | None = None,
) -> list[Hint]:
    """The hints on one key result (shown under it in the form)."""
    hints: list[Hint] = []
    verb = _first_word(kr.sentence)
    # No number at all. (A number the parser could not place, "Launch in 12 countries", is
    # measurable: the form asks for the fields, the coach raises no alarm.)
    unmeasured = kr.kind is None and not _DIGIT_RE.search(kr.sentence)
    if verb in OUTPUT_VERBS and (unmeasured or kr.kind is KRKind.MILESTONE):
        message = (
            f"“{verb.capitalize()} …” names work to do. What should it change, and by how "
            "much? Measure that, or keep it as a milestone if it is the result itself."
        )
        hints.append(Hint(HintCode.OUTPUT, message, kr=index))
    elif unmeasured:
        message = "Not measurable yet: what number would tell you it worked?"
        hints.append(Hint(HintCode.NOT_MEASURABLE, message, kr=index))
    if kr.kind in (KRKind.INCREASE, KRKind.DECREASE) and kr.start is None:
        direction = "An increase" if kr.kind is KRKind.INCREASE else "A decrease"
        message = f"Where does it start? {direction} needs a start value to measure progress from."
        hints.append(Hint(HintCode.NO_BASELINE, message, kr=index, blocking=True))
    if kr.due is not None and cycle_end is not None and kr.due > cycle_end:
        message = f"Due {kr.due:%b %-d, %Y}, after the cycle ends ({cycle_end:%b %-d, %Y})."
        hints.append(Hint(HintCode.DUE_AFTER_CYCLE, message, kr=index, suggested_due=cycle_end))
    elif kr.due is not None and cycle_start is not None and kr.due < cycle_start:
        message = f"Due {kr.due:%b %-d, %Y}, before the cycle starts ({cycle_start:%b %-d, %Y})."
        hints.append(Hint(HintCode.DUE_BEFORE_CYCLE, message, kr=index, suggested_due=cycle_end))
    return hints


def coach_objective(
    *,
    title: str,
    key_results: Sequence[KRFacts],
    cycle_start: date | None = None,
    cycle_end: date | None = None,
) -> list[Hint]:
    """Every hint on an objective and its key results: the objective's first, then per KR."""
    hints: list[Hint] = []
    if _QUANTITY_RE.search(_PERIOD_RE.sub("", title)):
        message = (
            "Objectives are qualitative: move the number into a key result, and say here "
            "what it achieves."
        )
        hints.append(Hint(HintCode.QUANTITATIVE_OBJECTIVE, message))
    if len(key_results) > MAX_FOCUSED_KRS:
        message = (
            f"{len(key_results)} key results: more than {MAX_FOCUSED_KRS} spreads the "
            "effort thin. Keep the ones that matter most."
        )
        hints.append(Hint(HintCode.TOO_MANY_KRS, message))
    seen: dict[tuple[str, str, str], int] = {}
    for i, kr in enumerate(key_results):
        hints.extend(coach_key_result(kr, index=i, cycle_start=cycle_start, cycle_end=cycle_end))
        measure = _measure(kr)
        if measure is None:
            continue
        if measure in seen:
            message = (
                f"Measures the same as key result {seen[measure] + 1}: merge them, or "
                "measure a different outcome."
            )
            hints.append(Hint(HintCode.SAME_MEASURE, message, kr=i))
        else:
            seen[measure] = i
    return hints


def _first_word(sentence: str) -> str:
    match = _FIRST_WORD_RE.search(sentence)
    return match.group(0).lower() if match else ""


def _measure(kr: KRFacts) -> tuple[str, str, str] | None:
    """What a KR measures and which way, when it says enough to compare: kind, unit, metric."""
    if kr.kind is None or kr.kind is KRKind.MILESTONE:
        return None
    what = " ".join((kr.metric or kr.unit_label or "").lower().split())
    if not what:
        return None
    return (kr.kind.value, (kr.unit or UnitKind.NUMBER).value, what)
