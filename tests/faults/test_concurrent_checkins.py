"""Concurrent check-ins through the service layer, on SQLite and PostgreSQL.

tests/storage/test_checkins.py has writers in different periods serialize on the KR row.
Here they answer in the same period, as people do when a prompt, a reminder and the Home
tab are all open: the period keeps one row, written wholly by one answer (value, confidence
and note never mixed from two), and the KR shows that row's value. Several people checking
in on shared KRs in different orders must not deadlock either.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from bot.services.checkins import CheckinService
from storage.cycles import create_cycle
from storage.models import CheckIn, KeyResult
from storage.objectives import create_objective
from storage.workspaces import ensure_workspace

WS = "T0RACE"
OWNER = "U0OWNER"
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday: period starts Monday 2026-03-02
WRITERS = 8


def _seed(engine: sa.Engine, krs: int) -> list[int]:
    with Session(engine, expire_on_commit=False) as session:
        ensure_workspace(session=session, workspace_id=WS, name="Race Inc")
        cycle = create_cycle(
            session=session,
            workspace_id=WS,
            name="Q1 2026",
            start_date=date(2026, 1, 1),
            end_date=date(2026, 3, 31),
        )
        objective = create_objective(
            session=session,
            workspace_id=WS,
            cycle_id=cycle.id,  # type: ignore[arg-type]
            owner_id=OWNER,
            title="Move fast together",
            key_results=[
                KRSpec(f"Metric {n}", KRKind.INCREASE, 1000, start_value=0) for n in range(krs)
            ],
            now=NOW - timedelta(days=30),
        )
        session.commit()
        rows = session.exec(
            select(KeyResult.id)
            .where(KeyResult.objective_id == objective.id)
            .order_by(col(KeyResult.position))
        ).all()
        return list(rows)  # type: ignore[arg-type]


def _together(work: Callable[[int], None], writers: int = WRITERS) -> None:
    """Run work(0..writers-1) on as many threads, released at once by a barrier."""
    start = threading.Barrier(writers)

    def run(i: int) -> None:
        start.wait(timeout=10)
        work(i)

    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(run, range(writers)))  # re-raises the first writer's error


def test_same_period_check_ins_from_many_threads_merge_into_the_last(engine: sa.Engine) -> None:
    [kr_id] = _seed(engine, krs=1)

    def answer(i: int) -> None:
        # Each writer has its own clock: "recorded at" tells the answers apart.
        service = CheckinService(engine, clock=lambda: NOW + timedelta(seconds=i))
        service.record(
            workspace_id=WS,
            user_id=OWNER,
            readings=[(kr_id, float(100 + i), i % 11)],
            note=f"writer {i}",
        )

    _together(answer)

    with Session(engine) as session:
        rows = session.exec(select(CheckIn).where(CheckIn.key_result_id == kr_id)).all()
        kr = session.get_one(KeyResult, kr_id)
    [row] = rows  # one check-in per KR and period
    assert row.period_start == date(2026, 3, 2)
    i = int(row.value - 100)  # type: ignore[operator]
    assert 0 <= i < WRITERS
    # Written wholly by one writer: nothing of another's answer mixed in.
    assert (row.confidence, row.note) == (i % 11, f"writer {i}")
    assert row.created_at.replace(tzinfo=UTC) == NOW + timedelta(seconds=i)
    # The value before the period, not an earlier writer's answer in the same period.
    assert row.previous_value is None
    # No lost update: the KR shows the check-in that stands.
    assert (kr.current_value, kr.confidence) == (row.value, row.confidence)
    assert kr.last_checkin_at.replace(tzinfo=UTC) == row.created_at.replace(tzinfo=UTC)  # type: ignore[union-attr]


def test_check_ins_over_shared_krs_in_any_order_neither_deadlock_nor_lose(
    engine: sa.Engine,
) -> None:
    kr_ids = _seed(engine, krs=4)
    rng = random.Random(20260304)
    orders = [rng.sample(kr_ids, len(kr_ids)) for _ in range(WRITERS)]
    assert len({tuple(o) for o in orders}) > 1  # the writers really lock in different orders

    def answer(i: int) -> None:
        service = CheckinService(engine, clock=lambda: NOW + timedelta(seconds=i))
        service.record(
            workspace_id=WS,
            user_id=OWNER,
            readings=[(k, float(10 * i + n), None) for n, k in enumerate(orders[i])],
            note=f"writer {i}",
        )

    _together(answer)

    with Session(engine) as session:
        rows = session.exec(select(CheckIn).order_by(CheckIn.key_result_id)).all()
        krs = {k.id: k for k in session.exec(select(KeyResult)).all()}
    assert [r.key_result_id for r in rows] == sorted(kr_ids)
    for row in rows:
        i = int(row.note.removeprefix("writer "))
        # The stored value is the one writer i gave this KR, and the KR shows it.
        assert row.value == float(10 * i + orders[i].index(row.key_result_id))
        assert krs[row.key_result_id].current_value == row.value
        assert row.created_at.replace(tzinfo=UTC) == NOW + timedelta(seconds=i)
