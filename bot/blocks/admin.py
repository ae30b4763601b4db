"""Replies to `/okr team …` and `/okr cycle …`, and the grades shown when a cycle closes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.blocks.messages import build_error, build_notice
from bot.blocks.reviews import review_lines
from bot.blocks.text import GRADE_ICON, escape, mrkdwn, plain, truncate
from bot.blocks.tree import INDENT
from bot.okr.grading import grade_band
from bot.services.admin import (
    CycleClosed,
    CycleCreated,
    CycleGrades,
    CycleList,
    CycleOutcome,
    TeamList,
    TeamOutcome,
    Unrecognized,
)

if TYPE_CHECKING:
    from storage.models import Objective

# Placeholders are written &lt;…&gt;: a bare <name> in mrkdwn is a link to "name".
TEAM_USAGE = (
    "`/okr team` lists teams · `/okr team new &lt;name&gt; [parent &lt;team&gt;]` · "
    "`/okr team link &lt;name&gt;` links this channel · "
    "`/okr team move &lt;name&gt; under &lt;team|none&gt;`"
)
CYCLE_USAGE = (
    "`/okr cycle` lists cycles · `/okr cycle new Q1 2027` (or `new &lt;name&gt; &lt;YYYY-MM-DD&gt; "
    "&lt;YYYY-MM-DD&gt;`) · `/okr cycle close &lt;name&gt;` · "
    "`/okr cycle grades &lt;name&gt;` shows a closed cycle's grades and reflections"
)


def _day(d: object) -> str:
    return f"{d:%b} {d.day}, {d.year}"  # type: ignore[attr-defined]


def build_team_reply(outcome: TeamOutcome) -> dict:
    if isinstance(outcome, Unrecognized):
        return build_error(f"I didn't get that. {TEAM_USAGE}")
    if isinstance(outcome, TeamList):
        if not outcome.teams:
            return build_notice(f"No teams yet. {TEAM_USAGE}")
        names = {t.id: t.name for t in outcome.teams}
        lines = []
        for t in outcome.teams:
            parent = f" (in {escape(names[t.parent_id])})" if t.parent_id in names else ""
            channels = outcome.channels.get(t.id, [])  # type: ignore[arg-type]
            linked = " · " + ", ".join(f"<#{c}>" for c in channels) if channels else ""
            lines.append(f"• *{escape(t.name)}*{parent}{linked}")
        return build_notice("*Teams*\n" + "\n".join(lines), icon="👥")
    name = escape(outcome.team.name)
    if outcome.action == "created":
        where = f" under *{escape(outcome.parent.name)}*" if outcome.parent else ""
        return build_notice(
            f"Team *{name}*{where} created. In its channel, type `/okr team link {name}`.",
            icon="✅",
        )
    if outcome.action == "linked":
        return build_notice(
            f"This channel is now linked to *{name}*: `/okr status` here shows its tree.",
            icon="🔗",
        )
    where = f"under *{escape(outcome.parent.name)}*" if outcome.parent else "at the top level"
    return build_notice(f"*{name}* is now {where}.", icon="✅")


def build_cycle_reply(outcome: CycleOutcome) -> dict:
    if isinstance(outcome, Unrecognized):
        return build_error(f"I didn't get that. {CYCLE_USAGE}")
    if isinstance(outcome, CycleList):
        if not outcome.cycles:
            return build_notice(f"No cycles yet. {CYCLE_USAGE}")
        lines = [
            f"• *{escape(c.name)}* {_day(c.start_date)} – {_day(c.end_date)}"
            + (" · open" if c.is_open else " · closed")
            for c in outcome.cycles
        ]
        return build_notice("*Cycles*\n" + "\n".join(lines), icon="🗓️")
    if isinstance(outcome, CycleCreated):
        c = outcome.cycle
        return build_notice(
            f"Cycle *{escape(c.name)}* created: {_day(c.start_date)} – {_day(c.end_date)}.",
            icon="✅",
        )
    return build_cycle_grades(outcome)


def build_cycle_grades(outcome: CycleClosed | CycleGrades, *, limit: int = 45) -> dict:
    tree = outcome.graded
    blocks: list[dict] = [{"type": "header", "text": plain(_grades_heading(outcome), 150)}]
    for objective, depth in tree.walk()[:limit]:
        grade = objective.grade
        icon = GRADE_ICON[grade_band(grade)] if grade is not None else "⚪"
        lines = [
            f"{INDENT * depth}{icon} *{grade if grade is not None else '—'}*  "
            f"{escape(objective.title)}"
        ]
        for kr in tree.krs_of(objective.id):
            kr_icon = GRADE_ICON[grade_band(kr.grade)] if kr.grade is not None else "⚪"
            lines.append(f"{INDENT * (depth + 1)}{kr_icon} {kr.grade} · {escape(kr.title)}")
        lines += _review_lines(outcome, objective, depth)
        blocks.append({"type": "section", "text": mrkdwn(truncate("\n".join(lines), 3000))})
    blocks.append(
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    "0.7 or more is green, 0.4–0.69 yellow, under 0.4 red. For ambitious OKRs 0.6–0.7 is "
                    "the sweet spot: 1.0 every time means the targets were too easy."
                )
            ],
        }
    )
    blocks.append({"type": "context", "elements": [mrkdwn(_reflections_note(outcome))]})
    return {"text": f"{escape(outcome.cycle.name)} is closed: grades", "blocks": blocks}


# -- Review at the end of a cycle (bot/blocks/reviews.py): kept apart from the grade lines.


def _grades_heading(outcome: CycleClosed | CycleGrades) -> str:
    if isinstance(outcome, CycleGrades):
        return f"{outcome.cycle.name} · grades and reflections"
    return f"{outcome.cycle.name} is closed · grades"


def _review_lines(
    outcome: CycleClosed | CycleGrades, objective: Objective, depth: int
) -> list[str]:
    """The verdict against the objective's expectation, and (in `/okr cycle grades`) its
    owner's reflection and where its KRs were carried."""
    if not isinstance(outcome, CycleGrades):
        return review_lines(objective, INDENT * (depth + 1))
    return review_lines(
        objective,
        INDENT * (depth + 1),
        reflection=outcome.reflections.get(objective.id),  # type: ignore[arg-type]
        carried=outcome.carried,
        krs=outcome.graded.krs_of(objective.id),  # type: ignore[arg-type]
    )


def _reflections_note(outcome: CycleClosed | CycleGrades) -> str:
    expectation = "Committed objectives are expected at 1.0, aspirational ones at about 0.7."
    if isinstance(outcome, CycleClosed) and outcome.asked:
        n = outcome.asked
        return (
            f"{expectation}\n📝 {n} owner{'s' if n != 1 else ''} will get a DM asking for a "
            f"short reflection. Read them later with "
            f"`/okr cycle grades {escape(outcome.cycle.name)}`."
        )
    if isinstance(outcome, CycleGrades):
        written = len(outcome.reflections)
        total = len(outcome.graded.objectives)
        return f"{expectation}\n💬 {written} of {total} objectives have a reflection."
    return expectation
