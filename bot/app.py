"""Builds the Bolt app: one WebClient with retry handlers, listeners wired to the services.

Single-workspace mode uses SLACK_BOT_TOKEN. OAuth mode (SLACK_CLIENT_ID/SECRET) installs to
many workspaces through Bolt's OAuth flow, with tokens in Ladder's own database.
"""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import InstallationStore
from slack_sdk.oauth.token_rotation import TokenRotator
from slack_sdk.web import SlackResponse
from sqlalchemy import Engine

from bot.client import make_client
from bot.config import BOT_SCOPES, Settings, reveal
from bot.jobs.sender import ClientFor
from bot.jobs.sources import make_source_service
from bot.listeners import Deps, register_all
from bot.pictures import Pictures
from bot.services.admin import AdminService
from bot.services.alignment import AlignmentService
from bot.services.charts import ChartService
from bot.services.checkins import CheckinService
from bot.services.delivery import DeliveryService
from bot.services.installs import BotTokens, InstallService, installation_store, state_store
from bot.services.objectives import ObjectiveService
from bot.services.people import PeopleDirectory
from bot.services.reviews import ReviewService
from bot.services.settings import SettingsService
from bot.services.suggestions import SuggestionService, make_suggestion_service
from bot.services.transfer import export_text
from bot.services.trees import TreeService


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Callable[[], datetime] = utc_now,
    token_verification: bool = True,
    listener_executor: Executor | None = None,
) -> App:
    """The Bolt app. `listener_executor` runs the work after each ack (lazy listeners);
    default: a pool of LAZY_THREADS threads."""
    client = make_client(settings)
    oauth = oauth_settings(settings, engine, client=client, clock=clock)
    app = App(
        client=client,
        signing_secret=reveal(settings.slack_signing_secret) or "",
        token_verification_enabled=token_verification,
        oauth_settings=oauth,
        # Given the store itself, Bolt authorizes requests with our client (SLACK_API_URL, retry
        # handlers); from oauth_settings alone it would refresh rotating tokens at slack.com.
        installation_store=None if oauth is None else oauth.installation_store,
        logger=logging.getLogger("ladder.bolt"),
        # Bolt answers Slack with what the ack function acked, when it returns: a form's
        # answer is the outcome of its save, never a guess. What comes after an ack runs
        # as lazy listeners on listener_executor (bot/listeners/__init__.py).
        process_before_response=True,
        listener_executor=listener_executor
        or ThreadPoolExecutor(max_workers=LAZY_THREADS, thread_name_prefix="ladder-lazy"),
    )
    deps = make_deps(
        engine,
        clock=clock,
        installation_store=app.installation_store,
        suggestions=make_suggestion_service(  # "✨ Suggest KRs": None unless LADDER_LLM_URL
            url=settings.llm_url,
            model=settings.llm_model,
            api_key_env=settings.llm_api_key_env,
            timeout=settings.llm_timeout,
            clock=clock,
        ),
    )
    register_all(app, deps)
    return app


def make_deps(
    engine: Engine,
    *,
    clock: Callable[[], datetime] = utc_now,
    installation_store: InstallationStore | None = None,
    suggestions: SuggestionService | None = None,
) -> Deps:
    """The services the listeners use, each built with the engine and the clock.
    `installation_store`: Bolt's, in OAuth mode; `suggestions`: the model behind "✨ Suggest
    KRs", if one is configured."""
    return Deps(
        objectives=ObjectiveService(engine, clock=clock),
        trees=TreeService(engine, clock=clock),
        checkins=CheckinService(engine, clock=clock),
        delivery=DeliveryService(engine, clock=clock),
        settings=SettingsService(engine, clock=clock),
        admin=AdminService(engine, clock=clock),
        alignment=AlignmentService(engine, clock=clock),
        reviews=ReviewService(engine, clock=clock),
        export=functools.partial(export_text, engine),
        # In OAuth mode Bolt holds the installation store; in single-workspace mode, none.
        installs=InstallService(engine, clock=clock, store=installation_store),
        people=PeopleDirectory(),
        clock=clock,
        sources=make_source_service(engine, None, clock=clock),  # its Test button fetches
        pictures=Pictures(ChartService(engine, clock=clock)),  # charts
        suggestions=suggestions,
    )


# ---------------------------------------------------------------------------- OAuth mode

# Threads per process for work after acks (replies, renders, follow-ups). One: a render is
# CPU-bound under the interpreter lock, and every thread answering Slack waits for that lock
# behind each thread running Python (measured: README, "One lazy thread per process").
LAZY_THREADS = 1


