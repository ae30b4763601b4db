"""`/okr help` and the answer to an unknown subcommand.

Everyday commands come first, with buttons for the common ones; set-up and admin commands
follow, in full for admins and folded to one line for everyone else.
"""

from __future__ import annotations

from bot.blocks.text import actions, button, context, escape, header, section

# What most people use every week: (subcommand, what it does, an example).
EVERYDAY: list[tuple[str, str, str]] = [
    (
        "new",
        "Draft an objective and its key results in a form: the company's (say which part of "
        "the vision or mission it serves), a team's, or your own (personal)",
        "/okr new Launch the platform",
    ),
    ("checkin", "Check in on all your key results now", "/okr checkin"),
    (
        "status",
        "Progress of this channel's team, a team, a person (their own objectives too), or all; "
        "objectives aligned to nothing are flagged with an Align button",
        "/okr status Platform · /okr status @maria · /okr status all",
    ),
    ("mine", "Your objectives and key results (only you see it)", "/okr mine"),
    (
        "health",
        "Where alignment breaks (orphans, missing whys, stale KRs), with a fix for each",
        "/okr health Platform",
    ),
    (
        "chart",
        "A picture of how an objective or key result is trending against its pace",
        "/okr chart Grow revenue",
    ),
    (
        "away",
        "Pause your check-in prompts until a date; `/okr back` resumes",
        "/okr away until 2026-12-31",
    ),
    (
        "export",
        "All OKRs and their check-ins as a CSV in your DMs; any member may, as all see them",
        "/okr export",
    ),
]
# Setting Ladder up: teams and cycles (members may add), the rest for admins.
SETUP: list[tuple[str, str, str]] = [
    (
        "team",
        "List teams, create one, link this channel; admins move a team or relink a channel",
        "/okr team new Platform · /okr team link Platform",
    ),
    (
        "cycle",
        "List, create or close cycles (closing posts the grades and asks owners for a "
        "reflection); `grades` shows a closed cycle's grades with the reflections",
        "/okr cycle new Q1 2027 · /okr cycle close Q4 2026 · /okr cycle grades Q4 2026",
    ),
    ("vision", "Show or set the organization's vision (admins)", "/okr vision Empowering…"),
    ("mission", "Show or set the organization's mission (admins)", "/okr mission Deliver…"),
    (
        "settings",
        "Check-in day, time, reminders, default time zone and digest (admins)",
        "/okr settings",
    ),
    ("checkin send", "Send this week's check-in prompts now (admins)", "/okr checkin send"),
    (
        "data",
        "Connect key results to data sources (JSON, Prometheus, CSV) or push tokens, so they "
        "update themselves",
        "/okr data",
    ),
]
COMMANDS = [*EVERYDAY, *[c for c in SETUP if " " not in c[0]], ("help", "This help", "/okr help")]
SUBCOMMANDS = [name for name, _, _ in COMMANDS]

# Help's buttons run the command as if typed: action id = prefix + subcommand.
HELP_ACTION_PREFIX = "help:"
BUTTONS: list[tuple[str, str]] = [
    ("new", "➕ New objective"),
    ("checkin", "✅ Check in"),
    ("status", "📊 Status"),
    ("mine", "👤 My OKRs"),
]


def _line(name: str, what: str, example: str) -> str:
    """One line a command; an example only where it shows more than the bare command."""
    shown = f" · _e.g._ `{example}`" if example != f"/okr {name}" else ""
    return f"*`/okr {name}`* — {what}{shown}"


def build_help(
    *, unknown: str | None = None, suggestion: str | None = None, is_admin: bool = True
) -> dict:
    blocks: list[dict] = []
    if unknown is not None:
        hint = f" Did you mean `/okr {suggestion}`?" if suggestion else ""
        blocks.append(section(f"🤔 I don't know `/okr {escape(unknown)}`.{hint}"))
    blocks.append(header("Ladder: OKRs where your team talks"))
    buttons = [
        button(label, f"{HELP_ACTION_PREFIX}{name}", name, style="primary" if name == "new" else "")
        for name, label in BUTTONS
    ]
    blocks.append(actions(*buttons, block_id="help_buttons"))
    everyday = "\n".join(_line(*command) for command in EVERYDAY)
    blocks.append(section(everyday, block_id="help_everyday"))
    if is_admin:
        lines = [_line(*command) for command in SETUP]
        blocks.append({"type": "divider"})
        blocks.append(section("*Set-up and admin*\n" + "\n".join(lines), block_id="help_admin"))
    else:
        folded = " · ".join(f"`/okr {name}`" for name, _, _ in SETUP)
        blocks.append(
            context(f"Set-up (teams, cycles; the rest for admins): {folded}", block_id="help_admin")
        )
    blocks.append(
        context(
            "Objectives are ambitious and qualitative; key results are the 2–5 numbers "
            "that show you got there. Every week Ladder asks KR owners for a one-click "
            "check-in."
        )
    )
    text = "Ladder commands: " + ", ".join(f"/okr {n}" for n in SUBCOMMANDS)
    if unknown is not None:
        text = f"Unknown command /okr {escape(unknown)}. " + text
    return {"text": text, "blocks": blocks}
