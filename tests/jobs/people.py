"""A workspace of people with one milestone KR each, ready for a check-in plan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from bot.services.delivery import DeliveryService
from storage.cycles import create_cycle
from storage.objectives import create_objective
from storage.people import SlackProfile, save_profiles
from storage.workspaces import ensure_workspace


def people_with_one_kr(
    engine: Engine, *, workspace_id: str, people: Sequence[str], now: datetime
) -> DeliveryService:
    """One objective and KR per person, written 10 days before `now`, and fresh profiles:
    planning asks Slack for nothing."""
    with Session(engine, expire_on_commit=False) as session:
        ensure_workspace(session=session, workspace_id=workspace_id)
        cycle = create_cycle(
            session=session,
            workspace_id=workspace_id,
            name="Q1",
            start_date=date(2026, 1, 1),
            end_date=date(2026, 3, 31),
        )
        for user in people:
            create_objective(
                session=session,
                workspace_id=workspace_id,
                cycle_id=cycle.id,  # type: ignore[arg-type]
                owner_id=user,
                title=f"Goals of {user}",
                key_results=[KRSpec(f"Milestone of {user}", KRKind.MILESTONE, 1)],
                now=now - timedelta(days=10),
            )
        save_profiles(
            session=session,
            workspace_id=workspace_id,
            profiles=[SlackProfile(u, "UTC") for u in people],
            now=now,
        )
        session.commit()
    return DeliveryService(engine, clock=lambda: now)
