"""Wiring for background work: one sender, one scheduler, per process role."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from bot.app import make_client
from bot.config import Settings
from bot.jobs import scheduler as scheduler_module
from bot.jobs.pacing import Pacer
from bot.jobs.sender import Sender, SendReport
from bot.services.checkins import CheckinService

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_sender(
    settings: Settings, engine: Engine, *, reclaim_after: timedelta = timedelta(minutes=2)
) -> Sender:
    client = make_client(settings)  # single-workspace mode: one token for every workspace
    return Sender(
        CheckinService(engine, clock=utc_now),
        lambda _workspace_id: client,
        reclaim_after=reclaim_after,
        pacer=Pacer(per_workspace=settings.send_rate),
    )


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


def start_background_scheduler(settings: Settings, engine: Engine) -> BaseScheduler:
    scheduler = scheduler_module.configure(engine, make_sender(settings, engine))
    scheduler.start()
    log.info("scheduler started in this process (job %s)", scheduler_module.TICK_JOB_ID)
    return scheduler


def run_clock(settings: Settings, engine: Engine) -> None:
    """`clock`: the dedicated scheduler process."""
    scheduler = scheduler_module.configure(engine, make_sender(settings, engine), blocking=True)
    log.info("clock process: scheduler running (job %s)", scheduler_module.TICK_JOB_ID)
    scheduler.start()
