"""Alignment health counted in SQL: the one line `/okr status`, Home and the digest show.

The pure module (bot/okr/alignment.py) needs the whole tree; a status message reads only the
objectives it shows. These are the same counts in one statement, whatever the size: how many
objectives of a view ladder up to a company objective, and how many are orphans, company
objectives without a why, objectives without key results or with more than five, and stale
key results. They are read from alignment_count, kept by the stored roll-up
(storage/rollup.py): per cycle, effective team and level, the objectives sharing the same
flags, and the KRs turning stale on each day (a view sums the days up to today), so the cost
does not grow with the workspace, as objective_status_count's for statuses. A person's view
(their objectives and those they hold a KR in) is not bucketed: it reads its few objectives'
stored shares. Contradictions (confident but behind pace) need each KR's pace and stay with
`/okr health`, which loads the tree.

MIRROR POINT: each count is `bot.okr.alignment.alignment_health`'s for the same objectives
(every open, unarchived objective of the workspace is a link in a chain; those of the view are
counted); tests/storage/test_alignment.py checks them on generated trees on both databases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from bot.okr.alignment import Gap, utc_day
from bot.okr.kinds import Level
from storage.models import AlignmentCount, Cycle, Objective, table_of
from storage.rollup import bucket_of, shares_of
from storage.tree import _scope, summed

OBJ = table_of(Objective)
CYC = table_of(Cycle)
ALIGN = table_of(AlignmentCount)


@dataclass(frozen=True)
class AlignmentCounts:
    objectives: int
    laddered: int  # company objectives, and those whose chain of parents reaches one
    counts: dict[Gap, int]  # every gap but CONTRADICTION (see the module's docstring)
    orphans_by_level: dict[Level, int] = field(default_factory=dict)  # team and personal


def alignment_counts(
    *,
    session: Session,
    workspace_id: str,
    now: datetime,
    team_ids: Sequence[int] | None = None,
    owner_id: str | None = None,
    company_only: bool = False,
) -> AlignmentCounts:
    """The counts over the open cycles' objectives of a view (as `load_shown_tree`'s scope:
    teams (their objectives' effective team), an owner, the company's; none: the whole
    workspace). A KR is stale from its stale day (bot.okr.alignment.stale_day, with the
    workspace's check-in period, as stored) on: today is `now`'s UTC day. One statement."""
    today = utc_day(now)
    open_cycles = sa.select(CYC.c.id).where(
        CYC.c.workspace_id == workspace_id, CYC.c.closed_at.is_(None)
    )
    if owner_id is not None:
        # A person's view: the stored shares of its objectives (few), summed here.
        # _scope's first two conditions (workspace, cycles) with the open cycles as a subquery
        # rather than a statement of their own.
        view = _scope(
            workspace_id=workspace_id,
            cycle_ids=[],
            team_ids=team_ids,
            owner_id=owner_id,
            company_only=company_only,
        )[2:]
        shares = session.execute(
            sa.select(OBJ.c.rollup_alignment).where(
                OBJ.c.workspace_id == workspace_id, OBJ.c.cycle_id.in_(open_cycles), *view
            )
        ).scalars()
        tally = dict.fromkeys(
            ("objectives", "laddered", "team", "personal", "why", "none", "many", "stale"), 0
        )
        for text in shares:
            for key, n in shares_of(text).items():
                level, flags, stale_on = bucket_of(key)
                if stale_on is not None:
                    tally["stale"] += n if stale_on <= today else 0
                    continue
                orphan = flags["orphan"]
                tally["objectives"] += n
                tally["laddered"] += n * flags["laddered"]
                tally["team"] += n * (orphan and level == Level.TEAM.value)
                tally["personal"] += n * (orphan and level == Level.PERSONAL.value)
                tally["why"] += n * flags["no_why"]
                tally["none"] += n * flags["no_krs"]
                tally["many"] += n * flags["too_many_krs"]
        return _counts(tally.values())
    where = [ALIGN.c.workspace_id == workspace_id, ALIGN.c.cycle_id.in_(open_cycles)]
    if team_ids is not None:
        where.append(ALIGN.c.team_id.in_(team_ids))
    if company_only:
        where.append(ALIGN.c.level == Level.COMPANY.value)
    objectives, is_orphan = ALIGN.c.objectives, ALIGN.c.orphan.is_(True)
    row = session.execute(
        sa.select(
            summed(objectives),
            summed(objectives, ALIGN.c.laddered.is_(True)),
            summed(objectives, sa.and_(ALIGN.c.level == Level.TEAM.value, is_orphan)),
            summed(objectives, sa.and_(ALIGN.c.level == Level.PERSONAL.value, is_orphan)),
            summed(objectives, ALIGN.c.no_why.is_(True)),
            summed(objectives, ALIGN.c.no_krs.is_(True)),
            summed(objectives, ALIGN.c.too_many_krs.is_(True)),
            summed(
                ALIGN.c.stale_krs,
                sa.and_(ALIGN.c.stale_on.is_not(None), ALIGN.c.stale_on <= today),
            ),
        ).where(*where)
    ).one()
    return _counts(int(v) for v in row)


def _counts(values: Iterable[int]) -> AlignmentCounts:
    """From (objectives, laddered, team orphans, personal orphans, objectives without a why,
    without KRs, with too many, stale KRs)."""
    objectives, laddered, team_orphans, personal_orphans, no_why, no_krs, too_many, stale = values
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
