"""Buttons and menus: add a KR slot, parse a KR sentence, edit/align/archive, check in."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import date

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks.checkins import (
    PROMPT_CHECKIN_ACTION,
    PROMPT_NO_CHANGE_ACTION,
    build_checkin_done,
)
from bot.blocks.dialogs import CHECKIN_TITLE, build_align_modal, build_archive_modal
from bot.blocks.messages import build_notice, build_refusal
from bot.blocks.objective_modal import (
    ADD_KR_ACTION,
    DUE_CYCLE_END_ACTION_PREFIX,
    EDIT_TITLE,
    KR_FIELD_ACTION_RE,
    MAX_KEY_RESULTS,
    NEW_TITLE,
    PARSE_KR_ACTION_PREFIX,
    SuggestPanel,
    build_objective_form,
    draft_from_state,
)
from bot.blocks.tree import (
    ALIGN_OBJECTIVE_ACTION,
    CHECKIN_ALL_ACTION,
    CHECKIN_KR_ACTION,
    CHECKIN_OBJECTIVE_ACTION,
    EDIT_OBJECTIVE_ACTION,
    NEW_OBJECTIVE_ACTION,
    OBJECTIVE_MENU_ACTION,
    OBJECTIVE_TITLE,
    build_objective_view,
    objective_view_user_ids,
)
from bot.listeners import (
    Deps,
    after_ack,
    before_answer,
    channel_of,
    deps_of,
    fill_loading,
    heard,
    loading_first,
    open_loading,
    tell_clicker,
    who,
    workspace_of,
)
from bot.listeners.charts import TREND_VERB, objective_trend
from bot.services.drafts import KRDraft, ObjectiveDraft, fill_from_sentence
from bot.services.permissions import PermissionDenied
from storage.errors import NotFound

log = logging.getLogger(__name__)
BUTTON_VERBS = {
    EDIT_OBJECTIVE_ACTION: "edit",
    CHECKIN_OBJECTIVE_ACTION: "checkin",
    ALIGN_OBJECTIVE_ACTION: "align",
}


def show(
    body: dict,
    context: dict,
    client: WebClient,
    draft: ObjectiveDraft,
    suggest: SuggestPanel | None = None,
) -> None:
    """Re-render the open objective form with `draft` (views.update on the same view), and
    `suggest` (default: the suggestions it offers now)."""
    deps = deps_of(context)
    view = body["view"]
    form = deps.objectives.form_options(workspace_id=workspace_of(body, context), draft=draft)
    form_view = build_objective_form(form, suggest=suggest or deps.suggest_panel(view))
    client.views_update(view_id=view["id"], hash=view["hash"], view=form_view)


def add_key_result(body: dict, context: dict, client: WebClient) -> None:
    draft = draft_from_state(body["view"])
    if len(draft.krs) >= MAX_KEY_RESULTS:
        return
    # A new revision re-renders every field with what is typed now, plus an empty slot.
    show(body, context, client, replace(draft, krs=[*draft.krs, KRDraft()], rev=draft.rev + 1))


def parse_key_result(body: dict, context: dict, client: WebClient) -> None:
    """Enter pressed in a KR sentence: fill its fields from what the parser reads, show
    them, and say under the KR what is still missing (a baseline, a target…)."""
    deps = deps_of(context)
    slot = int(body["actions"][0]["action_id"].removeprefix(PARSE_KR_ACTION_PREFIX))
    draft = draft_from_state(body["view"])
    if slot >= len(draft.krs):
        return
    typed = draft.krs[slot]
    # The sentence was just (re)typed: what it says replaces the earlier reading; when
    # nothing can be read, what was typed in the fields stays.
    parsed = fill_from_sentence(
        KRDraft(text=typed.text, key_result_id=typed.key_result_id, weight=typed.weight),
        today=deps.clock().date(),
    )
    if not parsed.has_fields:
        parsed = typed
    krs = [*draft.krs]
    krs[slot] = replace(parsed, details=bool(typed.text.strip()) or typed.details)
    show(body, context, client, replace(draft, krs=krs, rev=draft.rev + 1))


def kr_field_changed(body: dict, context: dict, client: WebClient) -> None:
    """A KR's kind chosen, a date picked, Enter in its start/target/unit: the same
    revision (what is typed stays), new labels and preview."""
    show(body, context, client, draft_from_state(body["view"]))


def due_at_cycle_end(body: dict, context: dict, client: WebClient) -> None:
    """ "Use Mar 31": the KR is due when its cycle ends."""
    action = body["actions"][0]
    slot = int(action["action_id"].removeprefix(DUE_CYCLE_END_ACTION_PREFIX))
    draft = draft_from_state(body["view"])
    if slot >= len(draft.krs):
        return
    try:
        end = date.fromisoformat(action.get("value") or "")
    except ValueError:  # not a value this form sent
        return
    krs = [*draft.krs]
    krs[slot] = replace(krs[slot], due=end, details=True)
    show(body, context, client, replace(draft, krs=krs, rev=draft.rev + 1))


def new_objective(body: dict, context: BoltContext, client: WebClient) -> dict:
    """Home's New objective: its form, in the "Loading…" modal opened at the ack."""
    deps = deps_of(context)
    form = deps.objectives.new_objective_form(
        workspace_id=workspace_of(body, context), user_id=body["user"]["id"]
    )
    return build_objective_form(form, suggest=deps.suggest_panel())


