"""Objective tree rendering shared by `/okr status`, `/okr mine`, confirmations and Home."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.blocks.alignment_line import health_context
from bot.blocks.messages import build_notice
from bot.blocks.sources import source_badge
from bot.blocks.text import (
    GRADE_ICON,
    STATUS_ICON,
    actions,
    ago,
    button,
    confidence_label,
    context,
    escape,
    grade_icon,
    header,
    kr_values,
    modal,
    never_checked_in_since,
    no_check_in_since,
    option,
    percent,
    progress_bar,
    section,
    status_label,
    truncate,
)
from bot.okr.alignment import Gap, line_gap
from bot.okr.grading import grade_band
from bot.okr.kinds import KRKind, Level, Status, UnitKind
from bot.okr.pace import stale_anchor
from bot.services.people import UNKNOWN_NAME
from bot.services.trees import NoSuchTeam, StatusScope, StatusShown

if TYPE_CHECKING:
    from bot.services.sources import SourceState
    from storage.models import Cycle
    from storage.tree import KeyResultRow, LoadedTree, ObjectiveRow

OBJECTIVE_TITLE = "Objective"
OBJECTIVE_MENU_ACTION = "objective_menu"
CHECKIN_KR_ACTION = "checkin_kr"
CHECKIN_OBJECTIVE_ACTION = "checkin_objective"
CHECKIN_ALL_ACTION = "checkin_all"  # Home: one modal for every KR the person owns
EDIT_OBJECTIVE_ACTION = "edit_objective"
ALIGN_OBJECTIVE_ACTION = "align_objective"
NEW_OBJECTIVE_ACTION = "new_objective"
INDENT = "\u2003"  # an em space: Slack keeps it, unlike leading ASCII spaces
# Interactive elements repeat per objective/KR; each gets `<action>:<id>` so action_ids stay
# unique in a message or view, and listeners match the prefix.
SECTION_LIMIT = 3000


Names = Mapping[str, str]  # user id -> display name (bot/services/people.py)
NO_NAMES: Names = {}


def owner_label(names: Names, user_id: str) -> str:
    """An owner's display name, escaped: never a mention, which would notify them."""
    return escape(names.get(user_id) or UNKNOWN_NAME)


# Where alignment breaks, said on the objective's own line (issue 18), and the button that
# fixes it: Align (the align dialog) for an orphan, Edit (to write the why) for a company
# objective that does not say which part of the vision or mission it serves.
FLAG_TEXT = {
    Gap.ORPHAN: "🧭 _Ladders up to nothing: align it to the objective it serves._",
    Gap.NO_WHY: "✍️ _Says no why: which part of the vision or mission does it serve?_",
}
FIX_BUTTON = {
    Gap.ORPHAN: ("🪜 Align", ALIGN_OBJECTIVE_ACTION),
    Gap.NO_WHY: ("✍️ Write the why", EDIT_OBJECTIVE_ACTION),
}


def level_of(objective: ObjectiveRow) -> Level:
    return Level.of(objective.level, team_id=objective.team_id)


def alignment_flag(objective: ObjectiveRow) -> Gap | None:
    """The gap an objective's line flags: an orphan team or personal objective, a company
    objective without its why."""
    return line_gap(
        level=level_of(objective),
        parent_id=objective.parent_id,
        has_why=bool((objective.description or "").strip()),
    )


def fix_actions(objective: ObjectiveRow) -> dict | None:
    """The button under a flagged objective's line that fixes the flag (None: no flag). The
    dialog it opens is its owner's (or an admin's): anyone else is told so privately."""
    gap = alignment_flag(objective)
    if gap is None:
        return None
    return actions(_fix_button(objective, gap))


def _fix_button(objective: ObjectiveRow, gap: Gap) -> dict:
    label, action = FIX_BUTTON[gap]
    return button(label, f"{action}:{objective.id}", str(objective.id))


