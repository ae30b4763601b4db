"""Review at the end of a cycle: the DM's "Write my reflection" button and the modal's save."""

from __future__ import annotations

import json
import logging

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks.messages import build_notice
from bot.blocks.reviews import (
    REFLECT_ACTION,
    REFLECTION_CALLBACK,
    answers_from_state,
    build_reflection_modal,
    build_reflections_done,
)
from bot.listeners import (
    FORM_FAILURES,
    before_answer,
    deps_of,
    form_failure,
    heard,
    who,
    workspace_of,
)
from bot.services.permissions import PermissionDenied
from storage.errors import NotFound, Refused

log = logging.getLogger(__name__)
DONE = "ladder_reflections_saved"  # what the save hands to its follow-up


def open_reflection(
    ack: Ack, body: dict, context: dict, client: WebClient, respond: Respond
) -> None:
    ack()
    action = body["actions"][0]
    try:
        cycle_id = int(json.loads(action["value"])["cycle"])
    except (KeyError, TypeError, ValueError):
        return  # not a value Ladder wrote
    try:
        form = deps_of(context).reviews.form(
            workspace_id=workspace_of(body, context),
            user_id=body["user"]["id"],
            cycle_id=cycle_id,
        )
    except NotFound:
        form = None
    if form is None or not form.objectives:
        respond(
            response_type="ephemeral",
            replace_original=False,
            **build_notice("You have no graded objectives in that cycle any more."),
        )
        return
    # The DM this came from: replaced by a thank-you once the form is saved.
    container = body.get("container") or {}
    origin = (
        {"dm": [container["channel_id"], container["message_ts"]]}
        if container.get("channel_id") and container.get("message_ts")
        else {}
    )
    client.views_open(
        trigger_id=body["trigger_id"], view=build_reflection_modal(form=form, origin=origin)
    )


def save_reflections(ack: Ack, body: dict, context: BoltContext, client: WebClient) -> None:
    view = body["view"]
    asker = who(body, context, client)
    first = _first_input(view)
    try:
        cycle_id, answers, into, meta = answers_from_state(view)
        saved = deps_of(context).reviews.save(
            **asker, cycle_id=cycle_id, answers=answers, into_cycle_id=into
        )
    except (PermissionDenied, Refused, NotFound) as error:
        workspace_id, user_id = asker["workspace_id"], asker["user_id"]
        log.info("workspace=%s user=%s reflection refused: %s", workspace_id, user_id, error)
        ack(response_action="errors", errors={first: str(error)})
        return
    except FORM_FAILURES as error:
        ack(response_action="errors", errors={first: form_failure(error)})
        return
    except (KeyError, TypeError, ValueError):  # a form Ladder did not build
        ack(response_action="errors", errors={first: "This form is out of date."})
        return
    ack()
    context[DONE] = {
        "dm": meta.get("dm"),
        "message": build_reflections_done(saved=saved),
    }


def after_reflections(body: dict, context: BoltContext, client: WebClient) -> None:
    done = context.get(DONE)
    if done is None:
        return
    if done["dm"]:
        channel_id, ts = done["dm"]
        client.chat_update(channel=channel_id, ts=ts, **done["message"])
    else:
        client.chat_postMessage(channel=str(context.user_id), **done["message"])


def register(app: App) -> None:
    before_answer(app.action(REFLECT_ACTION))(open_reflection)
    app.view(REFLECTION_CALLBACK)(
        ack=save_reflections,
        lazy=[heard(after_reflections, saved="Your reflections are saved.")],
    )


def _first_input(view: dict) -> str:
    """Errors show on input blocks only: the first one carries a refusal."""
    for block in view.get("blocks", []):
        if block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return "reflection"