def objective_now(
    ack: Ack, body: dict, context: BoltContext, client: WebClient, respond: Respond
) -> None:
    """Before the answer, while the trigger is fresh: a modal that loads a tree opens as
    "Loading…" (filled by `objective_later`), the others open in full."""
    ack()
    verb, objective_id = _chosen(body)
    if verb in LOADING_TITLES:
        open_loading(context, client, body["trigger_id"], title=LOADING_TITLES[verb])
    elif verb != TREND_VERB:  # charts: drawn after the answer
        try:
            view = _objective_view(deps_of(context), body, context, client, verb, objective_id)
        except PermissionDenied as error:
            tell_clicker(body, client, respond, build_refusal(str(error)))
            return
        except NotFound:
            tell_clicker(body, client, respond, build_notice("That objective no longer exists."))
            return
        client.views_open(trigger_id=body["trigger_id"], view=view)


def objective_later(body: dict, context: BoltContext, client: WebClient, respond: Respond) -> None:
    deps = deps_of(context)
    verb, objective_id = _chosen(body)
    if verb in LOADING_TITLES:
        fill_loading(
            context,
            client,
            lambda: _objective_view(deps, body, context, client, verb, objective_id),
        )
    elif verb == TREND_VERB:
        objective_trend(deps, body, client, respond, workspace_id=workspace_of(body, context))


def check_in(ack: Ack, body: dict, context: dict, client: WebClient, respond: Respond) -> None:
    """A KR's "Check in" (the KR's id is its value), or Home's "Check in on all": the modal
    `/okr checkin` opens, every KR I own."""
    deps = deps_of(context)
    ack()
    asker = who(body, context, client)
    value = body["actions"][0]["value"]
    try:
        krs = deps.checkins.checkin_targets(
            **asker, key_result_id=int(value) if value.isdigit() else None
        )
    except PermissionDenied as error:
        tell_clicker(body, client, respond, build_refusal(str(error)))
        return
    except NotFound:
        tell_clicker(body, client, respond, build_notice("That key result no longer exists."))
        return
    if not krs:
        tell_clicker(body, client, respond, build_notice("You have no key results to check in on."))
        return
    client.views_open(
        trigger_id=body["trigger_id"],
        view=deps.checkin_modal(workspace_id=asker["workspace_id"], krs=krs, origin=_origin(body)),
    )


def register(app: App) -> None:
    # The weekly prompt's two buttons.
    before_answer(app.action(PROMPT_CHECKIN_ACTION))(prompt_check_in)
    after_ack(app.action(PROMPT_NO_CHANGE_ACTION))(prompt_no_change)
    after_ack(app.action(ADD_KR_ACTION))(add_key_result)
    after_ack(app.action(re.compile(f"^{PARSE_KR_ACTION_PREFIX}\\d+$")))(parse_key_result)
    after_ack(app.action(re.compile(KR_FIELD_ACTION_RE)))(kr_field_changed)
    after_ack(app.action(re.compile(f"^{DUE_CYCLE_END_ACTION_PREFIX}\\d+$")))(due_at_cycle_end)
    loading_first(app.action(NEW_OBJECTIVE_ACTION), title=NEW_TITLE)(new_objective)
    # The buttons (Edit, Check in, Align) and the ⋯ menu.
    for action in (
        EDIT_OBJECTIVE_ACTION,
        CHECKIN_OBJECTIVE_ACTION,
        ALIGN_OBJECTIVE_ACTION,
        OBJECTIVE_MENU_ACTION,
    ):
        app.action(_per_item(action))(ack=heard(objective_now), lazy=[heard(objective_later)])
    before_answer(app.action(_per_item(CHECKIN_KR_ACTION)), app.action(CHECKIN_ALL_ACTION))(
        check_in
    )


