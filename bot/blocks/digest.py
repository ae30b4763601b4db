"""The team digest posted to channels on the digest day: a pure builder over plain data.

Read at a glance: objectives that moved come first, biggest change first, each with its
status dot; objectives that did not move are folded into one count. A blocker shows once,
attributed to the person who typed it. People are shown by display name; mentions (`<@U…>`,
which notify) only when the workspace turned digest mentions on. All user text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.text import (
    STATUS_ICON,
    context,
    escape,
    header,
    packed_sections,
    percent,
    section,
    truncate,
    user,
)
from bot.okr.kinds import Status
from bot.services.digests import (
    BlockerNote,
    ObjectiveChange,
    StatusTurn,
    TeamDigest,
    points_between,
)

MESSAGE_BLOCKS = 50
SECTION_LIMIT = 3000
MAX_OBJECTIVES, MAX_TURNS, MAX_BLOCKERS, MAX_MENTIONS = 40, 20, 20, 100
BLOCKER_SHOWN = 300  # characters of a blocker's text in the digest


def _person(user_id: str, digest: TeamDigest) -> str | None:
    """A person as the digest shows them: a mention when the workspace wants pings, else
    their display name (escaped); None when no name is known and mentions are off."""
    if digest.mentions:
        return user(user_id)
    name = digest.names.get(user_id)
    return escape(name) if name else None


def progress_change(before: float | None, now: float | None) -> str:
    """'22% → 31% (+9)': points, computed from the shown (rounded) percentages."""
    if now is None:
        return "—"
    if before is None:
        return f"{percent(now)} (new)"
    delta = points_between(before, now)
    sign = f"+{delta}" if delta > 0 else str(delta) if delta < 0 else "±0"
    return f"{percent(before)} → {percent(now)} ({sign})"


def _capped(lines: list[str], cap: int, what: str) -> list[str]:
    if len(lines) <= cap:
        return lines
    return [*lines[:cap], f"…and {len(lines) - cap} more {what}"]


def _dot(status: Status | None) -> str:
    return "⚪" if status is None else STATUS_ICON[status]


def _objective_line(change: ObjectiveChange) -> str:
    return (
        f"{_dot(change.status)} *{escape(change.title)}* "
        f"{progress_change(change.before, change.now)}"
    )


def movers_first(changes: Sequence[ObjectiveChange]) -> list[ObjectiveChange]:
    """The objectives that moved, biggest change first (new ones after, in tree order)."""
    moved = [c for c in changes if c.moved]
    return sorted(moved, key=lambda c: (c.points is None, -abs(c.points or 0)))


def _flat_line(flat: Sequence[ObjectiveChange]) -> str:
    """The objectives that did not move, folded into one count with their status dots."""
    counts: dict[str, int] = {}
    for change in flat:
        counts[_dot(change.status)] = counts.get(_dot(change.status), 0) + 1
    dots = [f"{dot} {counts[dot]}" for dot in ("🔴", "🟡", "🟢", "⚪") if dot in counts]
    if quiet := counts.get(STATUS_ICON[Status.NO_RECENT_DATA], 0):
        dots.append(f"💤 {quiet} with no check-in for two periods")
    n = len(flat)
    return f"➖ {n} objective{'s' if n != 1 else ''} did not move · {' '.join(dots)}"


def _turn_line(turn: StatusTurn, digest: TeamDigest) -> str:
    line = (
        f"• {STATUS_ICON[turn.now]} *{escape(turn.kr_title)}* is now {turn.now.label} "
        f"(was {turn.before.label}) · _{escape(turn.objective_title)}_"
    )
    owner = _person(turn.owner_id, digest)
    return f"{line} · {owner}" if owner else line


def _blocker_line(note: BlockerNote, digest: TeamDigest) -> str:
    text = escape(truncate(note.text.replace("\n", " "), BLOCKER_SHOWN))
    author = _person(note.author_id, digest) or "someone"
    on = f" (on *{escape(note.kr_title)}*)" if note.kr_title else ""
    return f"• {author}: “{text}”{on}"


def _people(n: int) -> str:
    return "1 person hasn't" if n == 1 else f"{n} people haven't"


def _missing_text(digest: TeamDigest) -> str:
    missing = digest.missing
    if not missing:
        return "✅ *Everyone has checked in.*"
    head = f"⏳ *{_people(len(missing))} checked in yet:*"
    # Mentions, or names sorted as people read them; those without a known name are counted.
    shown = [p for p in (_person(u, digest) for u in missing) if p]
    if not digest.mentions:
        shown.sort(key=str.casefold)
    unnamed = len(missing) - len(shown)
    listed = shown[:MAX_MENTIONS]
    more = len(shown) - len(listed) + unnamed
    if not listed:
        return head.removesuffix(":*") + ".*"
    tail = f" and {more} more" if more else ""
    return f"{head} {', '.join(listed)}{tail}"


def build_team_digest(digest: TeamDigest) -> dict:
    """The digest message: progress change, KRs that slipped, blockers, who is missing."""
    scope = escape(digest.scope)
    blocks = [
        header(f"📬 OKR digest · {digest.scope}"),
        context(
            f"Period starting {digest.period:%a} {digest.period:%b} {digest.period.day}"
            " · progress since the end of the previous period"
        ),
    ]
    if digest.objectives:
        movers = movers_first(digest.objectives)
        flat = [c for c in digest.objectives if not c.moved]
        lines = _capped([_objective_line(c) for c in movers], MAX_OBJECTIVES, "objectives")
        if flat:
            lines.append(_flat_line(flat))
        blocks += packed_sections(["*📈 Progress*", *lines], each=SECTION_LIMIT // 2)
    else:
        blocks.append(section("No objectives in the running cycle."))
    if digest.turned:
        lines = _capped([_turn_line(t, digest) for t in digest.turned], MAX_TURNS, "key results")
        blocks += packed_sections(
            ["*⚠️ Slipped since last period*", *lines], each=SECTION_LIMIT // 2
        )
    if digest.blockers:
        lines = _capped(
            [_blocker_line(b, digest) for b in digest.blockers], MAX_BLOCKERS, "blockers"
        )
        blocks += packed_sections(["*🚧 Blockers*", *lines], each=SECTION_LIMIT // 2)
    blocks.append(section(_missing_text(digest)))
    more = "`/okr status all`" if digest.company else "`/okr status` in this channel"
    blocks.append(context(f"The whole picture: {more}"))
    if len(blocks) > MESSAGE_BLOCKS:
        blocks = [*blocks[: MESSAGE_BLOCKS - 1], context("…the digest was shortened to fit Slack.")]
    return {"text": truncate(digest_summary(digest, scope), SECTION_LIMIT), "blocks": blocks}


def digest_summary(digest: TeamDigest, scope: str) -> str:
    """The notification line: the objectives, then only the counts that are not zero."""
    n = len(digest.objectives)
    counts = [
        (len(digest.turned), "key result slipped", "key results slipped"),
        (len(digest.blockers), "blocker", "blockers"),
        (len(digest.missing), "not checked in yet", "not checked in yet"),
    ]
    parts = [f"{count} {one if count == 1 else many}" for count, one, many in counts if count]
    return f"OKR digest for {scope}: {n} objective{'s' if n != 1 else ''}" + "".join(
        f", {p}" for p in parts
    )