MENU_OPTIONS = {
    "view": "🔍 Open with aligned objectives",
    "edit": "✏️ Edit",
    "align": "🪜 Align to a parent",
    "checkin": "✅ Check in",
    "trend": "📈 Trend",  # charts: bot/listeners/charts.py
    "archive": "🗄️ Archive",
}
# Slack allows 5 options in an overflow menu. Status and Home keep Check in; a trend chart
# is in /okr mine's menu (which has Check in and Edit as buttons) and `/okr chart <title>`.
STATUS_MENU = ("view", "edit", "align", "checkin", "archive")


def objective_menu(objective_id: int, verbs: Sequence[str] = STATUS_MENU) -> dict:
    return {
        "type": "overflow",
        "action_id": f"{OBJECTIVE_MENU_ACTION}:{objective_id}",
        "options": [option(f"{verb}:{objective_id}", MENU_OPTIONS[verb]) for verb in verbs],
    }


def kr_line(tree: LoadedTree, kr: KeyResultRow) -> str:
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
    parts.append(STATUS_ICON[health.status])
    if health.status is Status.NO_RECENT_DATA:
        parts[-1] += " " + _quiet_reason(tree, kr)
    if kr.confidence is not None:
        parts.append(confidence_label(kr.confidence))
    return " · ".join(parts)


def _quiet_reason(tree: LoadedTree, kr: KeyResultRow) -> str:
    """Why a KR has no recent data: its last check-in's day, or when it never had one, the
    day it was set (or its cycle began, if later) that its quiet counts from."""
    if kr.last_checkin_at is not None:
        return no_check_in_since(kr.last_checkin_at)
    cycle_start = tree.cycles[tree.objective(kr.objective_id).cycle_id].start_date
    since = stale_anchor(last_check_in=None, created=kr.created_at, cycle_start=cycle_start)
    set_on = kr.created_at is not None and since == kr.created_at.date()
    return never_checked_in_since(since, set_on=set_on)


def objective_section(
    tree: LoadedTree,
    objective: ObjectiveRow,
    *,
    now: datetime,
    depth: int = 0,
    menu: bool = True,
    with_krs: bool = True,
    limit: int = SECTION_LIMIT,
    names: Names = NO_NAMES,
    show_owner: bool = True,
    show_team: bool = True,
    children: str = "",
    kr_notes: Mapping[int, str] | None = None,
) -> dict:
    """Title, bar, status, owner (a name, not a mention), team (or "personal"), last check-in,
    where its alignment breaks (an orphan, a company objective without its why), KRs.

    `show_team`: off where the whole surface is one team's. `children`: a line counting the
    objectives aligned below, for views that collapse them. `kr_notes`: a line (mrkdwn) to
    show under a KR, by KR id (e.g. its data source's state).
    """
    health = tree.health.objectives[objective.id]
    first = INDENT * depth + ("↳ " if depth else "")
    pad = INDENT * (depth + 1) if depth else ""  # continuation lines line up under the title
    krs = tree.krs_of(objective.id)
    last = max((kr.last_checkin_at for kr in krs if kr.last_checkin_at), default=None)
    team = tree.teams.get(objective.team_id) if objective.team_id and show_team else None
    facts = [f"{progress_bar(health.progress, health.status)} *{percent(health.progress)}*"]
    facts.append(status_label(health.status))
    if show_owner:
        facts.append(owner_label(names, objective.owner_id))
    if team:
        facts.append(escape(team.name))
    elif show_team and level_of(objective) is Level.PERSONAL:
        facts.append("personal")
    if health.status is Status.NO_RECENT_DATA and last is not None:
        facts.append(no_check_in_since(last))  # the reason, instead of "checked in … ago"
    else:
        facts.append(ago(last, now=now))
    head = [f"{first}*{escape(objective.title)}*", pad + " · ".join(facts)]
    if (gap := alignment_flag(objective)) is not None:
        head.append(f"{pad}{FLAG_TEXT[gap]}")
    if children:
        head.append(f"{pad}{INDENT}{children}")
    text = "\n".join(head)
    notes = kr_notes or {}
    lines = [
        f"{pad}{INDENT}{kr_line(tree, kr)}"
        + (f"\n{pad}{INDENT}{INDENT}{notes[kr.id]}" if kr.id in notes else "")
        for kr in (krs if with_krs else [])
    ]
    for shown, line in enumerate(lines):
        rest = len(lines) - shown
        more = f"\n{pad}{INDENT}…and {rest} more key results" if rest > 1 else ""
        if len(text) + 1 + len(line) + len(more) > limit:
            text += f"\n{pad}{INDENT}…and {rest} more key results"
            break
        text += "\n" + line
    # No block_id: one objective may appear in two trees of the same view (team and company).
    return section(text, accessory=objective_menu(objective.id) if menu else None)


