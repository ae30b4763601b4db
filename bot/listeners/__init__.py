"""Slack listeners, one package per surface; each exposes `register(app, deps)`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_bolt import App
from slack_sdk import WebClient

from bot.services.checkins import CheckinService
from bot.services.okrs import OKRService
from bot.services.people import PeopleDirectory


@dataclass(frozen=True)
class Deps:
    okrs: OKRService
    checkins: CheckinService
    people: PeopleDirectory
    clock: Callable[[], datetime]

    def is_admin(self, client: WebClient, workspace_id: str, user_id: str) -> Callable[[], bool]:
        """A lazy admin check: Slack is asked only if the answer is needed."""
        return lambda: self.people.get(client, workspace_id=workspace_id, user_id=user_id).is_admin


def workspace_of(body: dict, context: dict) -> str:
    """The request's workspace: every query is scoped by it."""
    team = context.get("team_id") or (body.get("team") or {}).get("id") or body.get("team_id")
    if not team:
        raise ValueError("request without a workspace")
    return str(team)


def register_all(app: App, deps: Deps) -> None:
    from bot.listeners import actions, commands, events, options, views
    from bot.listeners.middleware import log_requests

    app.use(log_requests)
    for surface in (commands, actions, views, events, options):
        surface.register(app, deps)
