"""Wiring for background work: one sender, one scheduler, per process role."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.token_rotation import TokenRotator
from slack_sdk.web import SlackResponse
from sqlalchemy import Engine

from bot.app import make_client
from bot.config import Settings
from bot.jobs import scheduler as scheduler_module
from bot.jobs.pacing import Pacer
from bot.jobs.sender import ClientFor, Sender, SendReport
from bot.services.checkins import CheckinService
from bot.services.installs import BotTokens, installation_store
from bot.services.retention import PurgeReport, purge_expired

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_sender(
    settings: Settings, engine: Engine, *, reclaim_after: timedelta = timedelta(minutes=2)
) -> Sender:
    return Sender(
        CheckinService(engine, clock=utc_now),
        workspace_clients(settings, engine),
        reclaim_after=reclaim_after,
        pacer=Pacer.shared(engine, per_workspace=settings.send_rate),  # one pace per workspace
    )


def workspace_clients(settings: Settings, engine: Engine) -> ClientFor:
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
            client_secret=settings.slack_client_secret,
            client=make_client(settings),
        ),
    )

    checkins = CheckinService(engine, clock=utc_now)

    def client_for(workspace_id: str) -> WebClient:
        token = tokens.bot_token(workspace_id)
        if token is None:
            checkins.deactivate(workspace_id, reason="no installation")
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
        log.warning("workspace=%s has no installation; %s not sent", self.workspace_id, api_method)
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


def purge_now(settings: Settings, engine: Engine) -> PurgeReport:
    """The daily retention job: delete workspaces inactive for longer than the retention."""
    return purge_expired(engine, now=utc_now(), retention=settings.retention)


def send_checkins(
    settings: Settings,
    engine: Engine,
    *,
    workspace_id: str | None = None,
    reclaim_after: timedelta = timedelta(minutes=2),
) -> SendReport:
    """`checkins send`: this period's prompts now (idempotent), then whatever else is due."""
    return make_sender(settings, engine, reclaim_after=reclaim_after).run(
        workspace_id=workspace_id, force=True
    )


def _source_sync(settings: Settings, engine: Engine) -> Callable[[], object]:
    from bot.jobs.sources import make_source_service

    service = make_source_service(engine, workspace_clients(settings, engine), clock=utc_now)
    return service.sync_due


def start_background_scheduler(settings: Settings, engine: Engine) -> BaseScheduler:
    scheduler = scheduler_module.configure(
        engine,
        make_sender(settings, engine),
        purge=lambda: purge_now(settings, engine),
        sources=_source_sync(settings, engine),
    )
    scheduler.start()
    log.info("scheduler started in this process (job %s)", scheduler_module.TICK_JOB_ID)
    return scheduler


def run_clock(settings: Settings, engine: Engine) -> None:
    """`clock`: the dedicated scheduler process."""
    scheduler = scheduler_module.configure(
        engine,
        make_sender(settings, engine),
        blocking=True,
        purge=lambda: purge_now(settings, engine),
        sources=_source_sync(settings, engine),
    )
    log.info("clock process: scheduler running (job %s)", scheduler_module.TICK_JOB_ID)
    scheduler.start()