WHY_PART_MAX = 90  # each of vision and mission, in the one-line "why"


def why_block(tree: LoadedTree) -> dict | None:
    """Vision and mission in one compact line (`/okr vision` and `/okr mission` say them in
    full): in full they headed every post and pushed the objectives down."""
    ws = tree.workspace
    parts = []
    if ws.vision:
        parts.append(f"🔭 {escape(truncate(ws.vision, WHY_PART_MAX))}")
    if ws.mission:
        parts.append(f"🎯 {escape(truncate(ws.mission, WHY_PART_MAX))}")
    if not parts:
        return None
    return context("  ·  ".join(parts))


def _status_counts(tree: LoadedTree, objectives: Iterable[ObjectiveRow]) -> dict[Status, int]:
    counts = {s: 0 for s in Status}
    for objective in objectives:
        status = tree.health.objectives[objective.id].status
        if status is not None:
            counts[status] += 1
    return counts


def summary_line(tree: LoadedTree) -> str:
    counts = tree.status_counts()  # the whole view, also when only its start was loaded
    n = tree.total_objectives
    parts = [f"{n} objective{'s' if n != 1 else ''}"]
    # Only the statuses some objective has: "🟢 0 on track" is noise.
    for status, label in (
        (Status.ON_TRACK, "🟢 {} on track"),
        (Status.AT_RISK, "🟡 {} at risk"),
        (Status.OFF_TRACK, "🔴 {} off track"),
        (Status.NO_RECENT_DATA, "💤 {} no recent data"),
        (Status.NOT_STARTED, "⚪ {} not started"),
    ):
        if count := counts.get(status, 0):
            parts.append(label.format(count))
    return " · ".join(parts)


def one_team(tree: LoadedTree) -> bool:
    """Whether every objective of the tree is in the same team (or none, all personal or all
    not): then a team (or "personal") label on each line says nothing."""
    return len({(o.team_id, level_of(o) is Level.PERSONAL) for o in tree.objectives}) <= 1


def subtree(tree: LoadedTree, objective_id: int) -> list[tuple[ObjectiveRow, int]]:
    """The objective and everything aligned below it, depth-first, depths from 0."""
    out: list[tuple[ObjectiveRow, int]] = []
    stack = [(tree.objective(objective_id), 0)]
    while stack:
        objective, depth = stack.pop()
        out.append((objective, depth))
        stack.extend((c, depth + 1) for c in reversed(tree.children_of(objective.id)))
    return out


def descendants(tree: LoadedTree, objective_id: int) -> list[ObjectiveRow]:
    return [o for o, _ in subtree(tree, objective_id)[1:]]


def children_line(tree: LoadedTree, objective_id: int) -> str:
    """'↳ 4 aligned objectives: 🟢 1 · 🟡 1 · 🔴 2' ('' if none)."""
    below = descendants(tree, objective_id)
    if not below:
        return ""
    counts = _status_counts(tree, below)
    dots = " · ".join(f"{STATUS_ICON[s]} {counts[s]}" for s in Status if counts[s])
    n = len(below)
    return f"↳ {n} aligned objective{'s' if n != 1 else ''}" + (f": {dots}" if dots else "")


