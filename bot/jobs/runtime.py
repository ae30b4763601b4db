"""Wiring for background work: one sender, one scheduler, per process role.

The composition root (bot/app.py: `workspace_clients`) hands in the Web API clients."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from bot.config import Settings
from bot.jobs import scheduler as scheduler_module
from bot.jobs.pacing import Pacer
from bot.jobs.sender import ClientFor, Sender, SendReport
from bot.services.delivery import DeliveryService
from bot.services.retention import purge_expired

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


def _scheduler(
    settings: Settings, engine: Engine, clients: ClientFor, *, blocking: bool
) -> BaseScheduler:
    """The one scheduler (bot/jobs/scheduler.py) with this process's sender, purge and sync."""
    from bot.jobs.sources import make_source_service

    return scheduler_module.configure(
        engine,
        make_sender(settings, engine, clients),
        blocking=blocking,
        purge=lambda: purge_expired(engine, now=utc_now(), retention=settings.retention),
        sources=make_source_service(engine, clients, clock=utc_now).sync_due,
    )


def start_background_scheduler(
    settings: Settings, engine: Engine, clients: ClientFor
) -> BaseScheduler:
    scheduler = _scheduler(settings, engine, clients, blocking=False)
    scheduler.start()
    log.info("scheduler started in this process (job %s)", scheduler_module.TICK_JOB_ID)
    return scheduler


def run_clock(settings: Settings, engine: Engine, clients: ClientFor) -> None:
    """`clock`: the dedicated scheduler process."""
    scheduler = _scheduler(settings, engine, clients, blocking=True)
    log.info("clock process: scheduler running (job %s)", scheduler_module.TICK_JOB_ID)
    scheduler.start()
