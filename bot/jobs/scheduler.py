"""The one scheduler: APScheduler 3 with its job store in Ladder's own database.

Jobs with fixed ids, re-registered with replace_existing on every start:
`checkins.tick` (every minute) plans what is due and sends it: prompts, reminders and team
digests. People's timezones are refreshed by the tick when older than a week.
`sources.sync` (every minute) pulls the data sources that are due (each on its own
schedule, hourly by default) and records new values.
`retention.purge` (daily, 04:00 UTC) deletes the data of workspaces uninstalled for longer
than LADDER_RETENTION_DAYS.
Both are idempotent, so a missed or doubled run changes nothing; misfires coalesce.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Engine

from bot.jobs.sender import Sender
from storage.migrate import SCHEDULER_JOB_TABLE

log = logging.getLogger(__name__)

TICK_JOB_ID = "checkins.tick"
PURGE_JOB_ID = "retention.purge"
SOURCES_JOB_ID = "sources.sync"
MINUTELY = {"trigger": "interval", "minutes": 1}

# The persistent job store keeps a reference to a module-level function, not to objects;
# the running process registers its work here (the sender's run, its purge, its source sync).
_work: dict[str, Callable[[], object] | None] = {}


def _run(name: str, missing: str) -> None:
    work = _work.get(name)
    if work is None:  # a job loaded by a process that has no such work configured
        log.warning(missing)
        return
    work()


def tick() -> None:
    _run("tick", "scheduler tick without a sender; skipped")


def purge() -> None:
    _run("purge", "retention purge without a configuration; skipped")


def sync_sources() -> None:
    _run("sync_sources", "data source sync without a configuration; skipped")


# (the function below that runs it, job id, trigger, name)
JOBS: tuple[tuple[str, str, dict, str], ...] = (
    ("tick", TICK_JOB_ID, MINUTELY, "plan and send due check-in prompts and reminders"),
    # A fixed time of day, not an interval: an interval restarts at every deploy and might
    # never come round on a platform that restarts daily.
    (
        "purge",
        PURGE_JOB_ID,
        {"trigger": "cron", "hour": 4, "minute": 0},
        "delete the data of workspaces uninstalled longer than the retention",
    ),
    # Every minute, pulling only what is due: each source has its own interval, and a round
    # that runs long is never doubled (max_instances=1, coalesced).
    (
        "sync_sources",
        SOURCES_JOB_ID,
        MINUTELY,
        "pull the data sources that are due and record new values",
    ),
)


def configure(
    engine: Engine,
    sender: Sender,
    *,
    blocking: bool = False,
    factory: Callable[..., BaseScheduler] | None = None,
    purge: Callable[[], object] | None = None,
    sources: Callable[[], object] | None = None,
) -> BaseScheduler:
    _work.update(tick=sender.run, purge=purge, sync_sources=sources)
    scheduler_class = factory or (BlockingScheduler if blocking else BackgroundScheduler)
    scheduler = scheduler_class(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=SCHEDULER_JOB_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone="UTC",
    )
    for work, job_id, trigger, name in JOBS:
        if _work[work] is not None:
            scheduler.add_job(
                f"bot.jobs.scheduler:{work}", id=job_id, name=name, replace_existing=True, **trigger
            )
    return scheduler