def tree_sections(
    tree: LoadedTree,
    *,
    now: datetime,
    budget: int,
    menu: bool = True,
    limit: int = SECTION_LIMIT,
    skip: frozenset[int] = frozenset(),
    names: Names = NO_NAMES,
    show_team: bool = True,
    fixes_for: str | None = None,
) -> tuple[list[dict], int, frozenset[int]]:
    """Sections for the tree, depth-first, within `budget` blocks; returns (blocks, left out,
    ids shown). `fixes_for`: the viewer, whose flagged objectives get their fix button.

    `limit` caps each section's text: views carry up to 100 blocks but only 250 kB in all.
    """
    walk = [(o, d) for o, d in tree.walk() if o.id not in skip]
    blocks: list[dict] = []
    shown: list[int] = []
    for o, d in walk:
        fix = fix_actions(o) if fixes_for is not None and o.owner_id == fixes_for else None
        if len(blocks) + 1 + (fix is not None) > budget:
            break
        blocks.append(
            objective_section(
                tree, o, now=now, depth=d, menu=menu, limit=limit, names=names, show_team=show_team
            )
        )
        if fix is not None:
            blocks.append(fix)
        shown.append(o.id)
    not_loaded = tree.total_objectives - len(tree.objectives)
    return blocks, len(walk) - len(shown) + not_loaded, frozenset(shown)


MESSAGE_BLOCKS = 50
# A status of more objectives than this shows the top level only, each with its aligned
# objectives counted: 25 objectives in full made a ~2,300 px post with a ⋯ menu each.
STATUS_FULL_MAX = 8
STATUS_SHOWN_MAX = 12  # objectives a collapsed status shows; the rest are counted
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")
_TYPED_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")  # as a command's text has it


def closed_cycle(tree: LoadedTree) -> Cycle | None:
    """The closed cycle a tree shows (the service falls back to the last closed cycle's
    grades until the new one has objectives); None for a tree of open cycles."""
    ids = {o.cycle_id for o in tree.objectives if o.cycle_id in tree.cycles}
    cycles = [tree.cycles[i] for i in sorted(ids)]
    closed = [(c.closed_at, c) for c in cycles if c.closed_at is not None]
    if cycles and len(closed) == len(cycles):
        return max(closed, key=lambda pair: pair[0])[1]
    return None


def status_shown(tree: LoadedTree) -> list[tuple[ObjectiveRow, int]]:
    """The objectives a status message shows, with their depth: the whole tree when small,
    else as many top levels as fit in STATUS_SHOWN_MAX (at least the top level, cut there):
    one team objective with 20 below it shows its first level, not a lone line."""
    if len(tree.objectives) <= STATUS_FULL_MAX:
        return tree.walk()
    # Level by level, never walking further than the first level that does not fit: a
    # status of 10,000 objectives reads a few hundred of them here, not all.
    level, fitting = tree.roots, len(tree.roots)
    deepest = 0
    while True:
        below = [c for o in level for c in tree.children_of(o.id)]
        if not below or fitting + len(below) > STATUS_SHOWN_MAX:
            break
        level, fitting, deepest = below, fitting + len(below), deepest + 1
    shown: list[tuple[ObjectiveRow, int]] = []
    stack = [(o, 0) for o in reversed(tree.roots)]
    while stack and len(shown) < STATUS_SHOWN_MAX:
        objective, depth = stack.pop()
        shown.append((objective, depth))
        if depth < deepest:
            stack.extend((c, depth + 1) for c in reversed(tree.children_of(objective.id)))
    return shown


def status_collapsed(tree: LoadedTree) -> bool:
    """Past STATUS_FULL_MAX objectives a status leaves out KR lines (and maybe levels)."""
    return len(tree.objectives) > STATUS_FULL_MAX


def _counts_below(tree: LoadedTree, objective: ObjectiveRow, shown_ids: set[int]) -> bool:
    """Whether an objective's aligned objectives are left out, so it counts them instead."""
    return not all(c.id in shown_ids for c in tree.children_of(objective.id))


def status_user_ids(tree: LoadedTree, scope: str) -> list[str]:
    """Whose names a status message needs: the owners it shows, and the person asked about."""
    ids = [o.owner_id for o, _ in status_shown(tree)]
    if person := _MENTION.fullmatch(scope):
        ids.insert(0, person[1])
    return list(dict.fromkeys(ids))


def status_scope(argument: str) -> StatusScope:
    """What `/okr status <argument>` asks for: `all`, a person (`@name`), or a team's name;
    nothing: the channel's team."""
    argument = " ".join(argument.split())
    if argument.casefold() in ("all", "company", "everything"):
        return StatusScope(everything=True)
    if mention := _TYPED_MENTION.match(argument):
        return StatusScope(owner_id=mention[1])
    return StatusScope(team=argument or None)


