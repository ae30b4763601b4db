"""The App Home tab: the why, my key results, my team's tree, the company's objectives.

Owners are shown by name (`names`), never mentioned.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.blocks.alignment_line import health_context
from bot.blocks.sources import source_badge
from bot.blocks.text import actions, button, context, escape, header, section, truncate
from bot.blocks.tree import (
    CHECKIN_ALL_ACTION,
    CHECKIN_KR_ACTION,
    INDENT,
    NEW_OBJECTIVE_ACTION,
    NO_NAMES,
    Names,
    fix_actions,
    kr_line,
    level_of,
    objective_section,
    one_team,
    summary_line,
    tree_sections,
    why_block,
)
from bot.okr.kinds import Level

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.services.sources import SourceState
    from storage.tree import KeyResultRow, LoadedTree

VIEW_BLOCKS = 100
MY_KRS_MAX = 20
MY_PERSONAL_MAX = 10  # personal objectives shown; the rest are in `/okr mine`
HOME_SECTION_LIMIT = 1500  # 100 blocks x 1.5k characters stays well inside 250 kB
# The objective named after each of my KRs: two KRs with the same title read apart.
KR_OBJECTIVE_MAX = 40


def _of_objective(tree: LoadedTree, kr: KeyResultRow) -> str:
    """ " · _Ship the mobile app_": which objective a KR of mine belongs to, kept short."""
    title = tree.objective(kr.objective_id).title
    return f" · _{escape(truncate(title, KR_OBJECTIVE_MAX))}_"


def _more(n: int, what: str) -> dict:
    return context(f"…and {n} more {what}.")


def _personal_section(mine: LoadedTree, *, user_id: str, now: datetime) -> list[dict]:
    """My own objectives (personal level), each flagged with its Align button when it ladders
    up to nothing; nothing at all when I have none."""
    personal = [
        o for o in mine.objectives if o.owner_id == user_id and level_of(o) is Level.PERSONAL
    ]
    if not personal:
        return []
    blocks = [header("Your personal objectives")]
    for objective in personal[:MY_PERSONAL_MAX]:
        blocks.append(
            objective_section(
                mine,
                objective,
                now=now,
                show_owner=False,
                show_team=False,
                limit=HOME_SECTION_LIMIT,
            )
        )
        if (fix := fix_actions(objective)) is not None:
            blocks.append(fix)
    if len(personal) > MY_PERSONAL_MAX:
        blocks.append(
            _more(len(personal) - MY_PERSONAL_MAX, "personal objectives: see `/okr mine`")
        )
    return blocks


def build_home(
    *,
    mine: LoadedTree,
    user_id: str,
    team_name: str | None,
    team_tree: LoadedTree | None,
    company_tree: LoadedTree,
    now: datetime,
    names: Names = NO_NAMES,
    sources: Mapping[int, SourceState] | None = None,
) -> dict:
    """`sources`: the data sources of my KRs, by KR id; each says under its KR whether it
    syncs or why it fails."""
    sources = sources or {}
    blocks = [header("Ladder · OKRs")]
    blocks.append(
        why_block(company_tree)
        or context(
            "No vision or mission yet: an admin can set them with `/okr vision …` and "
            "`/okr mission …`."
        )
    )
    if (health := health_context(company_tree.alignment)) is not None:
        blocks.append(health)  # the whole company's alignment health, in one line
    new = button("➕ New objective", NEW_OBJECTIVE_ACTION, "home", style="primary")
    blocks.append(actions(new, block_id="home_actions"))

    my_krs = [kr for kr in mine.key_results if kr.owner_id == user_id]
    blocks.append(header("Your key results"))
    if not my_krs:
        blocks.append(section("You don't own a key result yet."))
    else:  # one modal for every KR I own, as `/okr checkin` opens
        label = "✅ Check in on all" if len(my_krs) == 1 else f"✅ Check in on all {len(my_krs)}"
        check_in_all = button(label, CHECKIN_ALL_ACTION, "home", style="primary")
        blocks.append(actions(check_in_all, block_id="home_checkin_all"))
    for kr in my_krs[:MY_KRS_MAX]:
        text = kr_line(mine, kr) + _of_objective(mine, kr)
        if kr.id in sources:
            text += f"\n{INDENT}{source_badge(sources[kr.id], now=now)}"
        check_in = button("Check in", f"{CHECKIN_KR_ACTION}:{kr.id}", str(kr.id))
        blocks.append(section(text, block_id=f"home_kr:{kr.id}", accessory=check_in))
    if len(my_krs) > MY_KRS_MAX:
        blocks.append(_more(len(my_krs) - MY_KRS_MAX, "key results: see `/okr mine`"))

    blocks.extend(_personal_section(mine, user_id=user_id, now=now))

    # What is left is shared by the two trees, the team's first; one block each for footers.
    remaining = VIEW_BLOCKS - len(blocks) - 6
    shown: frozenset[int] = frozenset()
    if team_tree is not None and team_name is not None:
        blocks.append(header(f"Your team · {team_name}"))
        team_budget = remaining // 2 if company_tree.objectives else remaining
        if team_tree.objectives:  # the summary first, then the tree
            blocks.append(context(summary_line(team_tree)))
        sections, left, shown = tree_sections(
            team_tree,
            now=now,
            budget=team_budget,
            limit=HOME_SECTION_LIMIT,
            names=names,
            show_team=not one_team(team_tree),
            fixes_for=user_id,
        )
        blocks.extend(sections or [section("No objectives yet.")])
        if left:
            blocks.append(_more(left, "team objectives"))
        remaining = VIEW_BLOCKS - len(blocks) - 3

    blocks.append(header("Company objectives"))
    sections, left, _ = tree_sections(
        company_tree,
        now=now,
        budget=max(remaining, 1),
        limit=HOME_SECTION_LIMIT,
        skip=shown,
        names=names,
        fixes_for=user_id,
    )
    blocks.extend(
        sections or [section("No company-level objectives yet. Start one with *New objective*.")]
    )
    if left:
        blocks.append(_more(left, "objectives: use `/okr status all` in a channel"))
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS]}
