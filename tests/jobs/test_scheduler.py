"""The scheduler: one job with a fixed id, persisted in Ladder's database, replaced on restart."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from bot.jobs import scheduler as scheduler_module
from storage.db import make_engine
from storage.migrate import SCHEDULER_JOB_TABLE, upgrade


class RecordingSender:
    def __init__(self) -> None:
        self.runs = 0

    def run(self) -> None:
        self.runs += 1


def test_tick_job_is_persisted_once_and_replaced_on_restart(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ladder.db'}")
    upgrade(engine)
    for _restart in range(2):  # two process starts on the same database
        scheduler = scheduler_module.configure(engine, RecordingSender())  # type: ignore[arg-type]
        scheduler.start(paused=True)
        assert [job.id for job in scheduler.get_jobs()] == [scheduler_module.TICK_JOB_ID]
        scheduler.shutdown(wait=False)
    with engine.connect() as connection:
        rows = connection.execute(sa.text(f"SELECT id FROM {SCHEDULER_JOB_TABLE}")).all()
    assert rows == [(scheduler_module.TICK_JOB_ID,)]
    engine.dispose()


def test_tick_runs_the_registered_sender(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ladder.db'}")
    upgrade(engine)
    sender = RecordingSender()
    scheduler = scheduler_module.configure(engine, sender)  # type: ignore[arg-type]
    [job] = [j for j in scheduler.get_jobs() if j.id == scheduler_module.TICK_JOB_ID]
    job.func()  # what APScheduler calls every minute
    assert sender.runs == 1
    engine.dispose()


def test_the_source_sync_job_has_its_own_id_and_runs_the_registered_sync(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ladder.db'}")
    upgrade(engine)
    rounds: list[str] = []
    scheduler = scheduler_module.configure(
        engine,
        RecordingSender(),  # type: ignore[arg-type]
        sources=lambda: rounds.append("sync"),
    )
    scheduler.start(paused=True)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {scheduler_module.TICK_JOB_ID, scheduler_module.SOURCES_JOB_ID}
    assert jobs[scheduler_module.SOURCES_JOB_ID].trigger.interval.total_seconds() == 60
    jobs[scheduler_module.SOURCES_JOB_ID].func()
    assert rounds == ["sync"]
    scheduler.shutdown(wait=False)
    engine.dispose()
