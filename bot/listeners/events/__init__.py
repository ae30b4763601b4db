"""Events API: the App Home tab; uninstalls and revoked tokens (events/installs.py)."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners import after_ack, deps_of, workspace_of
from bot.listeners.events import installs


def publish_home(body: dict, event: dict, context: dict, client: WebClient) -> None:
    deps = deps_of(context)
    if event.get("tab") != "home":
        return
    deps.refresh_home(client, workspace_id=workspace_of(body, context), user_id=event["user"])


def register(app: App) -> None:
    installs.register(app)
    after_ack(app.event("app_home_opened"))(publish_home)
