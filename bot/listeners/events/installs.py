"""Events API: the app uninstalled, or some of its tokens revoked, in a workspace."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import Deps, after_ack, workspace_of


def register(app: App, deps: Deps) -> None:
    # In OAuth mode Bolt holds the installation store; in single-workspace mode there is none.
    installs = deps.installs

    @after_ack(app.event("app_uninstalled"))
    def uninstalled(body: dict, context: dict) -> None:
        installs.uninstalled(
            workspace_id=workspace_of(body, context), enterprise_id=context.get("enterprise_id")
        )

    @after_ack(app.event("tokens_revoked"))
    def revoked(body: dict, event: dict, context: dict) -> None:
        tokens = event.get("tokens") or {}
        installs.tokens_revoked(
            workspace_id=workspace_of(body, context),
            enterprise_id=context.get("enterprise_id"),
            bot_user_ids=list(tokens.get("bot") or []),
            user_ids=list(tokens.get("oauth") or []),
        )