def prompt_check_in(
    ack: Ack, body: dict, context: dict, client: WebClient, respond: Respond
) -> None:
    deps = deps_of(context)
    ack()
    workspace_id = workspace_of(body, context)
    krs = deps.checkins.prompt_krs(workspace_id=workspace_id, user_id=body["user"]["id"])
    if not krs:
        respond(
            response_type="ephemeral",
            replace_original=False,
            **build_notice("You have no key results to check in on right now."),
        )
        return
    origin = {"prompt": int(body["actions"][0]["value"])}
    client.views_open(
        trigger_id=body["trigger_id"],
        view=deps.checkin_modal(workspace_id=workspace_id, krs=krs, origin=origin),
    )


def prompt_no_change(body: dict, context: dict, client: WebClient, respond: Respond) -> None:
    deps = deps_of(context)
    answered = deps.checkins.no_change(
        workspace_id=workspace_of(body, context), user_id=body["user"]["id"]
    )
    done = build_checkin_done(changes=answered.changes, no_change=True)
    if not answered.replace:  # e.g. last period's prompt: replace just this one
        respond(replace_original=True, **done)
        return
    for message in answered.replace:
        if message.channel_id and message.ts:  # delivered: Slack said where
            client.chat_update(channel=message.channel_id, ts=message.ts, **done)


def _per_item(action: str) -> re.Pattern[str]:
    """Matches `action` and `action:<id>` (ids keep action_ids unique in a view)."""
    return re.compile(f"^{re.escape(action)}(:\\d+)?$")


def _origin(body: dict) -> dict:
    """Where the modal was opened from, so the answer can go back there."""
    channel = channel_of(body)
    return {"channel_id": channel} if channel else {"home": True}


# Objective modals that load a cycle's tree to build (~170–200 ms at 1,000 objectives,
# bench/README.md "Opening modals"): they open as "Loading…" with these titles.
LOADING_TITLES = {"edit": EDIT_TITLE, "checkin": CHECKIN_TITLE, "view": OBJECTIVE_TITLE}


def _chosen(body: dict) -> tuple[str, int]:
    """The verb and objective of a button (its action) or a menu choice (its value)."""
    action = body["actions"][0]
    if "selected_option" in action:
        verb, _, raw_id = action["selected_option"]["value"].partition(":")
        return verb, int(raw_id) if raw_id.isdigit() else 0
    return BUTTON_VERBS[action["action_id"].partition(":")[0]], int(action["value"])


def _objective_view(
    deps: Deps,
    body: dict,
    context: BoltContext,
    client: WebClient,
    verb: str,
    objective_id: int,
) -> dict:
    """The modal `verb` opens on the objective; PermissionDenied or NotFound otherwise."""
    asker = who(body, context, client)
    workspace_id = asker["workspace_id"]
    if verb == "checkin":
        krs = deps.checkins.checkin_targets(**asker, objective_id=objective_id)
        return deps.checkin_modal(workspace_id=workspace_id, krs=krs, origin=_origin(body))
    if verb == "view":  # anyone may read any objective of their workspace
        tree, objective = deps.trees.objective_tree(
            workspace_id=workspace_id, objective_id=objective_id
        )
        names = deps.names(client, workspace_id, objective_view_user_ids(tree, objective_id))
        return build_objective_view(tree=tree, objective=objective, now=deps.clock(), names=names)
    if verb == "edit":
        form = deps.objectives.edit_objective_form(**asker, objective_id=objective_id)
        draft = replace(form.draft, channel_id=_origin(body).get("channel_id"))
        return build_objective_form(form, draft, suggest=deps.suggest_panel())
    objective, parent, children = deps.objectives.objective_with_parent(
        **asker, objective_id=objective_id
    )
    if verb == "align":
        return build_align_modal(objective=objective, parent=parent)
    return build_archive_modal(objective=objective, children=children, parent=parent)
