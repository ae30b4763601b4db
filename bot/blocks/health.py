"""`/okr health`: where alignment breaks, one objective at a time, each with the button that fixes it."""

from __future__ import annotations

from collections import defaultdict

from bot.blocks.alignment_line import Counted, health_context, summary_line
from bot.blocks.text import actions, button, context, escape, header, section, truncate, user
from bot.blocks.tree import (
    ALIGN_OBJECTIVE_ACTION,
    CHECKIN_OBJECTIVE_ACTION,
    EDIT_OBJECTIVE_ACTION,
)
from bot.okr.alignment import Gap
from bot.services.alignment import AlignmentReport, GapItem, UnknownTeam

__all__ = ["build_health_message", "summary_line", "with_health_line"]

# Two blocks per objective (what is wrong, the buttons): well inside Slack's 50 per message.
MAX_OBJECTIVES_SHOWN = 20
TITLE_MAX = 120


def _objective_text(items: list[GapItem]) -> str:
    first = items[0]
    lines = [f"*{escape(truncate(first.objective_title, TITLE_MAX))}* · {user(first.owner_id)}"]
    for item in items:
        if item.gap is Gap.ORPHAN:
            lines.append("🧭 Ladders up to nothing: align it to the objective it serves.")
        elif item.gap is Gap.NO_WHY:
            lines.append("✍️ Says no why: which part of the vision or mission does it serve?")
        elif item.gap is Gap.NO_KRS:
            lines.append("📏 No key results: nothing measures it yet.")
        elif item.gap is Gap.TOO_MANY_KRS:
            lines.append(f"🎯 {item.amount:.0f} key results: keep the five that matter most.")
        elif item.gap is Gap.STALE:
            lines.append(
                f"💤 “{escape(truncate(item.kr_title or '', TITLE_MAX))}”: no check-in for "
                f"{item.amount:.0f} days ({user(item.owner_id)})."
            )
        elif item.gap is Gap.CONTRADICTION:
            lines.append(
                f"🤔 “{escape(truncate(item.kr_title or '', TITLE_MAX))}”: confidence is high "
                f"but it is {item.amount:.0f} points behind pace."
            )
    return "\n".join(lines)


def _buttons(objective_id: int, gaps: set[Gap]) -> list[dict]:
    buttons: list[tuple[str, str]] = []
    if Gap.ORPHAN in gaps:
        buttons.append(("🪜 Align", ALIGN_OBJECTIVE_ACTION))
    if gaps & {Gap.NO_WHY, Gap.NO_KRS, Gap.TOO_MANY_KRS}:
        buttons.append(("✏️ Edit", EDIT_OBJECTIVE_ACTION))
    if gaps & {Gap.STALE, Gap.CONTRADICTION}:
        buttons.append(("✅ Check in", CHECKIN_OBJECTIVE_ACTION))
    return [
        button(label, f"{action}:{objective_id}", str(objective_id)) for label, action in buttons
    ]


def build_health_message(report: AlignmentReport) -> dict:
    title = f"Alignment health · {report.scope}"
    summary = summary_line(report)
    blocks = [header(title), section(escape(summary))]
    by_objective: dict[int, list[GapItem]] = defaultdict(list)
    for item in report.items:  # already in GAP_ORDER: the worst gap decides the order
        by_objective[item.objective_id].append(item)
    for objective_id, items in list(by_objective.items())[:MAX_OBJECTIVES_SHOWN]:
        blocks.append(section(_objective_text(items)))
        fixes = _buttons(objective_id, {i.gap for i in items})
        blocks.append(actions(*fixes, block_id=f"health:{objective_id}"))
    hidden = len(by_objective) - MAX_OBJECTIVES_SHOWN
    if hidden > 0:
        blocks.append(
            context(
                f"…and {hidden} more objectives with gaps. Fix these first, or ask per team: "
                "`/okr health <team>`."
            )
        )
    if report.objectives and not report.items:
        blocks.append(context("✅ Every objective ladders up, says why, and is measured."))
    return {"text": f"{title}: {summary}", "blocks": blocks}


def with_health_line(message: dict, report: Counted | UnknownTeam | None) -> dict:
    """A message (the weekly digest) with the alignment summary as a context line before its
    last block, and `/okr health` named for the details."""
    line = None if isinstance(report, UnknownTeam) else health_context(report)
    if line is None:
        return message
    blocks = list(message.get("blocks") or [])
    blocks.insert(max(len(blocks) - 1, 0), line)
    return {**message, "blocks": blocks}
