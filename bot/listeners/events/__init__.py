"""Events API: the App Home tab; the app uninstalled, or some of its tokens revoked, in a
workspace."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.listeners import after_ack, deps_of, workspace_of


def publish_home(body: dict, event: dict, context: dict, client: WebClient) -> None:
    deps = deps_of(context)
    if event.get("tab") != "home":
        return
    deps.refresh_home(client, workspace_id=workspace_of(body, context), user_id=event["user"])


def uninstalled(body: dict, context: dict) -> None:
    deps_of(context).installs.uninstalled(
        workspace_id=workspace_of(body, context), enterprise_id=context.get("enterprise_id")
    )


def revoked(body: dict, event: dict, context: dict) -> None:
    tokens = event.get("tokens") or {}
    deps_of(context).installs.tokens_revoked(
        workspace_id=workspace_of(body, context),
        enterprise_id=context.get("enterprise_id"),
        bot_user_ids=list(tokens.get("bot") or []),
        user_ids=list(tokens.get("oauth") or []),
    )


def register(app: App) -> None:
    after_ack(app.event("app_uninstalled"))(uninstalled)
    after_ack(app.event("tokens_revoked"))(revoked)
    after_ack(app.event("app_home_opened"))(publish_home)
