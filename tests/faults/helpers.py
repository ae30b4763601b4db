"""Helpers shared by the fault tests."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from bot.okr.kinds import KRKind
from storage.cycles import create_cycle
from storage.models import KeyResult, Objective
from storage.people import SlackProfile, save_profiles
from storage.workspaces import ensure_workspace
from tests.slack.conftest import (
    Ladder,
    TestClock,
    serve_ladder,
    single_workspace_settings,
)
from tests.support.executor import TrackedExecutor
from tests.support.slack_standin import SlackStandIn


class ListenerRuns:
    """Bolt listener runs started and finished, from Bolt's own start/completion hooks, and
    the lazy listeners they set going on the apps' listener executors.

    Listeners ack first and keep working afterwards (a DM, a chat.update) as lazy
    listeners; whatever they log at the end is only there once that is over. `wait_idle`
    waits for it.
    """

    def __init__(self) -> None:
        self.started = self.finished = 0
        self._cond = threading.Condition()

    def _count(self, which: str) -> None:
        with self._cond:
            setattr(self, which, getattr(self, which) + 1)
            self._cond.notify_all()

    def wait_finished(self, count: int, timeout: float = 10.0) -> None:
        """Until `count` runs have finished, and the work after their acks with them."""
        with self._cond:
            done = self._cond.wait_for(lambda: self.finished >= count, timeout)
        assert done, f"{self.finished} of {count} listener runs finished"
        TrackedExecutor.wait_all_idle(timeout)

    def wait_idle(self, timeout: float = 10.0) -> None:
        with self._cond:
            idle = self._cond.wait_for(lambda: self.finished >= self.started, timeout)
        assert idle, f"{self.started - self.finished} listener run(s) still going"
        TrackedExecutor.wait_all_idle(timeout)


@contextmanager
def running_ladder(slack: SlackStandIn, engine: Engine) -> Iterator[Ladder]:
    """The app on a loopback port, as tests/slack/conftest.py's `ladder` fixture runs it."""
    clock = TestClock(datetime(2026, 2, 16, 9, 0, tzinfo=UTC))
    with serve_ladder(single_workspace_settings(slack), slack, engine, clock) as ladder:
        yield ladder


def describe(records: list[logging.LogRecord]) -> str:
    return "\n".join(
        f"{r.name} {r.levelname}: {r.getMessage()}"
        + (f" ({r.exc_info[1]!r})" if r.exc_info and r.exc_info[1] else "")
        for r in records
    )


def snapshot(
    engine: Engine, tables: Sequence[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (or of `tables`), for before/after comparisons."""
    with engine.connect() as connection:
        return {
            table.name: [
                dict(row)
                for row in connection.execute(
                    sa.select(table).order_by(*table.primary_key.columns)
                ).mappings()
            ]
            for table in SQLModel.metadata.sorted_tables
            if tables is None or table.name in tables
        }


def web_api_calls(slack: SlackStandIn) -> list[str]:
    """Web API methods the app called (response_url posts are not Web API calls)."""
    return [c.method for c in slack.calls() if c.method != "response_url"]


def seed_people_with_a_kr(
    session: Session, *, workspace_id: str, users: Sequence[str], tz: str, now: datetime
) -> None:
    """A running cycle and one milestone KR for each of `users`, created at `now`, with
    their timezone known (so planning asks Slack for nothing).

    Rows go in as two multi-row INSERTs: storage.objectives.create_objective spends about
    five statements on each person, which at a thousand people is most of a test's time.
    """
    ensure_workspace(session=session, workspace_id=workspace_id, name="Acme Tech")
    today = now.date()
    cycle = create_cycle(
        session=session,
        workspace_id=workspace_id,
        name="Now",
        start_date=today - timedelta(days=30),
        end_date=today + timedelta(days=60),
    )
    objectives = [
        Objective(
            workspace_id=workspace_id,
            cycle_id=cycle.id,  # type: ignore[arg-type]
            owner_id=user,
            title=f"Goals of {user}",
            created_at=now,
            updated_at=now,
        )
        for user in users
    ]
    session.add_all(objectives)
    session.flush()
    session.add_all(
        KeyResult(
            workspace_id=workspace_id,
            objective_id=objective.id,  # type: ignore[arg-type]
            owner_id=objective.owner_id,
            title=f"Milestone of {objective.owner_id}",
            kind=KRKind.MILESTONE,
            start_value=0.0,
            target_value=1.0,
            created_at=now,
            updated_at=now,
        )
        for objective in objectives
    )
    save_profiles(
        session=session,
        workspace_id=workspace_id,
        profiles=[SlackProfile(user, tz) for user in users],
        now=now,
    )
    session.flush()
