"""`/okr …`: one entry point, dispatched by the first word."""

from __future__ import annotations

import difflib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks.admin import build_cycle_reply, build_team_reply
from bot.blocks.health import build_health_message
from bot.blocks.help import BUTTONS as HELP_BUTTONS
from bot.blocks.help import HELP_ACTION_PREFIX, SUBCOMMANDS, build_help
from bot.blocks.messages import build_error, build_notice, build_refusal
from bot.blocks.objective_modal import NEW_TITLE, build_objective_form
from bot.blocks.settings import build_settings_modal
from bot.blocks.sources import DATA_COMMAND
from bot.blocks.text import escape, unescape
from bot.blocks.tree import (
    MESSAGE_BLOCKS,
    build_mine_message,
    build_no_team_notice,
    build_status_message,
    status_scope,
    status_scope_label,
    status_user_ids,
)
from bot.listeners import (
    SLACK_FAILURES,
    Deps,
    channel_of,
    deps_of,
    fill_loading,
    heard,
    open_loading,
    slack_failure,
    workspace_of,
)
from bot.listeners.charts import chart_command
from bot.listeners.commands.export import export_okrs
from bot.listeners.sources import data_command
from bot.services.admin import CycleClosed
from bot.services.alignment import UnknownTeam
from bot.services.permissions import PermissionDenied, ensure_admin
from bot.services.trees import NoSuchTeam
from storage.errors import NotFound, Refused

log = logging.getLogger(__name__)

Handler = Callable[..., dict | None]


def okr_now(
    ack: Ack, body: dict, context: BoltContext, client: WebClient, respond: Respond
) -> None:
    """What opens a modal runs before Slack gets its answer, while the trigger is fresh (a
    form that needs the database opens "Loading…" and is filled by `later`); the rest after
    it."""
    ack()
    command = as_command(body)
    title = LOADING_TITLES.get(_parse(command)[0])
    if title is not None:
        open_loading(context, client, command["trigger_id"], title=title)
    elif _opens_modal(command):
        run(body=command, context=context, client=client, respond=respond)


