"""Events API: the App Home tab; uninstalls and revoked tokens (events/installs.py)."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners import Deps, after_ack, workspace_of


def register(app: App, deps: Deps) -> None:
    from bot.listeners.events import installs

    installs.register(app, deps)

    @after_ack(app.event("app_home_opened"))
    def publish_home(body: dict, event: dict, context: dict, client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        deps.refresh_home(client, workspace_id=workspace_of(body, context), user_id=event["user"])