def status_scope_label(shown: StatusShown) -> str:
    """The `scope` of build_status_message: a team's name, a person's mention, or all."""
    if shown.owner_id is not None:
        return f"<@{shown.owner_id}>"
    return shown.team if shown.team is not None else "all objectives"


def build_no_team_notice(missing: NoSuchTeam) -> dict:
    """`/okr status` of a team that does not exist, or in a channel linked to none: what
    works instead."""
    if missing.name is not None:
        known = (
            f" Teams: {', '.join(missing.teams)}." if missing.teams else " There are no teams yet."
        )
        text = f"No team called “{missing.name}”.{known} Try `/okr status all`."
    else:
        link = (
            f" or link this channel to a team with `/okr team link <team>` (teams: "
            f"{', '.join(missing.teams)})"
            if missing.teams
            else " or create a team with `/okr team new <name>` and link this channel to it"
        )
        text = (
            "This channel isn't linked to a team yet. Try `/okr status all`, "
            f"`/okr status <team>` or `/okr status @person`,{link}."
        )
    return build_notice(escape(text))


def _grade(grade: float | None) -> str:
    return "—" if grade is None else f"{grade:.1f}"


def graded_text(
    tree: LoadedTree,
    objective: ObjectiveRow,
    *,
    depth: int,
    names: Names,
    collapsed: bool,
    count_below: bool,
) -> str:
    """A graded objective: grade, title, owner; its KRs' grades, or its aligned ones counted."""
    first = INDENT * depth + ("↳ " if depth else "")
    pad = INDENT * (depth + 1) if depth else ""
    lines = [
        f"{first}{grade_icon(objective.grade)} *{_grade(objective.grade)}*  "
        f"*{escape(objective.title)}* · {owner_label(names, objective.owner_id)}"
    ]
    if count_below:
        below = [o.grade for o in descendants(tree, objective.id)]
        if below:
            graded = [g for g in below if g is not None]
            avg = f" · average {_grade(sum(graded) / len(graded))}" if graded else ""
            n = len(below)
            lines.append(f"{pad}{INDENT}↳ {n} aligned objective{'s' if n != 1 else ''}{avg}")
    if collapsed:  # no KR lines past STATUS_FULL_MAX objectives
        return "\n".join(lines)
    for kr in tree.krs_of(objective.id):
        lines.append(f"{pad}{INDENT}{grade_icon(kr.grade)} {_grade(kr.grade)} · {escape(kr.title)}")
    return truncate("\n".join(lines), SECTION_LIMIT)


def _graded_status(
    tree: LoadedTree, cycle: Cycle, blocks: list[dict], label: str, names: Names
) -> dict:
    grades = [o.grade for o in tree.objectives if o.grade is not None]
    average = f"average grade *{_grade(sum(grades) / len(grades))}*" if grades else "no grades"
    bands = {band: 0 for band in GRADE_ICON}
    for g in grades:
        bands[grade_band(g)] += 1
    n = len(tree.objectives)
    summary = f"*{escape(cycle.name)}* is closed · {n} objective{'s' if n != 1 else ''} · {average}"
    summary += "".join(
        f" · {icon} {bands[band]}" for band, icon in GRADE_ICON.items() if bands[band]
    )
    blocks.append(section(summary))
    blocks.append(
        context(
            "The new cycle has no objectives here yet, so these are the last grades. "
            "Start one with `/okr new`."
        )
    )
    blocks.append({"type": "divider"})
    shown = status_shown(tree)
    collapsed = status_collapsed(tree)
    shown_ids = {o.id for o, _ in shown}
    for objective, depth in shown[: MESSAGE_BLOCKS - len(blocks) - 1]:
        text = graded_text(
            tree,
            objective,
            depth=depth,
            names=names,
            collapsed=collapsed,
            count_below=_counts_below(tree, objective, shown_ids),
        )
        blocks.append(section(text))
    blocks.append(context("0.7 or more is green, 0.4–0.69 yellow."))
    return {
        "text": f"OKR status · {label}: {cycle.name} is closed, {n} objectives graded",
        "blocks": blocks,
    }


