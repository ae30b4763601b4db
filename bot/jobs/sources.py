"""Wiring for data sources in the scheduler process: one Fetcher (one httpx client) for the
process, and failure notices sent to KR owners by direct message."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.blocks.sources import failure_notice
from bot.services.sources import FailureNotice, SourceService
from bot.sources.fetch import Fetcher
from bot.sources.settings import load_source_settings

log = logging.getLogger(__name__)


def notifier(client_for: Callable[[str], WebClient]) -> Callable[[FailureNotice], bool]:
    """Tell the KR's owner in a DM; False when Slack did not take it (tried at the next pull)."""

    def notify(notice: FailureNotice) -> bool:
        message = failure_notice(
            kr_title=notice.kr_title,
            key_result_id=notice.key_result_id,
            host=notice.host,
            reason=notice.reason,
        )
        try:
            client_for(notice.workspace_id).chat_postMessage(
                channel=notice.owner_id, unfurl_links=False, **message
            )
        except SlackApiError as error:
            log.warning(
                "workspace=%s user=%s: data source notice not sent: %s",
                notice.workspace_id,
                notice.owner_id,
                error.response.get("error"),
            )
            return False
        return True

    return notify


def make_source_service(
    engine: Engine,
    client_for: Callable[[str], WebClient] | None,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SourceService:
    """The process's source service; its fetcher's client lives as long as the process."""
    settings = load_source_settings(os.environ)
    return SourceService(
        engine,
        fetcher=Fetcher(settings.policy()),
        clock=clock,
        notify=notifier(client_for) if client_for is not None else None,
        concurrency=settings.concurrency,
        per_host=settings.per_host,
    )
