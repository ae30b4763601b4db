"""Slack listeners, one package per surface; each exposes `register(app, deps)`."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from slack_bolt import App
from slack_sdk import WebClient

from bot.blocks.home import build_home
from bot.listeners.middleware import (
    SLACK_FAILURES,
    install_request_logging,
    note_failure,
    slack_failure,
)
from bot.listeners.prompt_ack import ack_at_once, after_answers, answer_at_ack
from bot.listeners.work import WorkPool
from bot.logs import log_event
from bot.services.checkins import CheckinService
from bot.services.okrs import OKRService
from bot.services.people import PeopleDirectory

Listener = TypeVar("Listener", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass(frozen=True)
class Deps:
    okrs: OKRService
    checkins: CheckinService
    people: PeopleDirectory
    clock: Callable[[], datetime]
    work: WorkPool  # renders after ack(), one at a time, off the listeners' threads (work.py)
    listeners: WorkPool  # where acked listeners run (commands, buttons, events; prompt_ack.py)
    answers: WorkPool  # where forms and options run until and after their ack, on their own
    replies: WorkPool  # Slack calls of renders, and slow sends (a check-in fan-out)

    def is_admin(self, client: WebClient, workspace_id: str, user_id: str) -> Callable[[], bool]:
        """A lazy admin check: Slack is asked only if the answer is needed."""
        return lambda: self.people.get(client, workspace_id=workspace_id, user_id=user_id).is_admin

    def render_then_send(
        self, render: Callable[[], T], send: Callable[[T], None], *, context: Any, what: str
    ) -> None:
        """After the ack: `render` on the work pool (one thread, renders are CPU-bound), then
        `send` its result from the replies pool, so the next render does not wait for this
        one's Slack round trip. What `render` loads is freed before `send` runs."""

        def render_step() -> None:
            after_answers()  # a render holds the interpreter lock for long: acks go first
            result = render()
            self.replies.submit(lambda: send(result), context=context, what=what)

        self.work.submit(render_step, context=context, what=what)

    def refresh_home(
        self, client: WebClient, *, workspace_id: str, user_id: str, context: Any
    ) -> None:
        """Render `user_id`'s App Home tab (the company tree can be thousands of objectives)
        on the work pool and publish it from the replies pool."""

        def home_view() -> dict:
            mine, team_name, team_tree, company = self.okrs.home(
                workspace_id=workspace_id, user_id=user_id
            )
            return build_home(
                mine=mine,
                user_id=user_id,
                team_name=team_name,
                team_tree=team_tree,
                company_tree=company,
                now=self.clock(),
            )

        self.render_then_send(
            home_view,  # the trees are freed when it returns, before Slack's round trip
            lambda view: client.views_publish(user_id=user_id, view=view),
            context=context,
            what="app home",
        )

    def acked_listener(self, function: Listener) -> Listener:
        """How a listener whose ack carries nothing is registered (commands, buttons,
        events): acked at once, then run on the listener pool; Slack failures logged, not
        raised (`shielded`)."""
        return ack_at_once(self.listeners, shielded(function))

    def listener(self, function: Listener) -> Listener:
        """How a listener that answers Slack with its ack is registered (form errors,
        options): run on a pool of their own, so that no queue of commands and clicks waiting
        on Slack pushes them past Slack's 3 s, and answered at the ack (prompt_ack.py)."""
        return answer_at_ack(self.answers, shielded(function))


def workspace_of(body: dict, context: dict) -> str:
    """The request's workspace: every query is scoped by it."""
    team = context.get("team_id") or (body.get("team") or {}).get("id") or body.get("team_id")
    if not team:
        raise ValueError("request without a workspace")
    return str(team)


log = logging.getLogger("ladder.listeners")
__all__ = ["SLACK_FAILURES", "Deps", "WorkPool", "shielded", "slack_failure", "workspace_of"]


def shielded(listener: Listener) -> Listener:
    """A Slack call failing after the client's retries must not escape a listener.

    Everything a listener stores is stored before its Slack calls, so such a failure only
    loses a reply, and is logged as a warning, not as a crash with a traceback.
    Bolt reads the wrapped function's parameter names through functools.wraps.
    """

    @functools.wraps(listener)
    def run(**kwargs: Any) -> Any:
        try:
            return listener(**kwargs)
        except SLACK_FAILURES as error:
            note_failure(kwargs.get("context"), slack_failure(error))
            body = kwargs.get("body") or {}
            log_event(
                log,
                "slack_call_failed",
                level=logging.WARNING,
                listener=listener.__name__,
                workspace=body.get("team_id") or (body.get("team") or {}).get("id"),
                user=body.get("user_id") or (body.get("user") or {}).get("id"),
                error=slack_failure(error),
            )
            return None

    return run  # type: ignore[return-value]


def register_all(app: App, deps: Deps) -> None:
    from bot.listeners import actions, commands, events, options, views

    install_request_logging(app)
    for surface in (commands, actions, views, events, options):
        surface.register(app, deps)
