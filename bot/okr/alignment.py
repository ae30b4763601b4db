"""Alignment health: where the cascade from the vision down to each key result breaks.

OKRs cascade: company objectives serve the vision and mission, team and personal objectives
ladder up to them, and key results measure them week by week. What breaks it, per the
conventions Ally (Viva Goals) and open-okr check:
- an orphan: a team or personal objective aligned to nothing;
- a company objective that does not say which part of the vision or mission it serves (its
  "why");
- an objective with no key results, or with more than five;
- a stale key result: no check-in for two check-in periods (its status is "no recent data",
  not "on track"), by the rule status uses (bot/okr/pace.py, rule 5: counted from the last
  check-in, or for one never checked in from the later of its creation and its cycle's
  start);
- a contradiction: high confidence while well behind pace.

Pure: plain facts in, a report out; `now` is a parameter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from bot.okr.coach import MAX_FOCUSED_KRS
from bot.okr.kinds import Level
from bot.okr.pace import STALE_PERIODS, stale_anchor

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

CHECK_IN_PERIOD = timedelta(days=7)
# "Confidence 9/10 but 20 points behind pace": sure of a result the numbers do not show.
CONFIDENT = 8
BEHIND_BY = 0.2


class Gap(StrEnum):
    """In the order reports list them: what breaks the cascade first, then what blurs the signal."""

    ORPHAN = "orphan"
    NO_WHY = "no_why"
    NO_KRS = "no_krs"
    TOO_MANY_KRS = "too_many_krs"
    STALE = "stale"
    CONTRADICTION = "contradiction"


@dataclass(frozen=True)
class KRPulse:
    """A key result's latest signs of life, and where it stands against its pace."""

    id: Hashable
    created_at: datetime
    last_check_in: datetime | None
    confidence: int | None  # 0..10, from the latest check-in
    progress: float | None  # 0..1 (clamped); None: nothing measured yet
    expected: float | None  # where its pace says it should be by now
    cycle_start: date  # its objective's cycle's: quiet counts from it at the earliest

    @property
    def quiet_since(self) -> date:
        """The day its silence counts from (`bot.okr.pace.stale_anchor`)."""
        return stale_anchor(
            last_check_in=self.last_check_in, created=self.created_at, cycle_start=self.cycle_start
        )


@dataclass(frozen=True)
class ObjectiveFacts:
    id: Hashable
    level: Level
    parent_id: Hashable | None
    has_why: bool  # says which part of the vision or mission it serves
    krs: tuple[KRPulse, ...] = ()


@dataclass(frozen=True)
class Finding:
    gap: Gap
    objective_id: Hashable
    kr_id: Hashable | None = None
    # for STALE: days since the last sign of life; for CONTRADICTION: points behind pace;
    # for TOO_MANY_KRS: the number of KRs
    amount: float | None = None


@dataclass(frozen=True)
class AlignmentHealth:
    objectives: int
    laddered: int  # company objectives, and those whose chain of parents reaches one
    findings: tuple[Finding, ...]
    counts: Mapping[Gap, int] = field(default_factory=dict)
    by_level: Mapping[Level, int] = field(default_factory=dict)  # objectives of each level
    orphans_by_level: Mapping[Level, int] = field(default_factory=dict)  # team, personal

    def of(self, objective_id: Hashable) -> list[Finding]:
        return [f for f in self.findings if f.objective_id == objective_id]


def line_gap(*, level: Level, parent_id: Hashable | None, has_why: bool) -> Gap | None:
    """The alignment gap an objective's own line shows, from its row alone: a team or personal
    objective aligned to nothing (ORPHAN), a company objective that does not say which part
    of the vision or mission it serves (NO_WHY)."""
    if level is Level.COMPANY:
        return None if has_why else Gap.NO_WHY
    return Gap.ORPHAN if parent_id is None else None


def stale_day(kr: KRPulse, *, period: timedelta = CHECK_IN_PERIOD) -> date:
    """The first day a KR counts as stale: `STALE_PERIODS` periods after the (UTC) day of its
    anchor. By the day, as a KR's status turns to "no recent data" (bot/okr/pace.py), so a
    count kept per day (storage/alignment.py) stays right as the clock moves."""
    return kr.quiet_since + STALE_PERIODS * period