def build_status_message(
    *, tree: LoadedTree, scope: str, now: datetime, names: Names = NO_NAMES
) -> dict:
    """`/okr status`: the summary first, then the tree (the top level, with aligned objectives
    counted, past STATUS_FULL_MAX); owners by name, never mentioned.

    `scope` is a team name (user text) or a mention the service built (`<@U…>`) for a
    person's status, shown by their name.
    """
    person = _MENTION.fullmatch(scope)
    label = owner_label(names, person[1]) if person else escape(scope)
    heading = (names.get(person[1]) or UNKNOWN_NAME) if person else scope
    blocks = [header(f"OKR status · {heading}")]
    if not tree.objectives:
        if why := why_block(tree):
            blocks.append(why)
        blocks.append(
            section(
                "No objectives here yet. Start one with `/okr new`, or link this channel to a "
                "team with `/okr team link &lt;name&gt;`."
            )
        )
        return {"text": f"OKR status · {label}: no objectives yet", "blocks": blocks}
    if (cycle := closed_cycle(tree)) is not None:
        return _graded_status(tree, cycle, blocks, label, names)

    summary = summary_line(tree)
    blocks.append(section(f"*{summary}*"))
    if (health := health_context(tree.alignment)) is not None:
        blocks.append(health)
    if why := why_block(tree):
        blocks.append(why)
    blocks.append({"type": "divider"})
    shown = status_shown(tree)
    collapsed = status_collapsed(tree)
    shown_ids = {o.id for o, _ in shown}
    show_team = not one_team(tree)
    budget = MESSAGE_BLOCKS - 1  # keep one block for the footer
    roots_shown = 0
    for objective, depth in shown:
        fix = fix_actions(objective)
        if len(blocks) + 1 + (fix is not None) > budget:
            break
        roots_shown += depth == 0
        blocks.append(
            objective_section(
                tree,
                objective,
                now=now,
                depth=depth,
                names=names,
                show_team=show_team,
                with_krs=not collapsed,
                children=children_line(tree, objective.id)
                if _counts_below(tree, objective, shown_ids)
                else "",
            )
        )
        if fix is not None:  # Align, or write the why: the owner's to use
            blocks.append(fix)
    left_out = len(tree.roots) - roots_shown
    footer = []
    if left_out > 0:
        footer.append(f"…and {left_out} more top-level objective{'s' if left_out != 1 else ''}.")
    if collapsed:
        footer.append(
            "*⋯ › 🔍 Open* shows an objective with its key results and everything aligned "
            "below it; Ladder's *Home* tab has your team's tree."
        )
    if footer:
        blocks.append(context(" ".join(footer)))
    return {"text": f"OKR status · {label}: {summary}", "blocks": blocks}


def build_mine_message(
    *,
    tree: LoadedTree,
    user_id: str,
    now: datetime,
    names: Names = NO_NAMES,
    sources: Mapping[int, SourceState] | None = None,
) -> dict:
    """`/okr mine` (ephemeral): my objectives and KRs, one set of actions each: Check in,
    Edit, and a ⋯ with what the buttons do not (align, archive). Owners are named only where
    it is not me. `sources`: the data sources of KRs, by KR id: each of my KRs that has one
    says under it whether it syncs or why it fails."""
    notes = {
        kr.id: source_badge(sources[kr.id], now=now)
        for kr in tree.key_results
        if sources and kr.id in sources and kr.owner_id == user_id
    }
    blocks = [header("Your OKRs")]
    if not tree.objectives:
        blocks.append(
            section("You don't own any objectives or key results yet. Draft one with `/okr new`.")
        )
        return {"text": "You don't own any OKRs yet.", "blocks": blocks}
    blocks.append(context(summary_line(tree)))
    per_objective = 2
    budget = (MESSAGE_BLOCKS - len(blocks) - 1) // per_objective
    for objective in tree.objectives[:budget]:
        mine = objective.owner_id == user_id
        blocks.append(
            objective_section(
                tree,
                objective,
                now=now,
                menu=False,
                names=names,
                show_owner=not mine,
                kr_notes=notes,
            )
        )
        oid = objective.id
        blocks.append(
            actions(
                button(
                    "✅ Check in", f"{CHECKIN_OBJECTIVE_ACTION}:{oid}", str(oid), style="primary"
                ),
                button("✏️ Edit", f"{EDIT_OBJECTIVE_ACTION}:{oid}", str(oid)),
                *_align_button(objective, mine),
                objective_menu(oid, ("align", "trend", "archive")),
                block_id=f"mine:{oid}",
            )
        )
    left_out = len(tree.objectives) - budget
    if left_out > 0:
        blocks.append(context(f"…and {left_out} more. Open Ladder's *Home* tab to see them all."))
    n = len(tree.key_results)
    return {
        "text": f"Your OKRs: {len(tree.objectives)} objectives, {n} key results",
        "blocks": blocks,
    }


