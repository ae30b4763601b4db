"""Alignment health on hand-built and generated three-level trees."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from bot.okr.alignment import (
    CHECK_IN_PERIOD,
    Gap,
    KRPulse,
    Level,
    ObjectiveFacts,
    alignment_health,
    effective_team,
    effective_teams,
    is_stale,
    line_gap,
    stale_day,
)

NOW = datetime(2026, 3, 2, 9, 0)
CYCLE_START = date(2026, 1, 1)


def kr(
    kr_id: str,
    *,
    days_since: float = 1,
    confidence: int | None = None,
    progress: float | None = 0.5,
    expected: float | None = 0.5,
    never: bool = False,
    cycle_start: date = CYCLE_START,
) -> KRPulse:
    last = NOW - timedelta(days=days_since)
    return KRPulse(
        id=kr_id,
        created_at=last if never else NOW - timedelta(days=60),
        last_check_in=None if never else last,
        confidence=confidence,
        progress=progress,
        expected=expected,
        cycle_start=cycle_start,
    )


def objective(
    oid: str,
    level: Level,
    parent: str | None = None,
    *,
    why: bool = True,
    krs: int = 2,
) -> ObjectiveFacts:
    return ObjectiveFacts(
        oid, level, parent, has_why=why, krs=tuple(kr(f"{oid}.k{i}") for i in range(krs))
    )


def test_a_healthy_cascade_has_no_findings_and_everything_ladders_up() -> None:
    tree = [
        objective("C", Level.COMPANY),
        objective("T", Level.TEAM, "C"),
        objective("P", Level.PERSONAL, "T"),
    ]
    health = alignment_health(tree, now=NOW)
    assert health.findings == ()
    assert (health.objectives, health.laddered) == (3, 3)


def test_each_gap_is_found_where_it_is_and_nowhere_else() -> None:
    tree = [
        objective("C1", Level.COMPANY),
        objective("C2", Level.COMPANY, why=False),  # no why
        objective("T1", Level.TEAM, "C1"),
        objective("T2", Level.TEAM),  # orphan
        objective("P1", Level.PERSONAL, "T2"),  # under an orphan: not laddered, not an orphan
        objective("T3", Level.TEAM, "C1", krs=0),  # no KRs
        objective("T4", Level.TEAM, "C2", krs=6),  # too many
        ObjectiveFacts(
            "T5",
            Level.TEAM,
            "C1",
            has_why=True,
            krs=(
                kr("stale", days_since=15),
                kr("never", days_since=14, never=True),
                kr("fresh-never", days_since=3, never=True),
                kr("sure", confidence=9, progress=0.2, expected=0.45),
                kr("sure-on-pace", confidence=9, progress=0.4, expected=0.45),
                kr("unsure-behind", confidence=4, progress=0.1, expected=0.5),
            ),
        ),
    ]
    health = alignment_health(tree, now=NOW)
    found = {(f.gap, f.objective_id, f.kr_id) for f in health.findings}
    assert found == {
        (Gap.NO_WHY, "C2", None),
        (Gap.ORPHAN, "T2", None),
        (Gap.NO_KRS, "T3", None),
        (Gap.TOO_MANY_KRS, "T4", None),
        (Gap.TOO_MANY_KRS, "T5", None),
        (Gap.STALE, "T5", "stale"),
        (Gap.STALE, "T5", "never"),
        (Gap.CONTRADICTION, "T5", "sure"),
    }
    contradiction = next(f for f in health.findings if f.gap is Gap.CONTRADICTION)
    assert contradiction.amount == 25  # points behind pace
    # laddered: C1, C2, T1, T3, T4, T5 (not T2, not P1 under it)
    assert (health.objectives, health.laddered) == (8, 6)
    assert health.counts[Gap.TOO_MANY_KRS] == 2


def test_a_team_report_follows_chains_through_other_teams() -> None:
    tree = [
        objective("C", Level.COMPANY),
        objective("Other", Level.TEAM, "C"),
        objective("Mine", Level.TEAM, "Other"),
        objective("Lost", Level.TEAM, "Gone"),  # its parent was archived: an orphan now
    ]
    health = alignment_health(tree, now=NOW, within=["Mine", "Lost"])
    assert (health.objectives, health.laddered) == (2, 1)
    assert [(f.gap, f.objective_id) for f in health.findings] == [(Gap.ORPHAN, "Lost")]


def test_a_loop_in_old_data_ends_the_walk() -> None:
    tree = [objective("A", Level.TEAM, "B"), objective("B", Level.TEAM, "A")]
    assert alignment_health(tree, now=NOW).laddered == 0


def test_stale_means_two_check_in_periods_without_news() -> None:
    """By day, as status counts it (bot/okr/pace.py, rule 5): checked in on Feb 16 at any
    hour, stale on Mar 2 (NOW); on Feb 17, not yet."""
    edge = 2 * CHECK_IN_PERIOD
    assert is_stale(kr("k", days_since=edge.days), now=NOW)
    assert is_stale(kr("k", days_since=edge.days - 14 / 24), now=NOW)  # Feb 16, 23:00
    assert not is_stale(kr("k", days_since=edge.days - 16 / 24), now=NOW)  # Feb 17, 01:00
    assert is_stale(kr("k", days_since=edge.days, never=True), now=NOW)
    assert not is_stale(kr("k", days_since=edge.days - 1, never=True), now=NOW)
    # Never checked in, written while planning: quiet counts from its cycle's start.
    planned = kr("k", days_since=60, never=True, cycle_start=date(2026, 2, 20))
    assert not is_stale(planned, now=NOW)
    assert is_stale(planned, now=NOW + timedelta(days=4))  # Mar 6: Feb 20 + 14 days
    assert not is_stale(planned, now=NOW + timedelta(days=4), period=timedelta(weeks=2))
    # By the day, as a KR's status turns to "no recent data": from the day two periods after
    # the day of its last check-in, all that day, and not the day before.
    checked = datetime(2026, 2, 16, 21, 0)
    pulse = KRPulse("k", NOW - timedelta(days=60), checked, None, None, None, date(2026, 1, 1))
    assert stale_day(pulse) == date(2026, 3, 2)
    assert is_stale(pulse, now=datetime(2026, 3, 2, 0, 0))
    assert not is_stale(pulse, now=datetime(2026, 3, 1, 23, 59))
    assert not is_stale(kr("k", days_since=edge.days - 1), now=NOW)
    # an aware moment counts by its UTC day
    late = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 04:30 UTC
    assert is_stale(pulse, now=late)
    never = KRPulse("k", datetime(2026, 2, 16, 8, 0), None, None, None, None, date(2026, 1, 1))
    assert stale_day(never) == date(2026, 3, 2)
    assert stale_day(never, period=timedelta(weeks=2)) == date(2026, 3, 16)


def test_a_personal_objective_without_a_team_shows_in_its_parents_team() -> None:
    rows = [
        ("C", None, Level.COMPANY, None),
        ("T", "C", Level.TEAM, 5),
        ("P", "T", Level.PERSONAL, None),
        ("PP", "P", Level.PERSONAL, None),  # through another person's objective
        ("Own", "T", Level.PERSONAL, 7),  # a personal objective with a team keeps it
        ("UnderC", "C", Level.PERSONAL, None),  # under the company's: no team
        ("Alone", None, Level.PERSONAL, None),
        ("Out", "X", Level.PERSONAL, None),  # a parent outside the rows, team known
        ("Loop1", "Loop2", Level.PERSONAL, None),
        ("Loop2", "Loop1", Level.PERSONAL, None),
    ]
    assert effective_teams(rows, known={"X": 9}) == {
        "C": None,
        "T": 5,
        "P": 5,
        "PP": 5,
        "Own": 7,
        "UnderC": None,
        "Alone": None,
        "Out": 9,
        "Loop1": None,
        "Loop2": None,
    }
    # team and company objectives never inherit
    assert effective_team(level=Level.TEAM, team_id=None, parent_team=5) is None
    assert effective_team(level=Level.COMPANY, team_id=None, parent_team=5) is None
    assert effective_team(level=Level.PERSONAL, team_id=None, parent_team=5) == 5


@dataclass(frozen=True)
class GeneratedTree:
    """A company → team → personal tree: (id, level, parent) in a shuffled order, and which
    objectives are orphans (at each level) or sit under one."""

    rows: list[tuple[str, Level, str | None]]
    orphans: dict[str, Level]
    under_orphans: set[str]


def generated_tree(
    seed: int, *, companies: int = 5, teams: int = 60, people: int = 300
) -> GeneratedTree:
    rng = random.Random(seed)
    rows: list[tuple[str, Level, str | None]] = [
        (f"C{i}", Level.COMPANY, None) for i in range(companies)
    ]
    orphans: dict[str, Level] = {}
    under_orphans: set[str] = set()
    team_ids: list[str] = []
    for i in range(teams):
        oid = f"T{i}"
        if rng.random() < 0.15:
            orphans[oid] = Level.TEAM
            rows.append((oid, Level.TEAM, None))
        else:
            rows.append((oid, Level.TEAM, f"C{rng.randrange(companies)}"))
        team_ids.append(oid)
    for i in range(people):
        oid = f"P{i}"
        if rng.random() < 0.1:
            orphans[oid] = Level.PERSONAL
            rows.append((oid, Level.PERSONAL, None))
            continue
        # Personal objectives ladder up to a team objective, some straight to the company's.
        parent = rng.choice(team_ids) if rng.random() < 0.8 else f"C{rng.randrange(companies)}"
        if parent in orphans:
            under_orphans.add(oid)
        rows.append((oid, Level.PERSONAL, parent))
    rng.shuffle(rows)  # the report does not depend on the order rows come in
    return GeneratedTree(rows, orphans, under_orphans)


def test_counts_on_a_generated_three_level_tree_with_known_orphans() -> None:
    generated = generated_tree(20261204)
    tree = [objective(oid, level, parent) for oid, level, parent in generated.rows]
    orphans = generated.orphans

    health = alignment_health(tree, now=NOW)
    assert {f.objective_id for f in health.findings if f.gap is Gap.ORPHAN} == set(orphans)
    assert health.counts == {Gap.ORPHAN: len(orphans)}
    assert health.objectives == 365
    assert health.by_level == {Level.COMPANY: 5, Level.TEAM: 60, Level.PERSONAL: 300}
    assert health.orphans_by_level == {
        level: sum(1 for found in orphans.values() if found is level)
        for level in (Level.TEAM, Level.PERSONAL)
    }
    assert health.laddered == 365 - len(orphans) - len(generated.under_orphans)
    # the seed makes every kind: orphans at both levels, objectives under an orphan
    assert set(orphans.values()) == {Level.TEAM, Level.PERSONAL} and generated.under_orphans


def test_only_team_and_personal_objectives_are_orphans_and_only_company_ones_need_a_why() -> None:
    assert line_gap(level=Level.COMPANY, parent_id=None, has_why=True) is None
    assert line_gap(level=Level.COMPANY, parent_id="C0", has_why=True) is None
    assert line_gap(level=Level.COMPANY, parent_id=None, has_why=False) is Gap.NO_WHY
    for level in (Level.TEAM, Level.PERSONAL):
        assert line_gap(level=level, parent_id=None, has_why=True) is Gap.ORPHAN
        assert line_gap(level=level, parent_id=None, has_why=False) is Gap.ORPHAN
        assert line_gap(level=level, parent_id="C0", has_why=False) is None