INSTALL_FAILURES = {
    "invalid_state": "This install link has expired or was already used.",
    "invalid_browser": "This install did not start from the Ladder install page in this browser.",
    "access_denied": "The installation was cancelled in Slack.",
    "missing_code": "Slack did not send an authorization code.",
    "invalid_code": "Slack did not accept the authorization code.",
    "storage_error": "Ladder could not save the installation. Please try again in a minute.",
}


def authorization_url(api_url: str) -> str:
    """Slack's authorize page next to its Web API (slack.com, GovSlack, or a stand-in)."""
    return api_url.removesuffix("/").removesuffix("/api") + "/oauth/v2/authorize"


def oauth_settings(
    settings: Settings, engine: Engine, *, client: WebClient, clock: Callable[[], datetime]
) -> OAuthSettings | None:
    """Bolt's OAuth flow on Ladder's database; None in single-workspace mode."""
    if not settings.oauth_mode:
        return None
    assert settings.slack_client_id and settings.slack_client_secret
    installs = InstallService(
        engine,
        clock=clock,
        store=installation_store(engine, client_id=settings.slack_client_id),
    )

    def success(args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        if installation.team_id:  # org-wide installs are off in the manifest
            installs.installed(workspace_id=installation.team_id, name=installation.team_name or "")
        return args.default.success(args)

    def failure(args: FailureArgs) -> BoltResponse:
        logging.getLogger("ladder.installs").warning("install failed: %s", args.reason)
        return install_failed_page(args)

    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        install_page_rendering_enabled=False,  # /slack/install redirects straight to Slack
        authorization_url=authorization_url(settings.slack_api_url),
        installation_store=installs.store,
        state_store=state_store(engine),
        callback_options=CallbackOptions(success=success, failure=failure),
        logger=logging.getLogger("ladder.installs"),
    )
    # Bolt falls back to os.environ["SLACK_REDIRECT_URI"] for None, and .env.example leaves it
    # empty: an empty redirect_uri would be sent to Slack. Settings already decided.
    oauth.redirect_uri = oauth.authorize_url_generator.redirect_uri = settings.slack_redirect_uri
    return oauth


def install_failed_page(args: FailureArgs) -> BoltResponse:
    """A page a person can act on; nothing was stored."""
    message = INSTALL_FAILURES.get(args.reason, "Slack reported a problem with the install.")
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Ladder was not installed"
        "</title></head><body style='font-family:sans-serif;text-align:center;padding:2em'>"
        "<h2>Ladder was not installed</h2>"
        f"<p>{html.escape(message)}</p>"
        f"<p><a href='{html.escape(args.settings.install_path)}'>Start the install again</a>"
        f"</p><p><small>Reason: {html.escape(args.reason)}</small></p></body></html>"
    )
    return BoltResponse(
        status=args.suggested_status_code,
        body=body,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Set-Cookie": args.settings.state_utils.build_set_cookie_for_deletion(),
        },
    )


def workspace_clients(
    settings: Settings, engine: Engine, *, clock: Callable[[], datetime] = utc_now
) -> ClientFor:
    """The Web API client for a workspace: SLACK_BOT_TOKEN's for all of them in
    single-workspace mode; in OAuth mode the workspace's installed bot token (rotated when
    near expiry), looked up on every call so a reinstall's new token is used at once.

    A workspace without an installation is deactivated, as a revoked token would have it
    (jobs then skip it; installing reactivates it), and gets a client that fails not_authed."""
    if not settings.oauth_mode:
        client = make_client(settings)
        return lambda _workspace_id: client
    assert settings.slack_client_id and settings.slack_client_secret
    tokens = BotTokens(
        installation_store(engine, client_id=settings.slack_client_id),
        rotator=TokenRotator(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            client=make_client(settings),
        ),
    )

    delivery = DeliveryService(engine, clock=clock)

    def client_for(workspace_id: str) -> WebClient:
        token = tokens.bot_token(workspace_id)
        if token is None:
            delivery.deactivate(workspace_id, reason="no installation")
            return NotInstalledClient(workspace_id)
        return make_client(settings, token=token)

    return client_for


class NotInstalledClient(WebClient):
    """A workspace without an installation: every call fails as Slack fails a call without a
    token (not_authed), without asking Slack. The sender treats that like a revoked token."""

    def __init__(self, workspace_id: str) -> None:
        super().__init__(token=None)
        self.workspace_id = workspace_id

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        logging.getLogger("ladder.jobs").warning(
            "workspace=%s has no installation; %s not sent", self.workspace_id, api_method
        )
        response = SlackResponse(
            client=self,
            http_verb="POST",
            api_url=f"{self.base_url}{api_method}",
            req_args={},
            data={"ok": False, "error": "not_authed"},
            headers={},
            status_code=200,
        )
        raise SlackApiError(f"workspace {self.workspace_id} is not installed", response)
