"""Slack listeners, one module per surface: module-level functions, which each surface's
`register(app)` hands to Bolt. They find the services in Bolt's context (`deps_of(context)`),
put there by a global middleware (`provide`), so each one can be called in a test.

How a request is answered (README, "How a request is served", says why): Bolt runs with
process_before_response=True, so it answers Slack with what the listener's ack function acked,
when that function returns, and never reports success for work that has not happened:

- `after_ack`: commands, buttons and events, whose ack carries nothing: the work runs after
  it, on the app's listener_executor, and whatever fails there is told (`heard`).
- `before_answer`: what must use Slack's trigger_id while it is fresh (3 s): open a modal.
- `loading_first`: a modal whose form takes database work to build opens "Loading…" first.
- a plain `app.view` / `app.options` listener: forms and options, whose ack IS the answer,
  saved in the request thread (cut at Slack's deadline: bot/server.py ANSWER_BUDGET_S); a
  form's follow-up (a DM, a refreshed Home tab) is its lazy listener.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, TypeVar

from slack_bolt import Ack, BoltContext, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.dialogs import build_checkin_modal
from bot.blocks.home import VIEW_BLOCKS, build_home
from bot.blocks.loading import build_failed_view, build_loading_view
from bot.blocks.messages import build_error
from bot.blocks.objective_modal import SuggestPanel, suggestions_in
from bot.blocks.text import escape
from bot.listeners.middleware import (
    SLACK_FAILURES,
    install_request_logging,
    request_fields,
    slack_failure,
)
from bot.logs import log_event
from bot.pictures import Pictures
from bot.services.admin import AdminService
from bot.services.alignment import AlignmentService
from bot.services.checkins import CheckinService
from bot.services.delivery import DeliveryService
from bot.services.installs import InstallService
from bot.services.objectives import ObjectiveService
from bot.services.people import PeopleDirectory
from bot.services.permissions import PermissionDenied
from bot.services.reviews import ReviewService
from bot.services.settings import SettingsService
from bot.services.sources import SourceService, SourceState
from bot.services.suggestions import SuggestionService
from bot.services.transfer import Exported
from bot.services.trees import TreeService
from storage.errors import NotFound, Refused, Unavailable
from storage.tree import KeyResultRow, ObjectiveRow

Listener = TypeVar("Listener", bound=Callable[..., Any])
DEPS = "deps"  # the key of the services in Bolt's context
log = logging.getLogger("ladder.listeners")


@dataclass(frozen=True)
class Deps:
    """The services the listeners call, each built with the engine and the clock (bot/app.py)."""

    objectives: ObjectiveService
    trees: TreeService
    checkins: CheckinService
    delivery: DeliveryService
    settings: SettingsService
    admin: AdminService
    alignment: AlignmentService
    reviews: ReviewService
    export: Callable[..., Exported]  # bot.services.transfer.export_text, on the engine
    installs: InstallService
    people: PeopleDirectory
    clock: Callable[[], datetime]
    sources: SourceService | None = None  # data sources (bot/listeners/sources.py)
    pictures: Pictures | None = None  # trend charts (bot/pictures.py); None: no pictures
    suggestions: SuggestionService | None = None  # "✨ Suggest KRs"; None: off (the default)

    def suggest_panel(self, view: dict | None = None) -> SuggestPanel | None:
        """The objective form's suggestions: those `view` offers (kept across a re-render),
        and the button; None when no model is configured."""
        if self.suggestions is None:
            return None
        return SuggestPanel(
            source=self.suggestions.label, sentences=suggestions_in(view) if view else ()
        )

    def __deepcopy__(self, memo: dict) -> Deps:
        """Shared, not copied: Bolt deep-copies the context for lazy listeners."""
        return self

    def is_admin(self, client: WebClient, workspace_id: str, user_id: str) -> Callable[[], bool]:
        """A lazy admin check: Slack is asked only if the answer is needed."""
        return lambda: self.people.is_admin(client, workspace_id=workspace_id, user_id=user_id)

    def names(
        self, client: WebClient, workspace_id: str, user_ids: Iterable[str]
    ) -> dict[str, str]:
        """Display names for showing owners without mentioning (and so notifying) them."""
        return self.people.names(client, workspace_id=workspace_id, user_ids=user_ids)

    def source_states(
        self, *, workspace_id: str, key_result_ids: Iterable[int]
    ) -> dict[int, SourceState]:
        """The data sources of the given KRs, by KR id (none without a source service)."""
        ids = list(dict.fromkeys(key_result_ids))
        if self.sources is None or not ids:
            return {}
        return self.sources.states(workspace_id=workspace_id, key_result_ids=ids)

    def checkin_modal(
        self, *, workspace_id: str, krs: Sequence[tuple[KeyResultRow, ObjectiveRow]], origin: dict
    ) -> dict:
        """The check-in modal for `krs`: those with a working data source ask only confidence."""
        sources = self.source_states(
            workspace_id=workspace_id, key_result_ids=[kr.id for kr, _ in krs]
        )
        return build_checkin_modal(krs=krs, origin=origin, sources=sources, now=self.clock())

    def refresh_home(self, client: WebClient, *, workspace_id: str, user_id: str) -> None:
        """Render `user_id`'s App Home tab and publish it."""
        mine, team_name, team_tree, company = self.trees.home(
            workspace_id=workspace_id, user_id=user_id
        )
        # The owners of what the tab can show: a view holds at most VIEW_BLOCKS sections.
        owners = [
            o.owner_id
            for tree in (team_tree, company)
            if tree is not None
            for o, _ in tree.walk()[:VIEW_BLOCKS]
        ]
        view = build_home(
            mine=mine,
            user_id=user_id,
            team_name=team_name,
            team_tree=team_tree,
            company_tree=company,
            now=self.clock(),
            names=self.names(client, workspace_id, owners),
            sources=self.source_states(
                workspace_id=workspace_id,
                key_result_ids=[kr.id for kr in mine.key_results if kr.owner_id == user_id],
            ),
        )
        del mine, team_tree, company  # the trees go before Slack's round trip
        if self.pictures is not None:  # charts: the person's objective, after the view's blocks
            from bot.listeners.charts import publish_home_with_chart

            publish_home_with_chart(
                self, client, workspace_id=workspace_id, user_id=user_id, view=view
            )
            return
        client.views_publish(user_id=user_id, view=view)


