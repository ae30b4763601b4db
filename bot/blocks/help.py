"""`/okr help` and the answer to an unknown subcommand."""

from __future__ import annotations

from bot.blocks.text import escape, mrkdwn, plain

COMMANDS: list[tuple[str, str, str]] = [
    ("new", "Draft an objective and its key results in a form", "/okr new Launch the platform"),
    (
        "status",
        "Show a tree with progress (this channel's team, a team, a person, or all)",
        "/okr status · /okr status Platform · /okr status @ana · /okr status all",
    ),
    (
        "mine",
        "Your objectives and key results, with Check in and Edit (only you see it)",
        "/okr mine",
    ),
    (
        "health",
        "Where alignment breaks: orphans, missing whys, stale or contradictory KRs, with fixes",
        "/okr health · /okr health Platform",
    ),
    (
        "checkin",
        "Check in on all your key results now; admins: send this week's prompts now",
        "/okr checkin · /okr checkin send",
    ),
    (
        "away",
        "Pause your weekly check-in prompts until a date (`/okr back` resumes them)",
        "/okr away until 2026-12-31 · /okr back",
    ),
    (
        "team",
        "List teams, create one, link this channel, or (admins) move a team or relink a channel",
        "/okr team new Platform parent Engineering · /okr team link Platform",
    ),
    (
        "cycle",
        "List, create or close cycles (closing shows the grades and asks owners for a "
        "reflection); `grades` shows a closed cycle's grades with the reflections",
        "/okr cycle new Q1 2027 · /okr cycle new Sprint 2027-01-05 2027-02-15 · "
        "/okr cycle close Q4 2026 · /okr cycle grades Q4 2026",
    ),
    ("vision", "Show or set the organization's vision (admins)", "/okr vision Empowering…"),
    ("mission", "Show or set the organization's mission (admins)", "/okr mission Deliver…"),
    (
        "settings",
        "Check-in day, time, reminders, default time zone and digest (admins)",
        "/okr settings",
    ),
    (
        "export",
        "All OKRs with their check-in history as a CSV file in your DMs; any member may, "
        "as everyone sees them with `/okr status all`",
        "/okr export",
    ),
    ("help", "This help", "/okr help"),
]
SUBCOMMANDS = [name for name, _, _ in COMMANDS]


def build_help(*, unknown: str | None = None, suggestion: str | None = None) -> dict:
    blocks: list[dict] = []
    if unknown is not None:
        hint = f" Did you mean `/okr {suggestion}`?" if suggestion else ""
        blocks.append(
            {"type": "section", "text": mrkdwn(f"🤔 I don't know `/okr {escape(unknown)}`.{hint}")}
        )
    blocks.append({"type": "header", "text": plain("Ladder: OKRs where your team talks", 150)})
    lines = [f"*`/okr {name}`* — {what}\n_e.g._ `{example}`" for name, what, example in COMMANDS]
    blocks.append({"type": "section", "text": mrkdwn("\n".join(lines))})
    blocks.append(
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    "Objectives are ambitious and qualitative; key results are the 2–5 numbers that show "
                    "you got there. Every week Ladder asks KR owners for a one-click check-in."
                )
            ],
        }
    )
    text = "Ladder commands: " + ", ".join(f"/okr {n}" for n in SUBCOMMANDS)
    if unknown is not None:
        text = f"Unknown command /okr {escape(unknown)}. " + text
    return {"text": text, "blocks": blocks}