def later(body: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    command = as_command(body)
    if not _opens_modal(command):
        run(body=command, context=context, client=client, respond=respond)


@heard
def run(body: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    deps = deps_of(context)
    sub, rest, handler = _parse(body)
    workspace_id = workspace_of(body, context)
    if handler is None:
        # Set-up and admin commands in full for admins; folded to a line for the others.
        admin = deps.is_admin(client, workspace_id, body["user_id"])()
        if sub in ("", "help", "?"):
            respond(**build_help(is_admin=admin))
            return
        close = difflib.get_close_matches(sub, SUBCOMMANDS, n=1, cutoff=0.5)
        suggestion = close[0] if close else None
        respond(**build_help(unknown=sub, suggestion=suggestion, is_admin=admin))
        return
    Call(deps, client, respond, body, workspace_id, rest, context).run(handler)


def as_command(body: dict) -> dict:
    """A help button's click as the command it stands for, typed where help was shown (a
    command stays as it is)."""
    if "actions" not in body:
        return body
    return {
        "user_id": body["user"]["id"],
        "channel_id": channel_of(body) or "",
        "trigger_id": body.get("trigger_id"),
        "text": body["actions"][0]["action_id"].removeprefix(HELP_ACTION_PREFIX),
    }


def register(app: App) -> None:
    app.command("/okr")(ack=okr_now, lazy=[later])
    buttons = "|".join(re.escape(name) for name, _ in HELP_BUTTONS)
    app.action(re.compile(f"^{re.escape(HELP_ACTION_PREFIX)}({buttons})$"))(
        ack=okr_now, lazy=[later]
    )


def _parse(body: dict) -> tuple[str, str, Handler | None]:
    """The subcommand (casefolded), the rest of the text, and its handler (None: unknown)."""
    text = unescape(" ".join((body.get("text") or "").split()))
    sub, _, rest = text.partition(" ")
    sub = sub.casefold()
    return sub, rest, HANDLERS.get(sub)


def _opens_modal(body: dict) -> bool:
    """Subcommands that open their modal before the answer (`/okr checkin send` does not):
    their form takes at most a few ms to build (bench/README.md, "Opening modals")."""
    sub, rest, _ = _parse(body)
    if sub in ("checkin", "check-in"):
        return rest.casefold() != "send"
    return sub in ("settings", DATA_COMMAND)


# Subcommands whose form opens as "Loading…" before the answer and is filled after it
# (bot/listeners `open_loading`): the modal's title while it loads.
LOADING_TITLES = {"new": NEW_TITLE, "create": NEW_TITLE}


@dataclass
class Call:
    """What a subcommand handler needs about the request. A handler returns its reply (or
    None when it answered itself): what it loaded, whole trees or many rows, is freed before
    Slack's round trip."""

    deps: Deps
    client: WebClient
    respond: Respond
    body: dict
    workspace_id: str
    rest: str
    context: BoltContext

    @property
    def user_id(self) -> str:
        return str(self.body["user_id"])

    @property
    def channel_id(self) -> str:
        return str(self.body.get("channel_id", ""))

    def run(self, handler: Handler) -> None:
        """The handler, its reply and its refusals answered as replies."""
        try:
            reply = handler(self)
        except PermissionDenied as error:
            reply = build_refusal(str(error))
        except (Refused, NotFound) as error:
            reply = build_error(escape(str(error)))
        if reply is not None:
            self.respond(**reply)

    def is_admin(self) -> bool:
        return self.deps.is_admin(self.client, self.workspace_id, self.user_id)()

    def open_modal(self, view: dict) -> None:
        """views.open, or a word to the person when Slack will not open it (nothing is lost:
        the modal stores nothing until it is submitted)."""
        try:
            self.client.views_open(trigger_id=self.body["trigger_id"], view=view)
        except SLACK_FAILURES as error:
            log.warning(
                "workspace=%s user=%s views.open failed: %s",
                self.workspace_id,
                self.user_id,
                slack_failure(error),
            )
            self.respond(**build_error("Slack did not open the form this time. Please try again."))


def _new(call: Call) -> None:
    """Fills the "Loading…" modal opened at the ack (`okr_now`)."""
    fill_loading(call.context, call.client, lambda: _new_form(call))


def _new_form(call: Call) -> dict:
    form = call.deps.objectives.new_objective_form(
        workspace_id=call.workspace_id,
        user_id=call.user_id,
        title=call.rest,
        channel_id=call.channel_id,
    )
    return build_objective_form(form, suggest=call.deps.suggest_panel())


def _status(call: Call) -> dict:
    found = call.deps.trees.status(
        workspace_id=call.workspace_id, channel_id=call.channel_id, scope=status_scope(call.rest)
    )
    if isinstance(found, NoSuchTeam):
        return build_no_team_notice(found)
    tree, scope = found.tree, status_scope_label(found)
    names = call.deps.names(call.client, call.workspace_id, status_user_ids(tree, scope))
    message = build_status_message(tree=tree, scope=scope, now=call.deps.clock(), names=names)
    return {"response_type": "in_channel", **message}


def _health(call: Call) -> dict:
    """Only the person asking sees it: a list of who has what to fix."""
    found = call.deps.alignment.report(
        workspace_id=call.workspace_id, channel_id=call.channel_id, argument=call.rest
    )
    if isinstance(found, UnknownTeam):
        known = f" Teams: {', '.join(found.teams)}." if found.teams else " There are no teams yet."
        return build_notice(escape(f"No team called “{found.name}”.{known} Try `/okr health`."))
    return build_health_message(found)


def _mine(call: Call) -> dict:
    tree = call.deps.trees.mine(workspace_id=call.workspace_id, user_id=call.user_id)
    # Only objectives someone else owns (I hold a KR in them) name their owner.
    others = [o.owner_id for o in tree.objectives[:MESSAGE_BLOCKS] if o.owner_id != call.user_id]
    names = call.deps.names(call.client, call.workspace_id, others) if others else {}
    sources = call.deps.source_states(
        workspace_id=call.workspace_id,
        key_result_ids=[kr.id for kr in tree.key_results if kr.owner_id == call.user_id],
    )
    return build_mine_message(
        tree=tree, user_id=call.user_id, now=call.deps.clock(), names=names, sources=sources
    )


def _checkin(call: Call) -> dict | None:
    if call.rest.casefold() == "send":
        ensure_admin(call.is_admin, "send check-in prompts")
        # A fan-out takes minutes of Slack round trips: on a thread of its own, not the one
        # that answers everyone's commands. Rows are claimed in the outbox, so a restart
        # mid-send loses nothing (bot/jobs/sender.py).
        threading.Thread(
            target=heard(_send_now),
            kwargs={"body": call.body, "context": call.context, "call": call},
            name="ladder-send-now",
        ).start()
        return None
    krs = call.deps.checkins.checkin_targets(
        workspace_id=call.workspace_id, user_id=call.user_id, is_admin=call.is_admin
    )
    if not krs:
        return build_notice("You have no key results to check in on. `/okr new` drafts one.")
    view = call.deps.checkin_modal(
        workspace_id=call.workspace_id, krs=krs, origin={"channel_id": call.channel_id}
    )
    call.open_modal(view)
    return None


def _send_now(body: dict, context: BoltContext, call: Call) -> None:
    call.run(_send_checkins)


def _send_checkins(call: Call) -> dict:
    from bot.jobs.sender import Sender  # the listener layer drives delivery

    report = Sender(call.deps.delivery, lambda _workspace: call.client).run(
        workspace_id=call.workspace_id, force=True
    )
    return build_notice(
        f"Check-in prompts: {report.sent - report.digests} sent now, "
        f"{report.deferred} waiting for "
        "working hours or a retry, "
        f"{report.failed} could not be delivered. People who already checked in, "
        "are away, or were asked already are skipped.",
        icon="📬",
    )


def _away(call: Call) -> dict:
    words = call.rest.split()
    if words[:1] == ["until"]:
        words = words[1:]
    try:
        until = date.fromisoformat(words[0]) if len(words) == 1 else None
    except ValueError:
        until = None
    today = call.deps.clock().date()
    if until is None or until < today:
        return build_notice(
            "Tell me until when, as a date: `/okr away until 2026-12-31`. "
            "`/okr back` ends it early."
        )
    call.deps.checkins.set_away(workspace_id=call.workspace_id, user_id=call.user_id, until=until)
    return build_notice(
        f"Enjoy! No check-in prompts until {until:%A, %B} {until.day}. "
        "`/okr back` if you return earlier.",
        icon="🌴",
    )


def _back(call: Call) -> dict:
    call.deps.checkins.set_away(workspace_id=call.workspace_id, user_id=call.user_id, until=None)
    return build_notice("Welcome back! Weekly check-ins are on again.", icon="👋")


def _statement(which: str) -> Handler:
    def handler(call: Call) -> dict:
        if not call.rest:
            vision, mission = call.deps.settings.statements(workspace_id=call.workspace_id)
            current = vision if which == "vision" else mission
            shown = f"“{escape(current)}”" if current else "not set yet"
            return build_notice(
                f"The {which} is {shown}. Admins set it with `/okr {which} &lt;text&gt;`."
            )
        call.deps.settings.set_statement(
            workspace_id=call.workspace_id, which=which, text=call.rest, is_admin=call.is_admin
        )
        return build_notice(f"{which.title()} set: “{escape(call.rest)}”", icon="✅")

    return handler


def _team(call: Call) -> dict:
    outcome = call.deps.admin.team_command(
        workspace_id=call.workspace_id,
        channel_id=call.channel_id,
        text=call.rest,
        is_admin=call.is_admin,
    )
    return build_team_reply(outcome)


def _cycle(call: Call) -> dict:
    # Closing grades every objective of the cycle: they are freed before Slack's round trip.
    outcome = call.deps.admin.cycle_command(
        workspace_id=call.workspace_id, text=call.rest, is_admin=call.is_admin
    )
    # Grades concern everyone: a closed cycle is announced in the channel.
    visibility = "in_channel" if isinstance(outcome, CycleClosed) else "ephemeral"
    return {"response_type": visibility, **build_cycle_reply(outcome)}


def _settings(call: Call) -> None:
    workspace = call.deps.settings.load(workspace_id=call.workspace_id, is_admin=call.is_admin)
    call.open_modal(build_settings_modal(workspace=workspace))


HANDLERS: dict[str, Handler] = {
    "new": _new,
    "create": _new,
    "status": _status,
    "health": _health,
    "mine": _mine,
    "checkin": _checkin,
    "check-in": _checkin,
    "vision": _statement("vision"),
    "mission": _statement("mission"),
    "team": _team,
    "teams": _team,
    "cycle": _cycle,
    "away": _away,
    "back": _back,
    "cycles": _cycle,
    "settings": _settings,
    "export": export_okrs,
    DATA_COMMAND: data_command,  # data sources: bot/listeners/sources.py
    "chart": chart_command,  # charts: bot/listeners/charts.py
    "charts": chart_command,
}
