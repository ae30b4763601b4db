"""Replies to `/okr team …` and `/okr cycle …`, and the grades shown when a cycle closes."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from bot.blocks.messages import build_error, build_notice
from bot.blocks.reviews import review_lines
from bot.blocks.text import (
    GRADE_ICON,
    context,
    escape,
    grade_icon,
    header,
    packed_sections,
    section,
)
from bot.blocks.tree import INDENT
from bot.okr.grading import grade_band, grade_objective
from bot.okr.kinds import GradeBand
from bot.okr.numbers import format_grade
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
    from datetime import date

    from storage.tree import LoadedTree, ObjectiveRow

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


def _day(d: date) -> str:
    return f"{d:%b} {d.day}, {d.year}"


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
            channels = outcome.channels.get(t.id, [])
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


GRADE_KR_TITLE = 48  # characters of a KR's title on the grades post's compact KR line
GRADE_LEGEND = (
    "🟢 0.70 or more · 🟡 0.40–0.69 · 🔴 under 0.40 · for ambitious OKRs 0.60–0.70 is the "
    "sweet spot: 1.00 every time means the targets were too easy."
)


def grade_summary(tree: LoadedTree) -> tuple[float | None, str]:
    """The average grade (weighted by objective weight, as a roll-up is) and the line that
    opens the grades post."""
    graded = [(o.grade, o.weight) for o in tree.objectives if o.grade is not None]
    average = grade_objective(graded)
    if average is None:
        return None, "No objective had key results to grade."
    bands = Counter(grade_band(g) for g, _ in graded)
    n = len(graded)
    counts = " · ".join(f"{GRADE_ICON[b]} {bands[b]}" for b in GradeBand if bands[b])
    return average, (
        f"{GRADE_ICON[grade_band(average)]} *Average grade {format_grade(average)}* across {n} "
        f"objective{'s' if n != 1 else ''} · {counts}"
    )


def _short(title: str) -> str:
    if len(title) <= GRADE_KR_TITLE:
        return title
    return title[: GRADE_KR_TITLE - 1].rstrip() + "…"


def build_cycle_grades(outcome: CycleClosed | CycleGrades, *, limit: int = 45) -> dict:
    """The grades post: the average first, then one line per objective with its KRs' grades
    on one compact line under it (and its verdict, reflection and carried KRs), packed into
    as few sections as Slack allows."""
    tree = outcome.graded
    average, summary = grade_summary(tree)
    blocks = [header(_grades_heading(outcome)), section(summary)]
    entries: list[str] = []
    walk = tree.walk()
    for objective, depth in walk[:limit]:
        grade = objective.grade
        entry = f"{INDENT * depth}{grade_icon(grade)} *{format_grade(grade)}*  {escape(objective.title)}"
        krs = [
            f"{grade_icon(kr.grade)} {format_grade(kr.grade)} {escape(_short(kr.title))}"
            for kr in tree.krs_of(objective.id)
        ]
        if krs:
            entry += f"\n{INDENT * (depth + 1)}" + " · ".join(krs)
        entry += "".join(f"\n{line}" for line in _review_lines(outcome, objective, depth))
        entries.append(entry)
    if len(walk) > limit:
        entries.append(f"…and {len(walk) - limit} more objectives: see Home")
    blocks += packed_sections(entries)
    blocks.append(context(GRADE_LEGEND, _reflections_note(outcome)))
    fallback = f"{escape(outcome.cycle.name)} is closed: grades"
    if average is not None:
        fallback += f", average {format_grade(average)}"
    return {"text": fallback, "blocks": blocks}


# -- Review at the end of a cycle (bot/blocks/reviews.py): kept apart from the grade lines.


def _grades_heading(outcome: CycleClosed | CycleGrades) -> str:
    if isinstance(outcome, CycleGrades):
        return f"{outcome.cycle.name} · grades and reflections"
    return f"{outcome.cycle.name} is closed · grades"


def _review_lines(
    outcome: CycleClosed | CycleGrades, objective: ObjectiveRow, depth: int
) -> list[str]:
    """The verdict against the objective's expectation, and (in `/okr cycle grades`) its
    owner's reflection and where its KRs were carried."""
    if not isinstance(outcome, CycleGrades):
        return review_lines(objective, INDENT * (depth + 1))
    return review_lines(
        objective,
        INDENT * (depth + 1),
        reflection=outcome.reflections.get(objective.id),
        carried=outcome.carried,
        krs=outcome.graded.krs_of(objective.id),
    )


def _reflections_note(outcome: CycleClosed | CycleGrades) -> str:
    expectation = "Committed objectives are expected at 1.00, aspirational ones at about 0.70."
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
