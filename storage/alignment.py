"""Alignment health counted in SQL: the one line `/okr status`, Home and the digest show.

The pure module (bot/okr/alignment.py) needs the whole tree; a status message reads only the
objectives it shows. These are the same counts in one statement, whatever the size: how many
objectives of a view ladder up to a company objective, and how many are orphans, company
objectives without a why, objectives without key results or with more than five, and stale
key results. Whether an objective ladders up, has a linked parent, and how many KRs it has
are kept with the stored roll-up (storage/rollup.py), so no statement walks the tree. Contradictions (confident but behind pace) need each KR's pace and stay with
`/okr health`, which loads the tree.

MIRROR POINT: each count is `bot.okr.alignment.alignment_health`'s for the same objectives
(every open, unarchived objective of the workspace is a link in a chain; those of the view are
counted); tests/storage/test_alignment.py checks them on generated trees on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from bot.okr.alignment import Gap
from bot.okr.coach import MAX_FOCUSED_KRS
from bot.okr.kinds import Level
from bot.okr.pace import STALE_PERIODS
from storage.models import Cycle, KeyResult, Objective, table_of
from storage.tree import _scope

OBJ = table_of(Objective)
KR = table_of(KeyResult)
CYC = table_of(Cycle)


@dataclass(frozen=True)
class AlignmentCounts:
    objectives: int
    laddered: int  # company objectives, and those whose chain of parents reaches one
    counts: dict[Gap, int]  # every gap but CONTRADICTION (see the module's docstring)
    orphans_by_level: dict[Level, int] = field(default_factory=dict)  # team and personal


def _company(table: sa.Table | sa.Alias) -> sa.ColumnElement[bool]:
    """A company-level objective (its stored level, as bot/services/alignment.py reads it)."""
    return table.c.level == Level.COMPANY.value


def _blank(column: sa.ColumnElement[str], dialect: str) -> sa.ColumnElement[bool]:
    """Empty once whitespace is stripped (Python's str.strip for ASCII whitespace)."""
    spaces = " \t\n\r\f\v"
    trim = sa.func.btrim if dialect == "postgresql" else sa.func.trim
    return sa.func.coalesce(trim(column, spaces), "") == ""


def alignment_counts(
    *,
    session: Session,
    workspace_id: str,
    now: datetime,
    period: timedelta,
    team_ids: Sequence[int] | None = None,
    owner_id: str | None = None,
    company_only: bool = False,
) -> AlignmentCounts:
    """The counts over the open cycles' objectives of a view (as `load_shown_tree`'s scope:
    teams, an owner, the company's; none: the whole workspace). `period`: the workspace's
    check-in period; a KR is stale after `STALE_PERIODS` of them without a check-in, by day
    from `bot.okr.pace.stale_anchor` (its last check-in; never checked in, the later of its
    creation and its cycle's start), as status counts it. One statement."""
    dialect = session.get_bind().dialect.name
    open_cycles = sa.select(CYC.c.id).where(
        CYC.c.workspace_id == workspace_id, CYC.c.closed_at.is_(None)
    )

    def linked(table: sa.Table | sa.Alias) -> list[sa.ColumnElement[bool]]:
        """In a chain: open cycle, not archived (as load_tree's default)."""
        return [
            table.c.workspace_id == workspace_id,
            table.c.cycle_id.in_(open_cycles),
            table.c.archived_at.is_(None),
        ]

    # The view's own conditions: _scope's first two (workspace, cycles) come from `linked`,
    # with the open cycles as a subquery rather than a statement of their own.
    view = _scope(
        workspace_id=workspace_id,
        cycle_ids=[],
        team_ids=team_ids,
        owner_id=owner_id,
        company_only=company_only,
        include_archived=True,
    )[2:]
    # Laddering, parents and KR counts are stored with the roll-up (storage/rollup.py): no
    # walk of the tree here. Only staleness depends on `now`: the view's KRs whose anchor
    # day is on or before `last_day` (stale from anchor + STALE_PERIODS periods), read from
    # ix_key_result_objective_signs. A stored time's UTC day is on or before `last_day` when
    # it is before the next midnight; a never checked-in KR's cycle must have started too.
    last_day = now.date() - timedelta(days=STALE_PERIODS * period.days)
    bound = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=now.tzinfo)
    stale_krs = (
        sa.select(sa.func.count())
        .select_from(
            KR.join(OBJ, OBJ.c.id == KR.c.objective_id).join(CYC, CYC.c.id == OBJ.c.cycle_id)
        )
        .where(
            # linked(OBJ), with the open cycles read from the joined cycle
            OBJ.c.workspace_id == workspace_id,
            OBJ.c.archived_at.is_(None),
            CYC.c.closed_at.is_(None),
            *view,
            KR.c.archived_at.is_(None),
            sa.or_(
                KR.c.last_checkin_at < bound,
                sa.and_(
                    KR.c.last_checkin_at.is_(None),
                    KR.c.created_at < bound,
                    CYC.c.start_date <= last_day,
                ),
            ),
        )
        .correlate(None)  # its own objectives, not the outer statement's row
        .scalar_subquery()
    )

    def count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    unparented = OBJ.c.rollup_unparented.is_(True)
    row = session.execute(
        sa.select(
            sa.func.count(OBJ.c.id),
            count(OBJ.c.rollup_laddered.is_(True)),
            count(sa.and_(OBJ.c.level == Level.TEAM.value, unparented)),
            count(sa.and_(OBJ.c.level == Level.PERSONAL.value, unparented)),
            count(sa.and_(_company(OBJ), _blank(OBJ.c.description, dialect))),
            count(OBJ.c.rollup_krs == 0),
            count(OBJ.c.rollup_krs > MAX_FOCUSED_KRS),
            stale_krs,
        ).where(*linked(OBJ), *view)
    ).one()
    objectives, laddered, team_orphans, personal_orphans, no_why, no_krs, too_many, stale = (
        int(v) for v in row
    )
    counts = {
        Gap.ORPHAN: team_orphans + personal_orphans,
        Gap.NO_WHY: no_why,
        Gap.NO_KRS: no_krs,
        Gap.TOO_MANY_KRS: too_many,
        Gap.STALE: stale,
    }
    by_level = {Level.TEAM: team_orphans, Level.PERSONAL: personal_orphans}
    return AlignmentCounts(
        objectives=objectives,
        laddered=laddered,
        counts={g: n for g, n in counts.items() if n},
        orphans_by_level={level: n for level, n in by_level.items() if n},
    )