def is_stale(kr: KRPulse, *, now: datetime, period: timedelta = CHECK_IN_PERIOD) -> bool:
    """No check-in for `STALE_PERIODS` periods, counted by the day from `KRPulse.quiet_since`
    as status counts them: what it shows is no longer news."""
    return stale_day(kr, period=period) <= utc_day(now)


def utc_day(moment: datetime) -> date:
    """The UTC date of a moment (a naive one is taken as UTC)."""
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def has_why(description: str | None) -> bool:
    """A company objective's description says which part of the vision it serves."""
    return bool((description or "").strip())


def effective_team(*, level: Level, team_id: T | None, parent_team: T | None) -> T | None:
    """The team whose views show an objective: its own; a personal objective without one takes
    its parent's (a person's objective aligned under a team's shows in that team's status).
    `parent_team`: the parent's effective team (None: no parent)."""
    if team_id is not None or level is not Level.PERSONAL:
        return team_id
    return parent_team


def effective_teams(
    rows: Iterable[tuple[K, K | None, Level, T | None]],
    *,
    known: Mapping[K, T | None] | None = None,
) -> dict[K, T | None]:
    """Each objective's effective team, from (id, parent id, level, team id) rows; `known`:
    the effective teams of parents outside the rows (a parent in neither: none). A loop in
    old data ends the walk."""
    known = known or {}
    info = {oid: (parent, level, team) for oid, parent, level, team in rows}
    out: dict[K, T | None] = {}
    for start in info:
        chain: list[K] = []
        node: K | None = start
        while node is not None and node in info and node not in out and node not in chain:
            chain.append(node)
            node = info[node][0]
        above = None if node is None else out.get(node, known.get(node))
        for oid in reversed(chain):
            _parent, level, team = info[oid]
            above = out[oid] = effective_team(level=level, team_id=team, parent_team=above)
    return out


def alignment_health(
    objectives: Iterable[ObjectiveFacts],
    *,
    now: datetime,
    within: Iterable[Hashable] | None = None,
    period: timedelta = CHECK_IN_PERIOD,
) -> AlignmentHealth:
    """The report on the objectives in `within` (default: all given). Give every objective of
    the cycle in `objectives`, so that a team's chain can be followed through other teams'
    objectives up to the company's."""
    by_id = {o.id: o for o in objectives}
    wanted = list(by_id) if within is None else [i for i in within if i in by_id]
    findings: list[Finding] = []
    laddered = 0
    levels: Counter[Level] = Counter()
    orphans: Counter[Level] = Counter()
    for oid in wanted:
        o = by_id[oid]
        levels[o.level] += 1
        if _reaches_company(o, by_id):
            laddered += 1
        # A parent outside the given objectives (archived, another cycle) counts as none.
        parent = o.parent_id if o.parent_id in by_id else None
        if gap := line_gap(level=o.level, parent_id=parent, has_why=o.has_why):
            findings.append(Finding(gap, oid))
            if gap is Gap.ORPHAN:
                orphans[o.level] += 1
        if not o.krs:
            findings.append(Finding(Gap.NO_KRS, oid))
        elif len(o.krs) > MAX_FOCUSED_KRS:
            findings.append(Finding(Gap.TOO_MANY_KRS, oid, amount=len(o.krs)))
        for kr in o.krs:
            if is_stale(kr, now=now, period=period):
                days = (utc_day(now) - kr.quiet_since).days
                findings.append(Finding(Gap.STALE, oid, kr.id, amount=days))
            elif (
                kr.confidence is not None
                and kr.confidence >= CONFIDENT
                and kr.progress is not None
                and kr.expected is not None
                and kr.expected - kr.progress >= BEHIND_BY
            ):
                behind = round(100 * (kr.expected - kr.progress))
                findings.append(Finding(Gap.CONTRADICTION, oid, kr.id, amount=behind))
    return AlignmentHealth(
        objectives=len(wanted),
        laddered=laddered,
        findings=tuple(findings),
        counts=dict(Counter(f.gap for f in findings)),
        by_level=dict(levels),
        orphans_by_level=dict(orphans),
    )


def _reaches_company(o: ObjectiveFacts, by_id: Mapping[Hashable, ObjectiveFacts]) -> bool:
    seen: set[Hashable] = set()
    node: ObjectiveFacts | None = o
    while node is not None and node.id not in seen:
        if node.level is Level.COMPANY:
            return True
        seen.add(node.id)  # a loop (refused on save, but imports are old data) ends the walk
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    return False
