"""Builders for test data, starting with the reference example company."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from bot.okr.kinds import KRKind, UnitKind
from bot.okr.validate import KRSpec
from storage.cycles import create_cycle
from storage.models import Cycle, Objective
from storage.objectives import create_objective
from storage.workspaces import ensure_workspace, update_workspace

VISION = "Empowering global connectivity through innovative solutions."
MISSION = "Deliver cutting-edge technology that transforms lives."

PLATFORM_KRS = [
    KRSpec(
        "Achieve 1 million active users within six months",
        KRKind.INCREASE,
        1_000_000,
        start_value=0,
        unit_label="active users",
        due_date=date(2026, 7, 5),
    ),
    KRSpec(
        "Increase user engagement by 30%",
        KRKind.INCREASE,
        52,
        start_value=40,
        unit=UnitKind.PERCENT,
    ),
    KRSpec(
        "Reduce latency to under 100 milliseconds",
        KRKind.DECREASE,
        100,
        start_value=250,
        unit=UnitKind.DURATION,
        unit_label="ms",
    ),
]
SUPPORT_KRS = [
    KRSpec(
        "Achieve a Net Promoter Score (NPS) of 9 or higher", KRKind.AT_LEAST, 9, unit_label="NPS"
    ),
    KRSpec(
        "Resolve 90% of customer inquiries within 24 hours",
        KRKind.INCREASE,
        90,
        start_value=0,
        unit=UnitKind.PERCENT,
    ),
]


@dataclass
class ReferenceCompany:
    workspace_id: str
    cycle: Cycle
    platform: Objective
    support: Objective


def reference_company(
    session: Session,
    *,
    workspace_id: str = "T0REF",
    owner_id: str = "U0CEO",
    now: datetime | None = None,
) -> ReferenceCompany:
    ensure_workspace(session=session, workspace_id=workspace_id, name="Acme Tech")
    update_workspace(session=session, workspace_id=workspace_id, vision=VISION, mission=MISSION)
    cycle = create_cycle(
        session=session,
        workspace_id=workspace_id,
        name="H1 2026",
        start_date=date(2026, 1, 5),
        end_date=date(2026, 7, 5),
    )
    platform = create_objective(
        session=session,
        workspace_id=workspace_id,
        cycle_id=cycle.id,
        owner_id=owner_id,
        title="Launch a new communication platform",
        # Company objectives say which part of the vision or mission they serve (issue 18).
        description="The vision: global connectivity, on a platform of our own.",
        key_results=PLATFORM_KRS,
        now=now,
    )
    support = create_objective(
        session=session,
        workspace_id=workspace_id,
        cycle_id=cycle.id,
        owner_id=owner_id,
        title="Enhance customer support",
        description="The mission: technology that transforms lives needs support that works.",
        key_results=SUPPORT_KRS,
        now=now,
    )
    session.commit()
    return ReferenceCompany(workspace_id, cycle, platform, support)
