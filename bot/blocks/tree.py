"""Objective tree rendering shared by `/okr status`, `/okr mine`, confirmations and Home."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from bot.blocks.text import (
    ago,
    confidence_label,
    escape,
    kr_values,
    mrkdwn,
    percent,
    plain,
    progress_bar,
    status_label,
    truncate,
    user,
)
from bot.okr.kinds import KRKind, Status, UnitKind

if TYPE_CHECKING:
    from storage.models import KeyResult, Objective
    from storage.tree import LoadedTree

OBJECTIVE_MENU_ACTION = "objective_menu"
CHECKIN_KR_ACTION = "checkin_kr"
CHECKIN_OBJECTIVE_ACTION = "checkin_objective"
EDIT_OBJECTIVE_ACTION = "edit_objective"
NEW_OBJECTIVE_ACTION = "new_objective"
INDENT = "\u2003"
# Interactive elements repeat per objective/KR; each gets `<action>:<id>` so action_ids stay
# unique in a message or view, and listeners match the prefix.  # an em space: Slack keeps it, unlike leading ASCII spaces
SECTION_LIMIT = 3000


def objective_menu(objective_id: int) -> dict:
    return {
        "type": "overflow",
        "action_id": f"{OBJECTIVE_MENU_ACTION}:{objective_id}",
        "options": [
            {"text": plain("✏️ Edit", 75), "value": f"edit:{objective_id}"},
            {"text": plain("🪜 Align to a parent", 75), "value": f"align:{objective_id}"},
            {"text": plain("✅ Check in", 75), "value": f"checkin:{objective_id}"},
            {"text": plain("🗄️ Archive", 75), "value": f"archive:{objective_id}"},
        ],
    }


def kr_line(tree: LoadedTree, kr: KeyResult) -> str:
    health = tree.health.krs[kr.id]
    kind = KRKind(kr.kind)
    moving = kind in (KRKind.INCREASE, KRKind.DECREASE)
    # Before the first check-in a moving KR stands at its start: "250 → 100 ms", not "— → …".
    current = kr.start_value if moving and kr.current_value is None else kr.current_value
    values = kr_values(
        kind=kind,
        unit=UnitKind(kr.unit),
        unit_label=kr.unit_label,
        current=current,
        target=kr.target_value,
    )
    parts = [f"• {escape(kr.title)} — {values}"]
    if moving:
        parts.append(percent(health.raw_progress if health.raw_progress is not None else 0))
    parts.append(_STATUS_DOT[health.status])
    if kr.confidence is not None:
        parts.append(confidence_label(kr.confidence))
    return " · ".join(parts)


_STATUS_DOT = {Status.ON_TRACK: "🟢", Status.AT_RISK: "🟡", Status.OFF_TRACK: "🔴"}


def objective_text(
    tree: LoadedTree,
    objective: Objective,
    *,
    now: datetime,
    depth: int = 0,
    with_krs: bool = True,
    limit: int = SECTION_LIMIT,
) -> str:
    health = tree.health.objectives[objective.id]
    first = INDENT * depth + ("↳ " if depth else "")
    pad = INDENT * (depth + 1) if depth else ""  # continuation lines line up under the title
    krs = tree.krs_of(objective.id)
    last = max((kr.last_checkin_at for kr in krs if kr.last_checkin_at), default=None)
    team = tree.teams.get(objective.team_id) if objective.team_id else None
    where = f" · {escape(team.name)}" if team else ""
    head = [
        f"{first}*{escape(objective.title)}*",
        f"{pad}{progress_bar(health.progress, health.status)} *{percent(health.progress)}* · "
        f"{status_label(health.status)} · {user(objective.owner_id)}{where} · {ago(last, now=now)}",
    ]
    text = "\n".join(head)
    if not with_krs:
        return text
    lines = [f"{pad}{INDENT}{kr_line(tree, kr)}" for kr in krs]
    for shown, line in enumerate(lines):
        rest = len(lines) - shown
        more = f"\n{pad}{INDENT}…and {rest} more key results" if rest > 1 else ""
        if len(text) + 1 + len(line) + len(more) > limit:
            return text + f"\n{pad}{INDENT}…and {rest} more key results"
        text += "\n" + line
    return text


def objective_section(
    tree: LoadedTree,
    objective: Objective,
    *,
    now: datetime,
    depth: int = 0,
    menu: bool = True,
    with_krs: bool = True,
    limit: int = SECTION_LIMIT,
) -> dict:
    text = objective_text(tree, objective, now=now, depth=depth, with_krs=with_krs, limit=limit)
    # No block_id: one objective may appear in two trees of the same view (team and company).
    block: dict = {"type": "section", "text": mrkdwn(text)}
    if menu:
        block["accessory"] = objective_menu(objective.id)
    return block


def why_block(tree: LoadedTree) -> dict | None:
    """Vision and mission: every tree starts from the why."""
    ws = tree.workspace
    parts = []
    if ws.vision:
        parts.append(f"🔭 *Vision:* {escape(ws.vision)}")
    if ws.mission:
        parts.append(f"🎯 *Mission:* {escape(ws.mission)}")
    if not parts:
        return None
    return {"type": "context", "elements": [mrkdwn("\n".join(parts))]}


def summary_line(tree: LoadedTree) -> str:
    counts = tree.status_counts()  # the whole view, also when only its start was loaded
    n = tree.total_objectives
    return (
        f"{n} objective{'s' if n != 1 else ''} · 🟢 {counts[Status.ON_TRACK]} on track · "
        f"🟡 {counts[Status.AT_RISK]} at risk · 🔴 {counts[Status.OFF_TRACK]} off track"
    )


def tree_sections(
    tree: LoadedTree,
    *,
    now: datetime,
    budget: int,
    menu: bool = True,
    limit: int = SECTION_LIMIT,
    skip: frozenset[int] = frozenset(),
) -> tuple[list[dict], int]:
    """Sections for the tree, depth-first, within `budget` blocks; returns (blocks, left out).

    `limit` caps each section's text: views carry up to 100 blocks but only 250 kB in all.
    """
    walk = [(o, d) for o, d in tree.walk() if o.id not in skip]
    shown = walk[:budget]
    blocks = [
        objective_section(tree, o, now=now, depth=d, menu=menu, limit=limit) for o, d in shown
    ]
    not_loaded = tree.total_objectives - len(tree.objectives)
    return blocks, len(walk) - len(shown) + not_loaded


MESSAGE_BLOCKS = 50
_MENTION = re.compile(r"<@[UW][A-Z0-9]+>")


def build_status_message(*, tree: LoadedTree, scope: str, now: datetime) -> dict:
    """`/okr status`: the why, then the tree with progress; summarized beyond 50 blocks.

    `scope` is a team name (user text) or a mention the service built (`<@U…>`): a header is
    plain text, where a mention would show raw, so a person's status names them below it.
    """
    person = _MENTION.fullmatch(scope) is not None
    blocks: list[dict] = [
        {"type": "header", "text": plain("OKR status" if person else f"OKR status · {scope}", 150)}
    ]
    if person:
        blocks.append({"type": "context", "elements": [mrkdwn(f"Objectives of {scope}")]})
    label = scope if person else escape(scope)
    why = why_block(tree)
    if why:
        blocks.append(why)
    if not tree.objectives:
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn(
                    "No objectives here yet. Start one with `/okr new`, or link this channel to a "
                    "team with `/okr team link &lt;name&gt;`."
                ),
            }
        )
        return {"text": f"OKR status · {label}: no objectives yet", "blocks": blocks}
    blocks.append({"type": "divider"})
    budget = MESSAGE_BLOCKS - len(blocks) - 1  # keep one block for the footer
    sections, left_out = tree_sections(tree, now=now, budget=budget)
    blocks.extend(sections)
    footer = summary_line(tree)
    if left_out:
        footer += (
            f"\n…and {left_out} more objective{'s' if left_out != 1 else ''} not shown here. "
            "Open Ladder's *Home* tab for the full tree."
        )
    blocks.append({"type": "context", "elements": [mrkdwn(footer)]})
    return {"text": f"OKR status · {label}: {summary_line(tree)}", "blocks": blocks}


def build_mine_message(*, tree: LoadedTree, user_id: str, now: datetime) -> dict:
    """`/okr mine` (ephemeral): my objectives and KRs with Check in and Edit buttons."""
    blocks: list[dict] = [{"type": "header", "text": plain("Your OKRs", 150)}]
    if not tree.objectives:
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn(
                    "You don't own any objectives or key results yet. Draft one with `/okr new`."
                ),
            }
        )
        return {"text": "You don't own any OKRs yet.", "blocks": blocks}
    per_objective = 2
    budget = (MESSAGE_BLOCKS - 2) // per_objective
    for objective in tree.objectives[:budget]:
        blocks.append(objective_section(tree, objective, now=now, menu=False))
        blocks.append(
            {
                "type": "actions",
                "block_id": f"mine:{objective.id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": f"{CHECKIN_OBJECTIVE_ACTION}:{objective.id}",
                        "style": "primary",
                        "text": plain("✅ Check in", 75),
                        "value": str(objective.id),
                    },
                    {
                        "type": "button",
                        "action_id": f"{EDIT_OBJECTIVE_ACTION}:{objective.id}",
                        "text": plain("✏️ Edit", 75),
                        "value": str(objective.id),
                    },
                    objective_menu(objective.id),
                ],
            }
        )
    left_out = len(tree.objectives) - budget
    if left_out > 0:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn(f"…and {left_out} more. Open Ladder's *Home* tab to see them all.")
                ],
            }
        )
    n = len(tree.key_results)
    return {
        "text": f"Your OKRs: {len(tree.objectives)} objectives, {n} key results",
        "blocks": blocks,
    }


def build_objective_confirmation(
    *, tree: LoadedTree, objective: Objective, now: datetime, created: bool
) -> dict:
    verb = "created" if created else "updated"
    lines = [f"✅ Objective {verb}."]
    if objective.parent_id is not None and objective.parent_id in {o.id for o in tree.objectives}:
        parent = tree.objective(objective.parent_id)
        lines.append(f"It ladders up to *{escape(parent.title)}*.")
    elif tree.workspace.mission:
        lines.append(f"It serves the mission: _{escape(tree.workspace.mission)}_")
    blocks = [
        {"type": "section", "text": mrkdwn(" ".join(lines))},
        objective_section(tree, objective, now=now),
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    "Owners of its key results get a weekly check-in. "
                    "See everything with `/okr status`."
                )
            ],
        },
    ]
    # The fallback `text` is mrkdwn too: user text is escaped there as well.
    return {"text": f"Objective {verb}: {escape(truncate(objective.title, 150))}", "blocks": blocks}
