"""The Slack Web API client every part of Ladder uses: slack_sdk with retry handlers."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings, reveal


def make_client(settings: Settings, *, token: str | None = None) -> WebClient:
    """A Web API client for `token` (default: SLACK_BOT_TOKEN; none in OAuth mode)."""
    client = WebClient(
        token=token or reveal(settings.slack_bot_token), base_url=settings.slack_api_url
    )
    # slack_sdk retries only connection errors by default; Slack's 429s carry Retry-After.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=3))
    client.retry_handlers.append(ServerErrorRetryHandler(max_retry_count=2))
    return client
