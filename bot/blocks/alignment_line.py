"""One line of alignment health, for `/okr status`, Home, the digest and `/okr health`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from bot.blocks.text import context, escape
from bot.okr.alignment import Gap
from bot.okr.kinds import Level
from bot.services.alignment import GAP_ORDER

GAP_NAMES = {  # for the summary line: (one, many)
    Gap.ORPHAN: ("orphan", "orphans"),
    Gap.NO_WHY: ("company objective without a why", "company objectives without a why"),
    Gap.NO_KRS: ("objective without key results", "objectives without key results"),
    Gap.TOO_MANY_KRS: ("objective with more than 5 KRs", "objectives with more than 5 KRs"),
    Gap.STALE: ("stale KR", "stale KRs"),
    Gap.CONTRADICTION: ("confident but behind", "confident but behind"),
}


class Counted(Protocol):
    """A full report (bot/services/alignment.AlignmentReport) or the SQL counts
    (storage/alignment.AlignmentCounts)."""

    @property
    def objectives(self) -> int: ...
    @property
    def laddered(self) -> int: ...
    @property
    def counts(self) -> Mapping[Gap, int]: ...


def summary_line(report: Counted) -> str:
    """The share that ladders up, then the gaps (plain text, not escaped)."""
    if not report.objectives:
        return "No objectives in the open cycles yet."
    share = report.laddered / report.objectives
    line = (
        f"🪜 {report.laddered} of {report.objectives} objectives ({round(share * 100)}%) "
        "ladder up to a company objective"
    )
    gaps = [
        f"{n} {GAP_NAMES[gap][0 if n == 1 else 1]}"
        + (_orphan_levels(report) if gap is Gap.ORPHAN else "")
        for gap in GAP_ORDER
        if (n := report.counts.get(gap, 0))
    ]
    return line + (" · " + " · ".join(gaps) if gaps else " · no gaps")


def _orphan_levels(report: Counted) -> str:
    """ " (1 team, 2 personal)": which levels the orphans are at, where the report knows."""
    by_level: Mapping[Level, int] = getattr(report, "orphans_by_level", {})
    parts = [
        f"{n} {level.value}"
        for level in (Level.TEAM, Level.PERSONAL)
        if (n := by_level.get(level, 0))
    ]
    return f" ({', '.join(parts)})" if parts else ""


def health_context(report: Counted | None) -> dict | None:
    """The line as a context block naming `/okr health` for the details; None when there is
    nothing to say (no report, or no objectives in the open cycles)."""
    if report is None or not report.objectives:
        return None
    return context(f"{escape(summary_line(report))} · details: `/okr health`")
