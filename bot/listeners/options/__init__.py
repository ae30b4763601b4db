"""Options for searchable selects: objectives to align to (scales past 100 objectives)."""

from __future__ import annotations

import json

from slack_bolt import Ack, App

from bot.blocks.dialogs import ALIGN_PARENT_ACTION
from bot.blocks.objective_modal import PARENT_ACTION
from bot.blocks.text import truncate
from bot.listeners import Deps, workspace_of


def register(app: App, deps: Deps) -> None:
    @app.options(PARENT_ACTION)
    @app.options(ALIGN_PARENT_ACTION)
    def objective_options(ack: Ack, body: dict, context: dict) -> None:
        meta = json.loads((body.get("view") or {}).get("private_metadata") or "{}")
        found = deps.okrs.search_objectives(
            workspace_id=workspace_of(body, context),
            text=body.get("value") or "",
            exclude_id=meta.get("objective_id"),
        )
        ack(
            options=[
                {
                    "text": {"type": "plain_text", "text": truncate(title, 75)},
                    "value": str(objective_id),
                }
                for objective_id, title in found
            ]
        )
