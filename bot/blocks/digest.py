"""The team digest posted to channels on the digest day: a pure builder over plain data.

Mentions (`<@U…>`) appear only when the workspace turned digest mentions on; otherwise the
digest names nobody and only counts who has not checked in. All user text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.blocks.text import STATUS_ICON, escape, mrkdwn, percent, plain, truncate, user
from bot.okr.kinds import Status

MESSAGE_BLOCKS = 50
SECTION_LIMIT = 3000
INDENT = "\u2003"  # an em space: Slack keeps it, unlike leading ASCII spaces
MAX_OBJECTIVES, MAX_TURNS, MAX_BLOCKERS, MAX_MENTIONS = 40, 20, 20, 100
BLOCKER_SHOWN = 300  # characters of a blocker's text in the digest


@dataclass(frozen=True)
class ObjectiveChange:
    title: str
    before: float | None  # progress at the end of the previous period; None = new since
    now: float | None  # None = nothing to measure
    depth: int = 0


@dataclass(frozen=True)
class StatusTurn:
    """A KR whose status got worse since the previous period."""

    kr_title: str
    objective_title: str
    owner_id: str
    before: Status
    now: Status


@dataclass(frozen=True)
class BlockerNote:
    author_id: str
    kr_title: str
    text: str


@dataclass(frozen=True)
class TeamDigest:
    scope: str  # the team's name, or the workspace's for the company digest (user text)
    period: date  # the period the digest reports on
    objectives: Sequence[ObjectiveChange] = ()
    turned: Sequence[StatusTurn] = ()
    blockers: Sequence[BlockerNote] = ()
    missing: Sequence[str] = field(default_factory=tuple)  # user ids, sorted
    mentions: bool = False
    company: bool = False  # the whole company (the workspace's digest channel)


def progress_change(before: float | None, now: float | None) -> str:
    """'22% → 31% (+9)': points, computed from the shown (rounded) percentages."""
    if now is None:
        return "—"
    if before is None:
        return f"{percent(now)} (new)"
    delta = round(now * 100) - round(before * 100)
    sign = f"+{delta}" if delta > 0 else str(delta) if delta < 0 else "±0"
    return f"{percent(before)} → {percent(now)} ({sign})"


def _packed(heading: str, lines: Sequence[str]) -> list[dict]:
    """Sections holding the heading and lines, each section within Slack's 3000 characters."""
    sections: list[dict] = []
    text = heading
    for line in lines:
        line = truncate(line, SECTION_LIMIT // 2)
        if len(text) + 1 + len(line) > SECTION_LIMIT:
            sections.append({"type": "section", "text": mrkdwn(text)})
            text = line
        else:
            text = f"{text}\n{line}"
    sections.append({"type": "section", "text": mrkdwn(text)})
    return sections


def _capped(lines: list[str], cap: int, what: str) -> list[str]:
    if len(lines) <= cap:
        return lines
    return [*lines[:cap], f"…and {len(lines) - cap} more {what}"]


def _objective_line(change: ObjectiveChange) -> str:
    lead = INDENT * change.depth + ("↳ " if change.depth else "• ")
    return f"{lead}*{escape(change.title)}* {progress_change(change.before, change.now)}"


def _turn_line(turn: StatusTurn, mentions: bool) -> str:
    line = (
        f"• {STATUS_ICON[turn.now]} *{escape(turn.kr_title)}* is now {turn.now.label} "
        f"(was {turn.before.label}) · _{escape(turn.objective_title)}_"
    )
    return f"{line} · {user(turn.owner_id)}" if mentions else line


def _blocker_line(note: BlockerNote, mentions: bool) -> str:
    text = escape(truncate(note.text.replace("\n", " "), BLOCKER_SHOWN))
    line = f"• “{text}” — on *{escape(note.kr_title)}*"
    return f"{line} · {user(note.author_id)}" if mentions else line


def _people(n: int) -> str:
    return "1 person hasn't" if n == 1 else f"{n} people haven't"


def _missing_text(missing: Sequence[str], mentions: bool) -> str:
    if not missing:
        return "✅ *Everyone has checked in.*"
    head = f"⏳ *{_people(len(missing))} checked in yet.*"
    if not mentions:
        return head
    shown = [user(u) for u in missing[:MAX_MENTIONS]]
    more = f" and {len(missing) - MAX_MENTIONS} more" if len(missing) > MAX_MENTIONS else ""
    return f"{head}\n{', '.join(shown)}{more}"


def build_team_digest(digest: TeamDigest) -> dict:
    """The digest message: progress change, KRs that slipped, blockers, who is missing."""
    scope = escape(digest.scope)
    blocks: list[dict] = [
        {"type": "header", "text": plain(f"📬 OKR digest · {digest.scope}", 150)},
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    f"Period starting {digest.period:%a} {digest.period:%b} {digest.period.day}"
                    " · progress since the end of the previous period"
                )
            ],
        },
    ]
    if digest.objectives:
        lines = _capped(
            [_objective_line(c) for c in digest.objectives], MAX_OBJECTIVES, "objectives"
        )
        blocks += _packed("*📈 Progress*", lines)
    else:
        blocks.append({"type": "section", "text": mrkdwn("No objectives in the running cycle.")})
    if digest.turned:
        lines = _capped(
            [_turn_line(t, digest.mentions) for t in digest.turned], MAX_TURNS, "key results"
        )
        blocks += _packed("*⚠️ Slipped since last period*", lines)
    if digest.blockers:
        lines = _capped(
            [_blocker_line(b, digest.mentions) for b in digest.blockers], MAX_BLOCKERS, "blockers"
        )
        blocks += _packed("*🚧 Blockers*", lines)
    blocks.append(
        {"type": "section", "text": mrkdwn(_missing_text(digest.missing, digest.mentions))}
    )
    more = "`/okr status all`" if digest.company else "`/okr status` in this channel"
    blocks.append({"type": "context", "elements": [mrkdwn(f"The whole picture: {more}")]})
    if len(blocks) > MESSAGE_BLOCKS:
        blocks = [
            *blocks[: MESSAGE_BLOCKS - 1],
            {"type": "context", "elements": [mrkdwn("…the digest was shortened to fit Slack.")]},
        ]
    n = len(digest.objectives)
    text = (
        f"OKR digest for {scope}: {n} objective{'s' if n != 1 else ''}, "
        f"{len(digest.turned)} key result{'s' if len(digest.turned) != 1 else ''} slipped, "
        f"{len(digest.blockers)} blocker{'s' if len(digest.blockers) != 1 else ''}, "
        f"{len(digest.missing)} not checked in yet"
    )
    return {"text": truncate(text, SECTION_LIMIT), "blocks": blocks}
