"""Options for searchable selects: objectives to align to (scales past 100 objectives),
grouped by team and labelled by level."""

from __future__ import annotations

import json

from slack_bolt import Ack, App

from bot.blocks.dialogs import ALIGN_PARENT_ACTION
from bot.blocks.objective_modal import PARENT_ACTION, parent_option_groups
from bot.listeners import deps_of, workspace_of


def objective_options(ack: Ack, body: dict, context: dict) -> None:
    deps = deps_of(context)
    meta = json.loads((body.get("view") or {}).get("private_metadata") or "{}")
    found = deps.objectives.parent_choices(
        workspace_id=workspace_of(body, context),
        text=body.get("value") or "",
        exclude_id=meta.get("objective_id"),
    )
    groups = parent_option_groups(found)
    if groups:
        ack(option_groups=groups)
    else:
        ack(options=[])  # nothing matches: an empty list, not an empty set of groups


def register(app: App) -> None:
    app.options(ALIGN_PARENT_ACTION)(objective_options)
    app.options(PARENT_ACTION)(objective_options)
