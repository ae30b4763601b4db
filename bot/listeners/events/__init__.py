"""Events API: the App Home tab; uninstalls and revoked tokens (events/installs.py)."""

from __future__ import annotations

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks.home import build_home
from bot.listeners import Deps, workspace_of


def register(app: App, deps: Deps) -> None:
    from bot.listeners.events import installs

    installs.register(app, deps)

    @app.event("app_home_opened")
    @deps.listener
    def publish_home(ack: Ack, body: dict, event: dict, context: dict, client: WebClient) -> None:
        ack()
        if event.get("tab") != "home":
            return
        user_id = event["user"]
        workspace_id = workspace_of(body, context)

        def home_view() -> dict:
            mine, team_name, team_tree, company = deps.okrs.home(
                workspace_id=workspace_id, user_id=user_id
            )
            return build_home(
                mine=mine,
                user_id=user_id,
                team_name=team_name,
                team_tree=team_tree,
                company_tree=company,
                now=deps.clock(),
            )

        # The company tree can be thousands of objectives: rendered on the work pool (and
        # freed when home_view returns), published from the listener pool.
        deps.render_then_send(
            home_view,
            lambda view: client.views_publish(user_id=user_id, view=view),
            context=context,
            what="app_home_opened",
        )
