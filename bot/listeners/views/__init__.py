"""Modal submissions: objective, check-in, align, archive, settings."""

from __future__ import annotations

import json
import logging

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks.checkins import build_checkin_done
from bot.blocks.dialogs import ALIGN_CALLBACK, ARCHIVE_CALLBACK, CHECKIN_CALLBACK
from bot.blocks.messages import build_notice
from bot.blocks.objective_modal import CALLBACK_ID, block_id, draft_from_state
from bot.blocks.settings import SETTINGS_CALLBACK, build_settings_saved, settings_from_state
from bot.blocks.text import escape, mrkdwn, plain
from bot.blocks.tree import build_objective_confirmation
from bot.listeners import Deps, workspace_of
from bot.services import settings as settings_service
from bot.services.okrs import PermissionDenied
from storage.errors import NotFound, Refused

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    @app.view(CALLBACK_ID)
    @deps.listener
    def save_objective(ack: Ack, body: dict, context: dict, client: WebClient) -> None:
        view = body["view"]
        draft = draft_from_state(view)
        workspace_id = workspace_of(body, context)
        user_id = body["user"]["id"]
        try:
            saved, errors = deps.okrs.save_objective(
                workspace_id=workspace_id,
                user_id=user_id,
                draft=draft,
                is_admin=deps.is_admin(client, workspace_id, user_id),
            )
        except PermissionDenied as error:
            saved, errors = None, {"title": str(error)}
        present = _input_names(view)
        if errors:
            # Errors show only on input blocks that exist; anything else lands on the title.
            shown: dict[str, str] = {}
            for name, message in errors.items():
                target = name if name in present else "title"
                shown.setdefault(block_id(target, draft.rev), message)
            ack(response_action="errors", errors=shown)
            return
        ack()
        assert saved is not None
        if saved.duplicate:  # the same form submitted twice: the first one was confirmed
            return

        def confirmation() -> dict:  # the objective in its cycle's tree: on the work pool
            tree, objective = deps.okrs.objective_tree(
                workspace_id=workspace_id, objective_id=saved.objective_id
            )
            return build_objective_confirmation(
                tree=tree, objective=objective, now=deps.clock(), created=saved.created
            )

        deps.render_then_send(
            confirmation,
            lambda message: client.chat_postMessage(channel=saved.owner_id, **message),  # DM
            context=context,
            what="objective saved",
        )

    @app.view(CHECKIN_CALLBACK)
    @deps.listener
    def save_check_in(ack: Ack, body: dict, context: dict, client: WebClient) -> None:
        workspace_id = workspace_of(body, context)
        user_id = body["user"]["id"]
        view = body["view"]
        result = deps.okrs.save_checkin(workspace_id=workspace_id, user_id=user_id, view=view)
        if result.errors:
            ack(response_action="errors", errors=result.errors)
            return
        ack()
        origin = json.loads(view.get("private_metadata") or "{}")
        answered = result.answered
        if answered is not None and answered.replace:
            # The weekly prompt (and any reminder) becomes the record of this answer.
            done = build_checkin_done(changes=answered.changes, no_change=False)
            for message in answered.replace:
                client.chat_update(channel=message.channel_id, ts=message.ts, **done)
        if origin.get("prompt"):
            return
        if origin.get("channel_id"):
            n = result.recorded + result.duplicates
            client.chat_postEphemeral(
                channel=origin["channel_id"],
                user=user_id,
                **build_notice(
                    f"Checked in on {n} key result{'s' if n != 1 else ''}. Thank you!", icon="✅"
                ),
            )
        else:
            deps.refresh_home(client, workspace_id=workspace_id, user_id=user_id, context=context)

    @app.view(ALIGN_CALLBACK)
    @deps.listener
    def save_alignment(ack: Ack, body: dict, context: dict, client: WebClient) -> None:
        workspace_id = workspace_of(body, context)
        user_id = body["user"]["id"]
        view = body["view"]
        objective_id = json.loads(view["private_metadata"])["objective_id"]
        chosen = next(iter(view["state"]["values"]["parent"].values())).get("selected_option")
        try:
            deps.okrs.align(
                workspace_id=workspace_id,
                user_id=user_id,
                objective_id=objective_id,
                parent_id=int(chosen["value"]) if chosen else None,
                is_admin=deps.is_admin(client, workspace_id, user_id),
            )
        except (Refused, PermissionDenied, NotFound) as error:
            ack(response_action="errors", errors={"parent": str(error)})
            return
        ack()

    @app.view(ARCHIVE_CALLBACK)
    @deps.listener
    def confirm_archive(ack: Ack, body: dict, context: dict, client: WebClient) -> None:
        workspace_id = workspace_of(body, context)
        user_id = body["user"]["id"]
        objective_id = json.loads(body["view"]["private_metadata"])["objective_id"]
        try:
            objective, moved = deps.okrs.archive(
                workspace_id=workspace_id,
                user_id=user_id,
                objective_id=objective_id,
                is_admin=deps.is_admin(client, workspace_id, user_id),
            )
            text = f"🗄️ *{escape(objective.title)}* is archived."
            if moved:
                text += f" {len(moved)} aligned objective(s) moved up a level."
        except (PermissionDenied, NotFound) as error:
            text = f"🚫 {error}"
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

    @app.view(SETTINGS_CALLBACK)
    @deps.listener
    def save_settings(ack: Ack, body: dict, context: dict, client: WebClient) -> None:
        workspace_id = workspace_of(body, context)
        user_id = body["user"]["id"]
        try:
            saved, errors = settings_service.save_settings(
                deps.okrs.engine,
                workspace_id=workspace_id,
                form=settings_from_state(body["view"]),
                is_admin=deps.is_admin(client, workspace_id, user_id),
            )
        except PermissionDenied as error:
            saved, errors = None, {settings_service.FIELDS[0]: str(error)}
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()  # closes the modal
        assert saved is not None
        client.chat_postMessage(channel=user_id, **build_settings_saved(workspace=saved))  # a DM


def _input_names(view: dict) -> set[str]:
    return {
        b["block_id"].split("@", 1)[0]
        for b in view.get("blocks", [])
        if b.get("type") == "input" and "block_id" in b
    }