def deps_of(context: dict) -> Deps:
    """The services, which `provide` put in Bolt's context for every request."""
    deps: Deps = context[DEPS]
    return deps


def provide(deps: Deps) -> Callable[..., BoltResponse]:
    """A global middleware that hands every listener the services, in `context["deps"]`."""

    def middleware(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        context[DEPS] = deps
        return next()

    return middleware


def workspace_of(body: dict, context: dict) -> str:
    """The request's workspace: every query is scoped by it."""
    team = context.get("team_id") or (body.get("team") or {}).get("id") or body.get("team_id")
    if not team:
        raise ValueError("request without a workspace")
    return str(team)


def channel_of(body: dict) -> str | None:
    """The channel a click came from (None: App Home, or a modal)."""
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


class Who(TypedDict):
    """Who acted, as every service that checks permissions takes it: `service.f(**who, …)`."""

    workspace_id: str
    user_id: str
    is_admin: Callable[[], bool]  # asked of Slack only if needed


def who(body: dict, context: dict, client: WebClient) -> Who:
    """The request's workspace, the person who acted in it, and whether they are an admin."""
    workspace_id, user_id = workspace_of(body, context), body["user"]["id"]
    is_admin = deps_of(context).is_admin(client, workspace_id, user_id)
    return Who(workspace_id=workspace_id, user_id=user_id, is_admin=is_admin)


def after_ack(*routes: Callable[..., Any]) -> Callable[[Listener], Listener]:
    """Register `work` on each of Bolt's `routes` (e.g. `app.command("/okr")`) as a lazy
    listener behind an empty ack; failures are told to the person (`heard`)."""

    def register(work: Listener) -> Listener:
        lazy = heard(work)
        for route in routes:
            route(ack=lambda ack: ack(), lazy=[lazy])  # an empty ack: Slack hears at once
        return work

    return register


def before_answer(*routes: Callable[..., Any]) -> Callable[[Listener], Listener]:
    """Register `work` (which takes `ack` and acks first) on each of Bolt's `routes`, run in
    the request thread before Slack gets its answer; failures are told (`heard`)."""

    def register(work: Listener) -> Listener:
        answer = heard(work)
        for route in routes:
            route(answer)
        return work

    return register


# The view the ack function opened for the lazy listener to fill: Bolt copies the context
# (and this key with it) into the lazy listener's request.
LOADING_VIEW = "ladder_loading_view"
# A refusal the form's build raises: its message is for the person (no crash).
FORM_REFUSALS = (PermissionDenied, Refused, NotFound)
# views.update errors that mean the modal is no longer ours to change: another update came
# first (the person acted in it), or it was closed. Nothing to do then.
MODAL_GONE = ("hash_conflict", "not_found")


class Told(Exception):
    """Work after the ack failed and the person already read why (e.g. in the modal); its
    text is the problem, for the log line."""


def open_loading(context: BoltContext, client: WebClient, trigger_id: str, *, title: str) -> None:
    """In the ack function, while the trigger is fresh: views.open of a small "Loading…"
    modal, no database work. Its id and hash go into the context for `fill_loading`; when
    Slack will not open it the person is told, and `fill_loading` does nothing."""
    try:
        answer = client.views_open(trigger_id=trigger_id, view=build_loading_view(title))
    except SLACK_FAILURES as error:
        log_event(
            log,
            "modal_not_opened",
            level=logging.WARNING,
            workspace=context.team_id,
            user=context.user_id,
            error=slack_failure(error),
        )
        tell(context, "Slack did not open the form this time. Please try again.")
        return
    view = answer["view"]
    context[LOADING_VIEW] = {"id": view["id"], "hash": view["hash"], "title": title}


def fill_loading(context: BoltContext, client: WebClient, build: Callable[[], dict]) -> None:
    """In the lazy listener: the loading view opened at the ack becomes `build()`'s view
    (views.update by view id, with the hash of the open when there is one: an update the
    person caused in the meantime wins; a form's answer has none). A failed build shows a
    clear error in the modal instead (and raises Told, so the work line records it); Slack
    refusing the update itself is left to `heard`."""
    opened = context.get(LOADING_VIEW)
    if not opened:
        return  # views.open failed at the ack; the person was told then
    problem: str | None = None
    try:
        view = build()
    except FORM_REFUSALS as error:  # an answer, not a failure
        # PermissionDenied says who may, as mrkdwn mentions; the others may quote user text.
        denied = isinstance(error, PermissionDenied)
        text = str(error) if denied else escape(str(error))
        view = build_failed_view(opened["title"], text, icon="🚫" if denied else "ℹ️")
    except Exception as error:
        problem, text = _failure(error, "building a modal failed: %s", opened.get("title"))
        view = build_failed_view(opened["title"], text, icon="⚠️")
    try:
        client.views_update(view_id=opened["id"], hash=opened.get("hash"), view=view)
    except SlackApiError as error:
        if error.response.get("error") not in MODAL_GONE:
            raise
        log_event(
            log,
            "modal_changed",
            workspace=context.team_id,
            user=context.user_id,
            error=error.response.get("error"),
        )
    if problem is not None:
        raise Told(problem)


def loading_first(
    *routes: Callable[..., Any], title: str
) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    """Register `build` (Bolt's arguments in, the modal's view out) on each of Bolt's `routes`
    as a modal that opens "Loading…" at the ack and is filled by a lazy listener."""

    def register(build: Callable[..., dict]) -> Callable[..., dict]:
        missing = {"body", "context", "client"} - set(inspect.getfullargspec(build).args)
        if missing:
            raise TypeError(
                f"modal builder {build.__name__} must take {', '.join(sorted(missing))}"
            )

        def opens(ack: Ack, body: dict, context: BoltContext, client: WebClient) -> None:
            ack()
            open_loading(context, client, body["trigger_id"], title=title)

        @functools.wraps(build)
        def fills(**kwargs: Any) -> None:
            fill_loading(kwargs["context"], kwargs["client"], lambda: build(**kwargs))

        lazy = heard(fills)
        for route in routes:
            route(ack=opens, lazy=[lazy])
        return build

    return register


# What the person reads when work after the ack failed; {reason} is Slack's error code (the
# log line has the rest).
SLACK_FAILED = (
    "Slack did not answer Ladder just now ({reason}), so this was not done. "
    "Please try again in a minute."
)
STORAGE_FAILED = (
    "Ladder could not reach its database just now, so nothing was changed. "
    "Please try again in a minute; if it keeps happening, tell whoever runs Ladder."
)
CRASHED = (
    "Something went wrong inside Ladder and this was not done. Please try again; "
    "if it keeps happening, tell whoever runs Ladder."
)


# After a form was saved, only its follow-up (a DM, a refreshed Home tab) can fail.
FOLLOW_UP_FAILED = (
    "{saved} Ladder could not send its follow-up message just now; nothing else is needed."
)


def heard(work: Listener, *, saved: str | None = None) -> Listener:
    """Work after the ack, logged when it ends; a failure is told to the person privately
    (an ephemeral reply, or a DM where there is no response_url) and logged, never lost.
    `saved`: what the ack already confirmed (a form's save), said first in that message.
    Bolt reads the parameter names of `work` through functools.wraps."""

    @functools.wraps(work)
    def run(**kwargs: Any) -> None:
        context: BoltContext = kwargs["context"]
        fields = request_fields(kwargs.get("body") or {})
        started = time.perf_counter()
        problem: str | None = None
        try:
            work(**kwargs)
        except Told as error:  # the person already read what happened (in the modal)
            problem = str(error)
        except Exception as error:
            problem, message = _failure(error, "work after ack failed: %s", fields)
            tell(context, message if saved is None else FOLLOW_UP_FAILED.format(saved=saved))
        log_event(
            log,
            "work",
            level=logging.WARNING if problem else logging.INFO,
            workspace=context.team_id,
            user=context.user_id,
            **fields,
            duration_ms=(time.perf_counter() - started) * 1000,
            status="error" if problem else "ok",
            **({"error": problem} if problem else {}),
        )

    # Bolt passes a listener only the arguments it names: the line needs body and context.
    missing = {"body", "context"} - set(inspect.getfullargspec(inspect.unwrap(work)).args)
    if missing:
        raise TypeError(f"listener {work.__name__} must take {', '.join(sorted(missing))}")
    return run  # type: ignore[return-value]


def _failure(error: Exception, *crash_line: Any) -> tuple[str, str]:
    """What failed, for the log line, and what the person reads; a crash is logged whole
    (`crash_line`)."""
    if isinstance(error, SLACK_FAILURES):
        problem = slack_failure(error)
        return problem, SLACK_FAILED.format(reason=escape(problem))
    if isinstance(error, Unavailable):
        return type(error).__name__, STORAGE_FAILED
    log.exception(*crash_line)
    return type(error).__name__, CRASHED


def tell(context: BoltContext, text: str) -> None:
    """A private word to the person who asked; if Slack refuses even that, it is logged."""
    message = build_error(text)
    try:
        if context.response_url and context.respond is not None:
            context.respond(response_type="ephemeral", replace_original=False, **message)
        elif context.user_id and context.client is not None:
            context.client.chat_postMessage(channel=context.user_id, **message)  # a DM
    except SLACK_FAILURES as error:
        log_event(
            log,
            "could_not_tell",
            level=logging.WARNING,
            workspace=context.team_id,
            user=context.user_id,
            error=slack_failure(error),
        )


def tell_clicker(body: dict, client: WebClient, respond: Respond, message: dict) -> None:
    """Only the clicker sees it: ephemeral on a message, a small modal from the Home tab."""
    if body.get("response_url"):
        respond(response_type="ephemeral", replace_original=False, **message)
        return
    client.views_open(
        trigger_id=body["trigger_id"],
        view={
            "type": "modal",
            "title": {"type": "plain_text", "text": "Ladder"},
            "close": {"type": "plain_text", "text": "OK"},
            "blocks": message["blocks"],
        },
    )


def form_failure(error: Exception) -> str:
    """What a form shows under a field when it was not saved: a refusal's reason, or that it
    could not be saved in time."""
    if isinstance(error, FORM_REFUSALS):
        return str(error)
    if isinstance(error, Unavailable):
        return (
            "Ladder is busy or its database is not answering, so nothing was saved. "
            "Please try again in a moment."
        )
    return (
        f"Slack did not answer Ladder ({escape(slack_failure(error))}), so nothing was saved. "
        "Please try again in a moment."
    )


FORM_FAILURES = (Unavailable, *SLACK_FAILURES)  # a form answers these with `form_failure`


def register_all(app: Any, deps: Deps) -> None:
    from bot.listeners import (
        actions,
        commands,
        events,
        options,
        reviews,
        sources,
        suggestions,
        views,
    )

    install_request_logging(app)
    app.use(provide(deps))
    for surface in (commands, actions, views, events, options, sources, reviews, suggestions):
        surface.register(app)