def _align_button(objective: ObjectiveRow, mine: bool) -> list[dict]:
    """/okr mine: an orphan of mine gets its Align button beside Check in and Edit (Edit
    already writes a missing why)."""
    if not mine or alignment_flag(objective) is not Gap.ORPHAN:
        return []
    return [_fix_button(objective, Gap.ORPHAN)]


def build_objective_confirmation(
    *, tree: LoadedTree, objective: ObjectiveRow, now: datetime, created: bool
) -> dict:
    """The DM to the objective's owner: it does not name (or mention) them to themselves."""
    verb = "created" if created else "updated"
    lines = [f"✅ Objective {verb}."]
    if objective.parent_id is not None and objective.parent_id in {o.id for o in tree.objectives}:
        parent = tree.objective(objective.parent_id)
        lines.append(f"It ladders up to *{escape(parent.title)}*.")
    elif tree.workspace.mission and level_of(objective) is Level.COMPANY:
        lines.append(f"It serves the mission: _{escape(tree.workspace.mission)}_")
    fix = fix_actions(objective)  # aligned to nothing, or no why: the fix, right here
    blocks = [
        section(" ".join(lines)),
        objective_section(tree, objective, now=now, show_owner=False),
        *([fix] if fix is not None else []),
        context(
            "Owners of its key results get a weekly check-in. See everything with `/okr status`."
        ),
    ]
    # The fallback `text` is mrkdwn too: user text is escaped there as well.
    return {"text": f"Objective {verb}: {escape(truncate(objective.title, 150))}", "blocks": blocks}


OBJECTIVE_VIEW_BLOCKS = 100
OBJECTIVE_VIEW_SECTION_LIMIT = 1500  # 100 sections x 1.5k characters: well inside 250 kB


def objective_view_user_ids(tree: LoadedTree, objective_id: int) -> list[str]:
    shown = subtree(tree, objective_id)[: OBJECTIVE_VIEW_BLOCKS - 2]
    return list(dict.fromkeys(o.owner_id for o, _ in shown))


def build_objective_view(
    *, tree: LoadedTree, objective: ObjectiveRow, now: datetime, names: Names = NO_NAMES
) -> dict:
    """One objective with its key results and every objective aligned below it, in full: what
    a collapsed status points to (a modal: only the person who asked sees it)."""
    walk = subtree(tree, objective.id)
    budget = OBJECTIVE_VIEW_BLOCKS - 2
    blocks: list[dict] = []
    if len(walk) > 1:
        below = children_line(tree, objective.id).removeprefix("↳ ")
        blocks.append(context(f"With {below}"))
    show_team = len({o.team_id for o, _ in walk}) > 1
    for o, depth in walk[:budget]:
        blocks.append(
            objective_section(
                tree,
                o,
                now=now,
                depth=depth,
                menu=False,
                limit=OBJECTIVE_VIEW_SECTION_LIMIT,
                names=names,
                show_team=show_team,
            )
        )
    if len(walk) > budget:
        left = len(walk) - budget
        blocks.append(context(f"…and {left} more aligned objectives."))
    return modal(OBJECTIVE_TITLE, blocks, close="Close")
