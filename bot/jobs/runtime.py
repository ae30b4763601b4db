"""Wiring for background work: one sender, one scheduler, per process role.

The composition root (bot/app.py: `workspace_clients`) hands in the Web API clients."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from bot.config import Settings
from bot.jobs import scheduler as scheduler_module
from bot.jobs.pacing import Pacer
from bot.jobs.sender import ClientFor, Sender, SendReport
from bot.services.delivery import DeliveryService
from bot.services.retention import PurgeReport, purge_expired

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_sender(
    settings: Settings,
    engine: Engine,
    clients: ClientFor,
    *,
    reclaim_after: timedelta = timedelta(minutes=2),
) -> Sender:
    return Sender(
        DeliveryService(engine, clock=utc_now),
        clients,
        reclaim_after=reclaim_after,
        pacer=Pacer.shared(engine, per_workspace=settings.send_rate),  # one pace per workspace
    )


def purge_now(settings: Settings, engine: Engine) -> PurgeReport:
    """The daily retention job: delete workspaces inactive for longer than the retention."""
    return purge_expired(engine, now=utc_now(), retention=settings.retention)


def send_checkins(
    settings: Settings,
    engine: Engine,
    clients: ClientFor,
    *,
    workspace_id: str | None = None,
    reclaim_after: timedelta = timedelta(minutes=2),
) -> SendReport:
    """`checkins send`: this period's prompts now (idempotent), then whatever else is due."""
    return make_sender(settings, engine, clients, reclaim_after=reclaim_after).run(
        workspace_id=workspace_id, force=True
    )


def _source_sync(engine: Engine, clients: ClientFor) -> Callable[[], object]:
    from bot.jobs.sources import make_source_service

    service = make_source_service(engine, clients, clock=utc_now)
    return service.sync_due


def start_background_scheduler(
    settings: Settings, engine: Engine, clients: ClientFor
) -> BaseScheduler:
    scheduler = scheduler_module.configure(
        engine,
        make_sender(settings, engine, clients),
        purge=lambda: purge_now(settings, engine),
        sources=_source_sync(engine, clients),
    )
    scheduler.start()
    log.info("scheduler started in this process (job %s)", scheduler_module.TICK_JOB_ID)
    return scheduler


def run_clock(settings: Settings, engine: Engine, clients: ClientFor) -> None:
    """`clock`: the dedicated scheduler process."""
    scheduler = scheduler_module.configure(
        engine,
        make_sender(settings, engine, clients),
        blocking=True,
        purge=lambda: purge_now(settings, engine),
        sources=_source_sync(engine, clients),
    )
    log.info("clock process: scheduler running (job %s)", scheduler_module.TICK_JOB_ID)
    scheduler.start()
