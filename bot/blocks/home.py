"""The App Home tab: the why, my key results, my team's tree, the company's objectives.

Owners are shown by name (`names`), never mentioned.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.blocks.sources import source_badge
from bot.blocks.text import escape, mrkdwn, plain, truncate
from bot.blocks.tree import (
    CHECKIN_ALL_ACTION,
    CHECKIN_KR_ACTION,
    INDENT,
    NEW_OBJECTIVE_ACTION,
    NO_NAMES,
    Names,
    kr_line,
    one_team,
    summary_line,
    tree_sections,
    why_block,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.services.sources import SourceState
    from storage.models import KeyResult
    from storage.tree import LoadedTree

VIEW_BLOCKS = 100
MY_KRS_MAX = 20
HOME_SECTION_LIMIT = 1500  # 100 blocks x 1.5k characters stays well inside 250 kB
# The objective named after each of my KRs: two KRs with the same title read apart.
KR_OBJECTIVE_MAX = 40


def _of_objective(tree: LoadedTree, kr: KeyResult) -> str:
    """ " · _Ship the mobile app_": which objective a KR of mine belongs to, kept short."""
    title = tree.objective(kr.objective_id).title
    return f" · _{escape(truncate(title, KR_OBJECTIVE_MAX))}_"


def _more(n: int, what: str) -> dict:
    return {"type": "context", "elements": [mrkdwn(f"…and {n} more {what}.")]}


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
    blocks: list[dict] = [{"type": "header", "text": plain("Ladder · OKRs", 150)}]
    why = why_block(company_tree)
    blocks.append(
        why
        or {
            "type": "context",
            "elements": [
                mrkdwn(
                    "No vision or mission yet: an admin can set them with `/okr vision …` and "
                    "`/okr mission …`."
                )
            ],
        }
    )
    blocks.append(
        {
            "type": "actions",
            "block_id": "home_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": NEW_OBJECTIVE_ACTION,
                    "style": "primary",
                    "text": plain("➕ New objective", 75),
                    "value": "home",
                }
            ],
        }
    )

    my_krs = [kr for kr in mine.key_results if kr.owner_id == user_id]
    blocks.append({"type": "header", "text": plain("Your key results", 150)})
    if not my_krs:
        blocks.append({"type": "section", "text": mrkdwn("You don't own a key result yet.")})
    else:  # one modal for every KR I own, as `/okr checkin` opens
        blocks.append(
            {
                "type": "actions",
                "block_id": "home_checkin_all",
                "elements": [
                    {
                        "type": "button",
                        "action_id": CHECKIN_ALL_ACTION,
                        "style": "primary",
                        "text": plain(
                            "✅ Check in on all"
                            if len(my_krs) == 1
                            else f"✅ Check in on all {len(my_krs)}",
                            75,
                        ),
                        "value": "home",
                    }
                ],
            }
        )
    for kr in my_krs[:MY_KRS_MAX]:
        blocks.append(
            {
                "type": "section",
                "block_id": f"home_kr:{kr.id}",
                "text": mrkdwn(
                    kr_line(mine, kr)
                    + _of_objective(mine, kr)
                    + (
                        f"\n{INDENT}{source_badge(sources[kr.id], now=now)}"
                        if kr.id in sources
                        else ""
                    )
                ),
                "accessory": {
                    "type": "button",
                    "action_id": f"{CHECKIN_KR_ACTION}:{kr.id}",
                    "text": plain("Check in", 75),
                    "value": str(kr.id),
                },
            }
        )
    if len(my_krs) > MY_KRS_MAX:
        blocks.append(_more(len(my_krs) - MY_KRS_MAX, "key results: see `/okr mine`"))

    # What is left is shared by the two trees, the team's first; one block each for footers.
    remaining = VIEW_BLOCKS - len(blocks) - 6
    shown: frozenset[int] = frozenset()
    if team_tree is not None and team_name is not None:
        blocks.append({"type": "header", "text": plain(f"Your team · {team_name}", 150)})
        team_budget = remaining // 2 if company_tree.objectives else remaining
        if team_tree.objectives:  # the summary first, then the tree
            blocks.append({"type": "context", "elements": [mrkdwn(summary_line(team_tree))]})
        sections, left = tree_sections(
            team_tree,
            now=now,
            budget=team_budget,
            limit=HOME_SECTION_LIMIT,
            names=names,
            show_team=not one_team(team_tree),
        )
        shown = frozenset(o.id for o, _ in team_tree.walk()[:team_budget])
        blocks.extend(sections or [{"type": "section", "text": mrkdwn("No objectives yet.")}])
        if left:
            blocks.append(_more(left, "team objectives"))
        remaining = VIEW_BLOCKS - len(blocks) - 3

    blocks.append({"type": "header", "text": plain("Company objectives", 150)})
    sections, left = tree_sections(
        company_tree,
        now=now,
        budget=max(remaining, 1),
        limit=HOME_SECTION_LIMIT,
        skip=shown,
        names=names,
    )
    blocks.extend(
        sections
        or [
            {
                "type": "section",
                "text": mrkdwn("No company-level objectives yet. Start one with *New objective*."),
            }
        ]
    )
    if left:
        blocks.append(_more(left, "objectives: use `/okr status all` in a channel"))
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS]}
