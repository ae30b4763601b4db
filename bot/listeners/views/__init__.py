"""Modal submissions: objective, check-in, align, archive, settings."""

from __future__ import annotations

import json
import logging

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.blocks.checkins import build_checkin_done
from bot.blocks.dialogs import (
    ALIGN_CALLBACK,
    ARCHIVE_CALLBACK,
    CHECKIN_CALLBACK,
    checkin_from_state,
)
from bot.blocks.messages import build_notice
from bot.blocks.objective_modal import CALLBACK_ID, block_id, draft_from_state
from bot.blocks.settings import (
    SETTINGS_CALLBACK,
    SETTINGS_TITLE,
    build_settings_saved,
    build_settings_saved_view,
    build_settings_saving,
    settings_from_state,
)
from bot.blocks.text import escape, mrkdwn, plain
from bot.blocks.tree import build_objective_confirmation
from bot.listeners import (
    FORM_FAILURES,
    LOADING_VIEW,
    deps_of,
    fill_loading,
    form_failure,
    heard,
    who,
)
from bot.listeners.charts import summary_with_charts
from bot.listeners.middleware import SLACK_FAILURES, slack_failure
from bot.services.permissions import PermissionDenied
from bot.services.settings import FIELDS as SETTINGS_FIELDS
from storage.errors import NotFound, Refused
from storage.models import Workspace

log = logging.getLogger(__name__)


def save_objective(ack: Ack, body: dict, context: BoltContext, client: WebClient) -> None:
    deps = deps_of(context)
    view = body["view"]
    draft = draft_from_state(view)
    try:
        saved, errors = deps.objectives.save_objective(**who(body, context, client), draft=draft)
    except (PermissionDenied, *FORM_FAILURES) as error:
        saved, errors = None, {"title": form_failure(error)}
    present = _input_names(view)
    if errors:
        # Errors show only on input blocks that exist; anything else lands on the title.
        shown: dict[str, str] = {}
        for name, message in errors.items():
            target, message = _error_place(name, message, present)
            shown.setdefault(block_id(target, draft.rev), message)
        ack(response_action="errors", errors=shown)
        return
    ack()
    assert saved is not None
    if not saved.duplicate:  # the same form submitted twice: the first one was confirmed
        context[SAVED] = {
            "id": saved.objective_id,
            "owner": saved.owner_id,
            "created": saved.created,
        }


def confirm_objective(body: dict, context: BoltContext, client: WebClient) -> None:
    deps = deps_of(context)
    saved = context.get(SAVED)
    if saved is None:
        return
    tree, objective = deps.trees.objective_tree(
        workspace_id=str(context.team_id), objective_id=saved["id"]
    )
    message = build_objective_confirmation(
        tree=tree, objective=objective, now=deps.clock(), created=saved["created"]
    )
    del tree, objective
    client.chat_postMessage(channel=saved["owner"], **message)  # a DM


def save_check_in(ack: Ack, body: dict, context: BoltContext, client: WebClient) -> None:
    deps = deps_of(context)
    view = body["view"]
    try:
        result = deps.checkins.save_checkin(
            **who(body, context, client), form=checkin_from_state(view)
        )
    except FORM_FAILURES as error:
        ack(response_action="errors", errors={"note": form_failure(error)})
        return
    if result.errors:
        ack(response_action="errors", errors=result.errors)
        return
    ack()
    origin = json.loads(view.get("private_metadata") or "{}")
    answered = result.answered
    context[CHECKED_IN] = {
        "count": result.recorded + result.duplicates,
        "origin": origin,
        # The weekly prompt (and any reminder) becomes the record of this answer.
        "replace": [[m.channel_id, m.ts] for m in answered.replace] if answered else [],
        "done": build_checkin_done(changes=answered.changes, no_change=False)
        if answered and answered.replace
        else None,
        # charts: the KRs whose value moved get their chart under the summary.
        "moved": [
            kr.id
            for kr, before in answered.changes
            if (kr.start_value if before is None else before) != kr.current_value
        ]
        if answered
        else [],
    }


def after_check_in(body: dict, context: BoltContext, client: WebClient) -> None:
    deps = deps_of(context)
    checked_in = context.get(CHECKED_IN)
    if checked_in is None:
        return
    if checked_in["replace"]:  # charts: the summary carries the moved KRs' charts
        summary_with_charts(
            deps.pictures,
            client,
            workspace_id=str(context.team_id),
            changed_kr_ids=checked_in["moved"],
            done=checked_in["done"],
            targets=checked_in["replace"],
        )
    origin, user_id = checked_in["origin"], str(context.user_id)
    if origin.get("prompt"):
        return
    if origin.get("channel_id"):
        n = checked_in["count"]
        client.chat_postEphemeral(
            channel=origin["channel_id"],
            user=user_id,
            **build_notice(
                f"Checked in on {n} key result{'s' if n != 1 else ''}. Thank you!", icon="✅"
            ),
        )
    else:
        deps.refresh_home(client, workspace_id=str(context.team_id), user_id=user_id)


def save_alignment(ack: Ack, body: dict, context: BoltContext, client: WebClient) -> None:
    view = body["view"]
    objective_id = json.loads(view["private_metadata"])["objective_id"]
    chosen = next(iter(view["state"]["values"]["parent"].values())).get("selected_option")
    try:
        deps_of(context).objectives.align(
            **who(body, context, client),
            objective_id=objective_id,
            parent_id=int(chosen["value"]) if chosen else None,
        )
    except (Refused, PermissionDenied, NotFound, *FORM_FAILURES) as error:
        ack(response_action="errors", errors={"parent": form_failure(error)})
        return
    ack()


