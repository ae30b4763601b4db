"""Builds the Bolt app: one WebClient with retry handlers, listeners wired to the services."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from sqlalchemy import Engine

from bot.config import Settings
from bot.listeners import Deps, register_all
from bot.services.checkins import CheckinService
from bot.services.okrs import OKRService
from bot.services.people import PeopleDirectory


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_client(settings: Settings) -> WebClient:
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    # slack_sdk retries only connection errors by default; Slack's 429s carry Retry-After.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    client.retry_handlers.append(ServerErrorRetryHandler(max_retry_count=2))
    return client


def build_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Callable[[], datetime] = utc_now,
    token_verification: bool = True,
) -> App:
    app = App(
        client=make_client(settings),
        signing_secret=settings.slack_signing_secret or "",
        token_verification_enabled=token_verification,
        logger=logging.getLogger("ladder.bolt"),
    )
    deps = Deps(
        okrs=OKRService(engine, clock=clock),
        checkins=CheckinService(engine, clock=clock),
        people=PeopleDirectory(),
        clock=clock,
    )
    register_all(app, deps)
    return app
