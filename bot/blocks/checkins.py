"""Check-in DMs: the weekly prompt, its reminder, and the "checked in" summary that replaces it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from bot.blocks.text import actions, button, context, escape, section
from bot.blocks.tree import kr_line
from bot.okr.kinds import KRKind, UnitKind
from bot.okr.numbers import format_pair, format_value

if TYPE_CHECKING:
    from storage.tree import KeyResultRow, LoadedTree

PROMPT_CHECKIN_ACTION = "prompt_checkin"
PROMPT_NO_CHANGE_ACTION = "prompt_no_change"
PROMPT_MAX_KRS = 20  # 2 blocks each stays far below 50


def _period_label(period: date) -> str:
    return f"week of {period:%b} {period.day}"


def build_checkin_prompt(
    *,
    tree: LoadedTree,
    krs: list[KeyResultRow],
    period: date,
    message_id: int,
    reminder: int = 0,
) -> dict:
    """The DM: my KRs with value, progress and status; "Check in" and "No change"."""
    heading = (
        f"⏰ Reminder: your check-in for the {_period_label(period)} is still open."
        if reminder
        else f"👋 Time for your weekly check-in ({_period_label(period)})."
    )
    blocks = [section(heading)]
    by_objective: dict[int, list[KeyResultRow]] = {}
    for kr in krs[:PROMPT_MAX_KRS]:
        by_objective.setdefault(kr.objective_id, []).append(kr)
    for objective_id, mine in by_objective.items():
        objective = tree.objective(objective_id)
        lines = [f"*{escape(objective.title)}*", *(kr_line(tree, kr) for kr in mine)]
        blocks.append(section("\n".join(lines)))
    if len(krs) > PROMPT_MAX_KRS:
        blocks.append(context(f"…and {len(krs) - PROMPT_MAX_KRS} more in the modal."))
    blocks.append(
        actions(
            button("Check in", PROMPT_CHECKIN_ACTION, str(message_id), style="primary"),
            button("No change this week", PROMPT_NO_CHANGE_ACTION, str(message_id)),
            block_id="prompt_actions",
        )
    )
    n = len(krs)
    text = f"{heading} {n} key result{'s' if n != 1 else ''} to update."
    return {"text": text, "blocks": blocks}


def shown_value(kr: KeyResultRow, value: float | None) -> str:
    if KRKind(kr.kind) is KRKind.MILESTONE:
        return "done" if value is not None and value >= 1 else "not done"
    return format_value(value, unit=UnitKind(kr.unit), unit_label=kr.unit_label)


def _moved(kr: KeyResultRow, before: float | None, after: float | None) -> str:
    """ "$0.37 → *$0.36*": the one number format, the new value in bold."""
    unit = UnitKind(kr.unit)
    pair = format_pair(before, after, unit=unit, unit_label=kr.unit_label, separator=" → ")
    old, new = pair.split(" → ", 1)  # the left side never carries the (typed) unit label
    return f"{escape(old)} → *{escape(new)}*"


def build_checkin_done(
    *, changes: Sequence[tuple[KeyResultRow, float | None]], no_change: bool
) -> dict:
    """Replaces the prompt once answered: each KR's change, so the DM is a record."""
    heading = "✅ Checked in, no change this week." if no_change else "✅ Checked in. Thank you!"
    lines = []
    for kr, before in changes[:40]:
        after = kr.current_value
        if before is None:  # never checked in: it stood at its start
            before = kr.start_value
        move = (
            escape(shown_value(kr, after))
            if before == after or KRKind(kr.kind) is KRKind.MILESTONE
            else _moved(kr, before, after)
        )
        confidence = f" · confidence {kr.confidence}/10" if kr.confidence is not None else ""
        lines.append(f"• {escape(kr.title)}: {move}{confidence}")
    blocks = [section(heading)]
    if lines:
        blocks.append(section("\n".join(lines)))
    return {"text": heading, "blocks": blocks}