def confirm_archive(ack: Ack, body: dict, context: BoltContext, client: WebClient) -> None:
    objective_id = json.loads(body["view"]["private_metadata"])["objective_id"]
    try:
        objective, moved = deps_of(context).objectives.archive(
            **who(body, context, client), objective_id=objective_id
        )
        text = f"🗄️ *{escape(objective.title)}* is archived."
        if moved:
            text += f" {len(moved)} aligned objective(s) moved up a level."
    except (PermissionDenied, NotFound) as error:
        text = f"🚫 {error}"
    except FORM_FAILURES as error:
        text = f"⚠️ {form_failure(error)}"
    # The answer replaces the confirmation modal within the ack: no extra call.
    ack(
        response_action="update",
        view={
            "type": "modal",
            "title": plain("Archive objective", 24),
            "close": plain("Done", 24),
            "blocks": [{"type": "section", "text": mrkdwn(text)}],
        },
    )


def save_settings(ack: Ack, body: dict, context: BoltContext, client: WebClient) -> None:
    asker = who(body, context, client)
    workspace_id, is_admin = asker["workspace_id"], asker["is_admin"]
    settings = deps_of(context).settings
    form = settings_from_state(body["view"])
    saved: Workspace | None = None
    try:
        errors, recomputes = settings.check(workspace_id=workspace_id, form=form, is_admin=is_admin)
        if recomputes and not errors:
            # Every objective's status is worked out again: seconds in a big workspace, past
            # Slack's deadline. The modal says "Saving…"; save_settings_later saves.
            ack(response_action="update", view=build_settings_saving())
            context[LOADING_VIEW] = {"id": body["view"]["id"], "title": SETTINGS_TITLE}
            return
        if not errors:
            saved, errors = settings.save(workspace_id=workspace_id, form=form, is_admin=is_admin)
    except (PermissionDenied, *FORM_FAILURES) as error:
        errors = {SETTINGS_FIELDS[0]: form_failure(error)}
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()  # closes the modal
    assert saved is not None
    context[SETTINGS_SAVED] = build_settings_saved(workspace=saved)


def confirm_settings(body: dict, context: BoltContext, client: WebClient) -> None:
    message = context.get(SETTINGS_SAVED)
    if message is not None:
        client.chat_postMessage(channel=str(context.user_id), **message)  # a DM


def save_settings_later(body: dict, context: BoltContext, client: WebClient) -> None:
    """The save save_settings left for after its answer: the "Saving…" modal becomes the
    outcome (or says why nothing was saved), and the admin gets the usual DM."""
    if LOADING_VIEW not in context:
        return
    asker = who(body, context, client)
    saved: list[Workspace] = []

    def outcome() -> dict:
        workspace, errors = deps_of(context).settings.save(
            workspace_id=asker["workspace_id"],
            form=settings_from_state(body["view"]),
            is_admin=asker["is_admin"],
        )
        if workspace is None:  # validated in the answer already: not expected
            raise Refused(" ".join(errors.values()))
        saved.append(workspace)
        return build_settings_saved_view(workspace=workspace)

    fill_loading(context, client, outcome)
    if saved:
        message = build_settings_saved(workspace=saved[0])
        try:
            client.chat_postMessage(channel=asker["user_id"], **message)
        except SLACK_FAILURES as error:  # the modal said it was saved; the DM is a record
            log.warning(
                "workspace=%s user=%s settings DM failed: %s",
                asker["workspace_id"],
                asker["user_id"],
                slack_failure(error),
            )


def register(app: App) -> None:
    """Each form is answered in the request thread with the outcome of its save (saved, or
    errors and nothing saved), its database work cut at Slack's deadline (bot/server.py
    ANSWER_BUDGET_S); its follow-up Slack calls run after the answer, lazily."""
    app.view(CALLBACK_ID)(
        ack=save_objective, lazy=[heard(confirm_objective, saved="Your objective is saved.")]
    )
    app.view(CHECKIN_CALLBACK)(
        ack=save_check_in, lazy=[heard(after_check_in, saved="Your check-in is saved.")]
    )
    app.view(ALIGN_CALLBACK)(save_alignment)
    app.view(ARCHIVE_CALLBACK)(confirm_archive)
    app.view(SETTINGS_CALLBACK)(
        ack=save_settings,
        lazy=[heard(confirm_settings, saved="The settings are saved."), heard(save_settings_later)],
    )


# What a form's ack hands to its follow-up, in Bolt's context (copied for lazy listeners).
SAVED = "ladder_saved_objective"
CHECKED_IN = "ladder_checked_in"
SETTINGS_SAVED = "ladder_settings_saved"


def _error_place(name: str, message: str, present: set[str]) -> tuple[str, str]:
    """Where an error shows: its own input; a KR field not shown yet (the sentence was never
    read) under that KR's sentence, saying how to reach the field; anything else the title."""
    if name in present:
        return name, message
    slot, _, _ = name.partition("_")
    sentence = f"{slot}_text"
    if slot.startswith("kr") and sentence in present:
        return sentence, f"{message} Press Enter in the sentence to fill in the details."
    return "title", message


def _input_names(view: dict) -> set[str]:
    return {
        b["block_id"].split("@", 1)[0]
        for b in view.get("blocks", [])
        if b.get("type") == "input" and "block_id" in b
    }
