"""Import and export: round trips on both databases, all-or-nothing imports, owner emails."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, col, select

from bot.okr.kinds import KRKind, UnitKind
from bot.okr.validate import KRSpec
from bot.services import transfer
from bot.services.transfer import (
    CheckInDoc,
    CycleDoc,
    Document,
    Format,
    ImportRefused,
    KeyResultDoc,
    ObjectiveDoc,
    Problem,
    TeamDoc,
    WorkspaceDoc,
)
from storage import transfer as store
from storage.checkins import record_check_in
from storage.cycles import close_cycle, create_cycle
from storage.models import (
    CheckIn,
    Cycle,
    DataSource,
    KeyResult,
    Objective,
    PushToken,
    Reflection,
    Team,
    TeamChannel,
    Workspace,
)
from storage.objectives import (
    add_key_result,
    align_objective,
    archive_key_result,
    archive_objective,
    create_objective,
)
from storage.reflections import carry_over, save_reflection
from storage.sources import (
    create_push_token,
    record_pull_failure,
    record_pull_success,
    save_source,
)
from storage.teams import create_team, link_channel
from storage.workspaces import ensure_workspace, update_workspace
from tests.factories import reference_company
from tests.support.slack_standin import SlackStandIn

NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)
FORMATS = [Format.YAML, Format.CSV]


def read_document(text: str, fmt: Format) -> Document:
    """The document a file holds, which must read without a problem."""
    document, problems = transfer.decode(text, fmt)
    assert document is not None and problems == []
    return document


# --- A canonical dump: what a workspace holds, without ids and regenerated times -------------


def canonical(engine: Engine, workspace_id: str) -> dict[str, Any]:
    """Every user-meaningful field, references by name or position, read with plain queries.

    Left out: surrogate ids, the workspace id itself, updated_at and team created_at (set on
    import), check-in dedupe keys (Slack retry guards) and raw KR positions (their order is
    kept). Objectives and KRs are listed in id order, which import keeps.
    """
    with Session(engine) as session:

        def rows(model: type[SQLModel], *order: Any) -> list[Any]:
            return list(
                session.exec(
                    select(model).where(model.workspace_id == workspace_id).order_by(*order)  # type: ignore[attr-defined]
                ).all()
            )

        ws = session.get(Workspace, workspace_id)
        assert ws is not None
        teams = rows(Team, col(Team.id))
        team_name = {t.id: t.name for t in teams}
        channels = rows(TeamChannel, col(TeamChannel.id))
        cycles = rows(Cycle, col(Cycle.id))
        cycle_name = {c.id: c.name for c in cycles}
        objectives = rows(Objective, col(Objective.id))
        index = {o.id: i for i, o in enumerate(objectives)}
        krs = rows(
            KeyResult, col(KeyResult.objective_id), col(KeyResult.position), col(KeyResult.id)
        )
        kr_index = {k.id: i for i, k in enumerate(krs)}
        check_ins = rows(CheckIn, col(CheckIn.key_result_id), col(CheckIn.period_start))
        reflections = rows(Reflection, col(Reflection.objective_id))
        sources = rows(DataSource, col(DataSource.key_result_id))
    skip = {"team_id", "created_at", "updated_at"}
    return {
        "workspace": {k: v for k, v in ws.model_dump().items() if k not in skip},
        "teams": sorted(
            (
                t.name,
                team_name.get(t.parent_id),
                sorted(c.channel_id for c in channels if c.team_id == t.id),
            )
            for t in teams
        ),
        "cycles": sorted((c.name, c.start_date, c.end_date, c.closed_at) for c in cycles),
        "objectives": [
            (
                cycle_name[o.cycle_id],
                team_name.get(o.team_id),
                o.owner_id,
                index.get(o.parent_id),
                o.title,
                o.description,
                o.weight,
                o.committed,
                o.status,
                o.grade,
                o.created_at,
                o.archived_at,
                o.level,
            )
            for o in objectives
        ],
        "reflections": [
            (index[r.objective_id], r.author_id, r.worked, r.did_not_work, r.carry_over)
            for r in reflections
        ],
        "key_results": [
            (
                index[k.objective_id],
                k.owner_id,
                k.title,
                k.kind,
                k.unit,
                k.unit_label,
                k.start_value,
                k.target_value,
                k.current_value,
                k.weight,
                k.due_date,
                k.confidence,
                k.grade,
                k.last_checkin_at,
                k.created_at,
                k.archived_at,
                kr_index.get(k.carried_from_id),  # type: ignore[arg-type]
            )
            for k in krs
        ],
        "check_ins": [
            (
                kr_index[c.key_result_id],
                c.author_id,
                c.value,
                c.previous_value,
                c.confidence,
                c.note,
                c.blocker,
                c.period_start,
                c.source,
                c.created_at,
            )
            for c in check_ins
        ],
        # The settings a source is connected with; its pull state starts afresh on import.
        "sources": sorted(
            (
                kr_index[s.key_result_id],
                s.kind,
                s.url,
                s.expression,
                s.column,
                s.row_key,
                s.multiplier,
                s.credential,
                s.interval_minutes,
            )
            for s in sources
        ),
    }


def row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__tablename__: session.exec(select(func.count()).select_from(model)).one()  # type: ignore[attr-defined]
            for model in (
                Workspace,
                Team,
                TeamChannel,
                Cycle,
                Objective,
                KeyResult,
                CheckIn,
                DataSource,
                PushToken,
            )
        }


# --- The reference company, grown through the app's own storage functions --------------------


def reference_tree(session: Session, workspace_id: str = "T0REF") -> None:
    """The reference company plus what a real workspace accumulates: teams and channels, a
    closed cycle with grades, alignment, archived work, check-in history and odd text."""
    ref = reference_company(session, workspace_id=workspace_id, now=NOW - timedelta(days=40))
    update_workspace(
        session=session,
        workspace_id=workspace_id,
        checkin_time=time(9, 30),
        checkin_weekday=1,
        digest_channel="C0DIGEST",
        digest_mentions=True,
        at_risk_points=15.0,
    )
    eng = create_team(session=session, workspace_id=workspace_id, name="Engineering")
    platform = create_team(
        session=session, workspace_id=workspace_id, name="Platform", parent_id=eng.id
    )
    link_channel(session=session, workspace_id=workspace_id, team_id=eng.id, channel_id="C0ENG")
    link_channel(
        session=session, workspace_id=workspace_id, team_id=platform.id, channel_id="C0PLAT"
    )
    link_channel(
        session=session, workspace_id=workspace_id, team_id=platform.id, channel_id="C0PLAT2"
    )

    old = create_cycle(
        session=session,
        workspace_id=workspace_id,
        name="Q4 2025",
        start_date=date(2025, 10, 1),
        end_date=date(2025, 12, 31),
    )
    legacy = create_objective(
        session=session,
        workspace_id=workspace_id,
        cycle_id=old.id,
        owner_id="U0DEV",
        title='=HYPERLINK("http://evil") -1 +2 @sum',  # a formula, if a spreadsheet could
        description="Line one\nline two — with <@U0CEO> & “quotes”, 日本語 and 🚀",
        team_id=eng.id,
        weight=2.5,
        now=datetime(2025, 10, 2, 8, 0, tzinfo=UTC),
    )
    kr = add_key_result(
        session=session,
        workspace_id=workspace_id,
        objective_id=legacy.id,
        spec=KRSpec(
            "Cut p95 latency",
            KRKind.DECREASE,
            120.5,
            start_value=300,
            unit=UnitKind.DURATION,
            unit_label="ms",
            weight=0.1,
        ),
        now=datetime(2025, 10, 2, 8, 0, tzinfo=UTC),
    )
    record_check_in(
        session=session,
        workspace_id=workspace_id,
        key_result_id=kr.id,
        author_id="U0DEV",
        value=200.25,
        confidence=6,
        note="Caching helped",
        blocker="Waiting on the DB team",
        period_start=date(2025, 11, 3),
        now=datetime(2025, 11, 3, 10, 0, 0, 123456, tzinfo=UTC),
        dedupe_key="slack-retry-1",
    )
    legacy.committed = True  # a promise: graded against 1.0
    session.add(legacy)
    close_cycle(
        session=session,
        workspace_id=workspace_id,
        cycle_id=old.id,
        now=datetime(2026, 1, 2, tzinfo=UTC),
    )
    save_reflection(
        session=session,
        workspace_id=workspace_id,
        objective_id=legacy.id,
        author_id="U0CEO",  # an admin wrote it for the owner
        worked="=1+1 caching, line one\nline two <@U0DEV> & “quotes”",
        did_not_work="",
        carry_over="@the DB team",
        now=datetime(2026, 1, 3, tzinfo=UTC),
    )
    carry_over(
        session=session,
        workspace_id=workspace_id,
        key_result=kr,
        objective=legacy,
        into_cycle_id=ref.cycle.id,
        now=datetime(2026, 1, 3, tzinfo=UTC),
    )

    child = create_objective(
        session=session,
        workspace_id=workspace_id,
        cycle_id=ref.cycle.id,
        owner_id="U0DEV",
        title="Ship the mobile app",
        team_id=platform.id,
        key_results=[
            KRSpec("Publish to both stores", KRKind.MILESTONE, 1, due_date=date(2026, 5, 1)),
            KRSpec(
                "Crash-free sessions",
                KRKind.AT_LEAST,
                99.5,
                unit=UnitKind.PERCENT,
                owner_id="U0EVE",
            ),
            KRSpec(
                "Revenue",
                KRKind.INCREASE,
                1e6,
                start_value=-2.5,
                unit=UnitKind.CURRENCY,
                unit_label="EUR",
            ),
        ],
        now=NOW - timedelta(days=20),
    )
    align_objective(
        session=session, workspace_id=workspace_id, objective_id=child.id, parent_id=ref.platform.id
    )
    grandchild = create_objective(
        session=session,
        workspace_id=workspace_id,
        cycle_id=ref.cycle.id,
        owner_id="U0EVE",
        title="Beta with 50 testers",
        parent_id=child.id,
        key_results=[KRSpec("Testers", KRKind.INCREASE, 50)],
        now=NOW - timedelta(days=19),
    )
    archive_objective(
        session=session,
        workspace_id=workspace_id,
        objective_id=grandchild.id,
        now=NOW - timedelta(days=2),
    )
    session.commit()
    krs = {
        k.title: k
        for k in session.exec(select(KeyResult).where(KeyResult.workspace_id == workspace_id))
    }
    for week in range(3):
        period = date(2026, 1, 26) + timedelta(weeks=week)
        at = datetime.combine(period, time(10, 5), tzinfo=UTC)
        record_check_in(
            session=session,
            workspace_id=workspace_id,
            key_result_id=krs["Achieve 1 million active users within six months"].id,
            author_id="U0CEO",
            value=1000.0 * (week + 1) ** 2,
            confidence=7 - week,
            note=f"week {week}: growth from <partners> & ads" if week else "",
            period_start=period,
            now=at,
        )
        record_check_in(
            session=session,
            workspace_id=workspace_id,
            key_result_id=krs["Crash-free sessions"].id,
            author_id="U0EVE",
            value=None if week == 1 else 99.1 + week / 10,  # week 1: confidence only
            confidence=5,
            period_start=period,
            now=at + timedelta(minutes=3),
            source="no_change" if week == 1 else "modal",
        )
    record_check_in(
        session=session,
        workspace_id=workspace_id,
        key_result_id=krs["Publish to both stores"].id,
        author_id="U0DEV",
        value=1,
        period_start=date(2026, 2, 9),
        now=datetime(2026, 2, 12, 16, 45, tzinfo=UTC),
    )
    archive_key_result(
        session=session,
        workspace_id=workspace_id,
        key_result_id=krs["Revenue"].id,
        now=NOW - timedelta(days=1),
    )
    # Data sources with a history of pulls, and a push token (a secret: never exported).
    prometheus = save_source(
        session=session,
        workspace_id=workspace_id,
        key_result_id=krs["Crash-free sessions"].id,
        kind="prometheus",
        url="https://prom.internal:9090",
        expression='-100 * (sum(rate(crashes{app="ios"}[1d])) / sum(rate(sessions[1d])) - 1)',
        credential="PROM_READ",
        interval_minutes=15,
        created_by="U0EVE",
        now=NOW - timedelta(days=3),
    )
    record_pull_failure(
        session=session, source_id=prometheus.id, reason="HTTP 500", now=NOW - timedelta(hours=2)
    )
    spreadsheet = save_source(
        session=session,
        workspace_id=workspace_id,
        key_result_id=krs["Revenue"].id,
        kind="csv",
        url="http://finance.internal/revenue.csv?month=all",
        column="=total",  # a formula, if a spreadsheet could
        row_key="2026-02",
        multiplier=0.001,
        interval_minutes=1440,
        created_by="U0CEO",
        now=NOW - timedelta(days=3),
    )
    record_pull_success(
        session=session, source_id=spreadsheet.id, value=1234.5, now=NOW - timedelta(hours=1)
    )
    create_push_token(
        session=session,
        workspace_id=workspace_id,
        key_result_id=krs["Crash-free sessions"].id,
        token_hash="0" * 64,
        hint="ldr_abcd",
        created_by="U0EVE",
        now=NOW - timedelta(days=3),
    )
    session.commit()


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_reference_company_survives_export_and_import(engine: Engine, fmt: Format) -> None:
    with Session(engine, expire_on_commit=False) as session:
        reference_tree(session)
    original = canonical(engine, "T0REF")
    assert len(original["check_ins"]) == 8
    # alignment; the fourth is the copy "Cut p95 latency" was carried into
    assert [o[3] for o in original["objectives"]] == [None, None, None, None, 0, 4]
    assert [o[7] for o in original["objectives"]] == [False, False, True, True, False, False]
    assert original["reflections"] and any(k[-1] is not None for k in original["key_results"])
    assert len(original["sources"]) == 2

    text = transfer.export_text(engine, workspace_id="T0REF", fmt=fmt).text
    report = transfer.import_text(engine, text, fmt=fmt, now=NOW, workspace_id="T0COPY")

    assert (
        report.teams,
        report.cycles,
        report.objectives,
        report.key_results,
        report.check_ins,
    ) == (2, 2, 6, 11, 8)
    assert canonical(engine, "T0COPY") == original
    # Exporting the copy gives the same file: nothing drifts on a second trip.
    again = transfer.export_text(engine, workspace_id="T0COPY", fmt=fmt).text
    assert again == text.replace("T0REF", "T0COPY")


def test_the_csv_keeps_a_spreadsheet_from_running_formulas(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        reference_tree(session)
    text = transfer.export_text(engine, workspace_id="T0REF", fmt=Format.CSV).text
    assert '\'=HYPERLINK(""http://evil"") -1 +2 @sum' in text
    assert ",'=total," in text  # a source's column
    assert '"\'-100 * (sum(rate(crashes{app=""ios""}' in text  # and its query
    assert "\n=" not in text and ",=" not in text
    document = read_document(text, Format.CSV)
    assert document.objectives[2].title == '=HYPERLINK("http://evil") -1 +2 @sum'
    assert document.objectives[2].description.startswith("Line one\nline two")


# --- A generated tree of 1,000 objectives --------------------------------------------------


def generated(n: int, workspace_id: str = "T0BIG") -> Document:
    """n objectives, five KRs each (every kind), three check-ins per KR, aligned in a tree."""
    kinds = list(KRKind)
    objectives = []
    for i in range(n):
        krs = []
        for j, kind in enumerate(kinds):
            start = (
                None if kind.is_threshold else (0.0 if kind is KRKind.MILESTONE else 10.0 * (j + 1))
            )
            target = {KRKind.INCREASE: 100.0 + i, KRKind.DECREASE: 1.0, KRKind.MILESTONE: 1.0}.get(
                kind, 0.5 + j
            )
            if kind is KRKind.DECREASE:
                start = 50.0
            krs.append(
                KeyResultDoc(
                    line=0,
                    title=f"KR {i}.{j} {kind.value}",
                    kind=kind,
                    target=target,
                    start=start,
                    unit=UnitKind.PERCENT if j % 2 else UnitKind.NUMBER,
                    unit_label=None if j % 2 else "widgets",
                    current=None,
                    weight=1.0 + j / 4,
                    due=date(2026, 6, 1) if j == 2 else None,
                    confidence=(i + j) % 11,
                    owner=f"U0P{(i + j) % 41}",
                    created_at=NOW - timedelta(days=60, minutes=i),
                    check_ins=[
                        CheckInDoc(
                            line=0,
                            period=date(2026, 1, 5) + timedelta(weeks=w),
                            author=f"U0P{(i + j) % 41}",
                            value=float(w % 2) if kind is KRKind.MILESTONE else 3.25 * w + j,
                            previous=None if w == 0 else 3.25 * (w - 1) + j,
                            confidence=(w + j) % 11,
                            note=f"note {i}.{j}.{w}" if w else "",
                            blocker='blocked, "quoted"\nacross lines' if w == 2 and j == 0 else "",
                            source="modal",
                            created_at=datetime(2026, 1, 5, 10, tzinfo=UTC)
                            + timedelta(weeks=w, seconds=i),
                        )
                        for w in range(3)
                    ],
                )
            )
        objectives.append(
            ObjectiveDoc(
                line=0,
                key=f"O{i + 1}",
                title=f"Objective {i}",
                cycle="H1 2026" if i % 10 else "H2 2025",
                owner=f"U0P{i % 37}",
                team=f"Team {i % 12}" if i % 3 else None,
                parent=f"O{i // 4 + 1}" if i and i % 5 else None,
                description=f"Why {i} matters" if i % 2 else "",
                weight=1.0 + (i % 3),
                status="closed" if i % 10 == 0 else "active",
                grade=0.7 if i % 10 == 0 else None,
                created_at=NOW - timedelta(days=60, seconds=i),
                archived_at=NOW - timedelta(days=1) if i % 97 == 0 else None,
                key_results=krs,
            )
        )
    return Document(
        workspace=WorkspaceDoc(
            id=workspace_id, name="Big Co", vision="Many goals", mission="All of them"
        ),
        teams=[
            TeamDoc(0, f"Team {t}", None if t < 3 else f"Team {t // 3}", [f"C0TEAM{t}"])
            for t in range(12)
        ],
        cycles=[
            CycleDoc(
                0, "H2 2025", date(2025, 7, 1), date(2025, 12, 31), datetime(2026, 1, 3, tzinfo=UTC)
            ),
            CycleDoc(0, "H1 2026", date(2026, 1, 1), date(2026, 6, 30)),
        ],
        objectives=objectives,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_thousand_objectives_export_and_import_in_seconds(
    engine: Engine, fmt: Format, count_statements: Any
) -> None:
    text = transfer.encode(generated(1000), fmt)
    # CPU time, not wall time: the bound must hold on a busy CI machine too.
    started, cpu = clock.perf_counter(), clock.process_time()
    with count_statements() as counter:
        report = transfer.import_text(engine, text, fmt=fmt, now=NOW)
    import_wall, import_cpu = clock.perf_counter() - started, clock.process_time() - cpu
    assert (report.objectives, report.key_results, report.check_ins) == (1000, 5000, 15000)
    # Many rows per statement: a few statements per table, not one per row; then the
    # stored roll-up's rebuild (settings, cycles, objectives, KRs, one executemany update,
    # then the status and alignment count tables: a delete and an insert each).
    assert counter.count <= 28, counter.statements

    started, cpu = clock.perf_counter(), clock.process_time()
    exported = transfer.export_text(engine, workspace_id="T0BIG", fmt=fmt)
    export_wall, export_cpu = clock.perf_counter() - started, clock.process_time() - cpu
    transfer.import_text(engine, exported.text, fmt=fmt, now=NOW, workspace_id="T0COPY")

    assert canonical(engine, "T0COPY") == canonical(engine, "T0BIG")
    print(
        f"\n{engine.dialect.name} {fmt}: {len(text) / 1e6:.1f} MB; import {import_cpu:.1f} s CPU "
        f"({import_wall:.1f} s wall, {counter.count} statements); export {export_cpu:.1f} s CPU "
        f"({export_wall:.1f} s wall)"
    )
    assert import_cpu < 30 and export_cpu < 30


def test_loading_a_workspace_for_export_takes_nine_statements(
    engine: Engine, count_statements: Any
) -> None:
    for n, workspace_id in ((3, "T0SMALL"), (300, "T0LARGE")):
        transfer.import_text(
            engine, transfer.encode(generated(n, workspace_id), Format.CSV), fmt=Format.CSV, now=NOW
        )
        with Session(engine) as session, count_statements() as counter:
            snapshot = store.load_snapshot(session=session, workspace_id=workspace_id)
        assert len(snapshot.check_ins) == 15 * n
        assert counter.count == 9, counter.statements  # reflections, then data sources


# --- All or nothing ----------------------------------------------------------------------------

BASE_YAML = """\
version: 1
workspace:
  id: T0BAD
  vision: Be useful
teams:
- name: Platform
  channels: [C0PLAT]
cycles:
- name: Q1 2026
  start_date: 2026-01-01
  end_date: 2026-03-31
objectives:
- key: O1
  title: Launch the platform
  cycle: Q1 2026
  team: Platform
  owner: U0CEO
  key_results:
  - title: Reach 100 customers
    kind: increase
    target: 100
    check_ins:
    - period: 2026-01-05
      value: 10
      author: U0CEO
- key: O2
  title: Delight customers
  cycle: Q1 2026
  parent: O1
  owner: U0DEV
  key_results:
  - title: Ship the help center
    kind: milestone
    target: 1
"""

# A multi-line note (lines 8-9) makes physical lines differ from row numbers after it.
BASE_CSV = """\
record,key,parent,title,cycle,team,channels,owner,kind,target,start_date,end_date,period,value,note,author
workspace,T0BAD,,,,,,,,,,,,,,
setting,vision,,,,,,,,,,,,Be useful,,
team,Platform,,,,,C0PLAT,,,,,,,,,
cycle,Q1 2026,,,,,,,,,2026-01-01,2026-03-31,,,,
objective,O1,,Launch the platform,Q1 2026,Platform,,U0CEO,,,,,,,,
key_result,O1.1,O1,Reach 100 customers,,,,,increase,100,,,,,,
checkin,,O1.1,,,,,,,,,,2026-01-05,10,"a note
on two lines",U0CEO
objective,O2,O1,Delight customers,Q1 2026,,,U0DEV,,,,,,,,
key_result,O2.1,O2,Ship the help center,,,,,milestone,1,,,,,,
"""

KINDS = "use increase, decrease, at_least, at_most or milestone"
NOT_A_NUMBER = "target: “lots” is not a number. Type a value like 42, 1.5k or 30%."

BAD_YAML = {
    "missing title": (("  title: Delight customers\n", ""), [(26, "Give the objective a title.")]),
    "unknown parent": (("parent: O1", "parent: O9"), [(26, "unknown parent objective “O9”")]),
    "cycle ends first": (
        ("end_date: 2026-03-31", "end_date: 2025-12-31"),
        [(9, "A cycle must end on or after the day it starts.")],
    ),
    "unknown kind": (
        ("kind: increase", "kind: grow"),
        [(19, f"unknown key result kind “grow”: {KINDS}")],
    ),
    "non-numeric target": (("target: 100", "target: lots"), [(19, NOT_A_NUMBER)]),
    "duplicate key": (
        ("- key: O2", "- key: O1"),
        [(26, "duplicate objective key “O1” (also on line 13)")],
    ),
    "decrease without a start": (
        ("kind: increase", "kind: decrease"),
        [(19, "A decrease needs a start value: where is it today?")],
    ),
    "milestone target": (
        ("target: 1\n", "target: 2\n"),
        [(32, "A milestone's target is 1 (done).")],
    ),
    "confidence out of range": (
        ("value: 10", "confidence: 11"),
        [(23, "Confidence goes from 0 to 10.")],
    ),
    "bad owner": (
        ("owner: U0DEV", "owner: dev"),
        [(26, "owner “dev” is neither a Slack user id (U…) nor an email")],
    ),
    "unknown email": (
        ("owner: U0DEV", "owner: nobody@example.com"),
        [(26, "no Slack user has the email “nobody@example.com”")],
    ),
    "alignment loop": (
        ("team: Platform", "parent: O2"),
        [
            (13, "objective “O1” ladders up to itself through its parents"),
            (26, "objective “O2” ladders up to itself through its parents"),
        ],
    ),
    "unknown team": (("team: Platform", "team: Growth"), [(13, "unknown team “Growth”")]),
    "unknown level": (
        ("  parent: O1\n", "  parent: O1\n  level: tribe\n"),
        [(26, "unknown level “tribe”: use company, team or personal")],
    ),
    "personal with a team": (
        ("  team: Platform\n", "  team: Platform\n  level: personal\n"),
        [(13, "a personal objective has no team: leave “team” empty")],
    ),
    "team without a team": (
        ("  parent: O1\n", "  parent: O1\n  level: team\n"),
        [(26, "a team objective needs its team in “team”")],
    ),
    "field twice": (
        ("  cycle: Q1 2026\n  parent", "  title: Again\n  parent"),
        [(26, "an objective needs a cycle"), (28, "“title” appears twice here (also on line 27)")],
    ),
    "unknown field": (("value: 10", "valeu: 10"), [(23, "unknown field “valeu” in a check-in")]),
    "impossible date": (
        ("period: 2026-01-05", "period: 2026-13-05"),
        [(23, "period “2026-13-05” is not a date (YYYY-MM-DD)")],
    ),
    "not a channel": (("[C0PLAT]", "[general]"), [(6, "“general” is not a channel id (C…)")]),
    "bad setting": (
        ("vision: Be useful", "settings: {checkin_time: '25:00', digest_weekday: 5}"),
        [
            (4, "checkin_time: Pick a time, e.g. 10:00."),
            (4, "digest_weekday: Pick a weekday, Monday to Friday."),
        ],
    ),
    "not YAML": (
        ("target: 100", "target: [100"),
        [(22, "not valid YAML: did not find expected ',' or ']'")],
    ),
    "several at once": (
        ("kind: milestone\n    target: 1", "kind: grow\n    target: lots"),
        [(32, f"unknown key result kind “grow”: {KINDS}"), (32, NOT_A_NUMBER)],
    ),
}

BAD_CSV = {
    "unknown kind": (("milestone,1", "grow,1"), [(11, f"unknown key result kind “grow”: {KINDS}")]),
    "non-numeric target": (("increase,100", "increase,lots"), [(7, NOT_A_NUMBER)]),
    "unknown objective": (("O2.1,O2,", "O2.1,O9,"), [(11, "unknown objective “O9” in “parent”")]),
    "unknown parent": (
        ("objective,O2,O1,", "objective,O2,O7,"),
        [(10, "unknown parent objective “O7”")],
    ),
    "cycle ends first": (
        ("2026-01-01,2026-03-31", "2026-04-01,2026-03-31"),
        [(5, "A cycle must end on or after the day it starts.")],
    ),
    "duplicate key": (
        ("objective,O2,O1,", "objective,O1,,"),
        [
            (10, "duplicate objective key “O1” (also on line 6)"),
            (11, "unknown objective “O2” in “parent”"),
        ],
    ),
    "value after a multi-line cell": (
        ("2026-01-05,10,", "2026-01-05,heaps,"),
        [(8, "value: “heaps” is not a number. Type a value like 42, 1.5k or 30%.")],
    ),
    "missing title": (("Ship the help center", ""), [(11, "Give the key result a title.")]),
    "unknown column": (("period,value", "period,valeu"), [(1, "unknown column(s): valeu")]),
    "unknown record": (
        ("team,Platform", "squad,Platform"),
        [
            (
                4,
                "unknown record “squad”: use one of workspace, setting, team, cycle, objective, key_result, checkin, source",
            ),
            (6, "unknown team “Platform”"),  # its team row could not be read
        ],
    ),
    "column of another record": (
        (
            "objective,O1,,Launch the platform,Q1 2026,Platform,,U0CEO,,",
            "objective,O1,,Launch the platform,Q1 2026,Platform,,U0CEO,increase,",
        ),
        [(6, "column “kind” does not apply to objective rows")],
    ),
}


def _lookup(email: str) -> str | None:
    return {"dev@acme.test": "U0DEV"}.get(email)


def _refused(engine: Engine, text: str, fmt: Format) -> list[tuple[int, str]]:
    with pytest.raises(ImportRefused) as refused:
        transfer.import_text(engine, text, fmt=fmt, now=NOW, lookup_email=_lookup)
    return [(p.line, p.message) for p in refused.value.problems]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_base_documents_import(engine: Engine, fmt: Format) -> None:
    text = BASE_YAML if fmt is Format.YAML else BASE_CSV
    report = transfer.import_text(engine, text, fmt=fmt, now=NOW)
    assert (
        report.teams,
        report.cycles,
        report.objectives,
        report.key_results,
        report.check_ins,
    ) == (1, 1, 2, 2, 1)
    dump = canonical(engine, "T0BAD")
    assert dump["objectives"][1][3] == 0  # O2 ladders up to O1
    assert dump["workspace"]["vision"] == "Be useful"
    assert dump["key_results"][0][6] == 0.0  # an increase with no start counts from 0, as in Slack
    assert dump["key_results"][0][13] == NOW  # last_checkin_at: its check-in's time (none given)


@pytest.mark.parametrize(
    ("fmt", "case"),
    [(Format.YAML, c) for c in BAD_YAML] + [(Format.CSV, c) for c in BAD_CSV],
)
def test_a_bad_file_is_refused_with_every_problem_and_its_line(
    engine: Engine, fmt: Format, case: str
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        reference_company(session, workspace_id="T0KEEP")
    before, counts = canonical(engine, "T0KEEP"), row_counts(engine)
    base, cases = (BASE_YAML, BAD_YAML) if fmt is Format.YAML else (BASE_CSV, BAD_CSV)
    (old, new), expected = cases[case]
    assert base.count(old) == 1, old
    assert _refused(engine, base.replace(old, new), fmt) == sorted(expected)
    assert row_counts(engine) == counts and canonical(engine, "T0KEEP") == before
    with Session(engine) as session:
        assert session.get(Workspace, "T0BAD") is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_personal_objective_keeps_its_level_through_export_and_import(
    engine: Engine, fmt: Format
) -> None:
    """Levels the team does not say (a person's own objective) are written out and read back;
    a file without levels reads as before them: a team's with a team, else the company's."""
    text = BASE_YAML.replace("  parent: O1\n", "  parent: O1\n  level: personal\n")
    transfer.import_text(engine, text, fmt=Format.YAML, now=NOW)
    levels = [o[-1] for o in canonical(engine, "T0BAD")["objectives"]]
    assert levels == ["team", "personal"]
    exported = transfer.export_text(engine, workspace_id="T0BAD", fmt=fmt).text
    assert exported.count("personal") == 1 and "company" not in exported
    transfer.import_text(engine, exported, fmt=fmt, now=NOW, workspace_id="T0COPY")
    assert canonical(engine, "T0COPY") == canonical(engine, "T0BAD")

    transfer.import_text(engine, BASE_YAML, fmt=Format.YAML, now=NOW, workspace_id="T0OLD")
    assert [o[-1] for o in canonical(engine, "T0OLD")["objectives"]] == ["team", "company"]


def test_a_failure_while_storing_leaves_everything_as_it_was(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    transfer.import_text(engine, BASE_YAML, fmt=Format.YAML, now=NOW)
    before, counts = canonical(engine, "T0BAD"), row_counts(engine)
    real_insert = store._insert

    def failing(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
        real_insert(session, model, rows)
        if model is CheckIn:  # the last table: everything else is in by now
            raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_insert", failing)
    bigger = BASE_YAML.replace("Be useful", "Be very useful")
    with pytest.raises(RuntimeError, match="disk full"):
        transfer.import_text(engine, bigger, fmt=Format.YAML, now=NOW, replace=True)
    assert row_counts(engine) == counts and canonical(engine, "T0BAD") == before


def test_a_workspace_with_okrs_is_replaced_only_when_asked(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        reference_company(session, workspace_id="T0BAD")
    before = canonical(engine, "T0BAD")
    assert _refused(engine, BASE_YAML, Format.YAML) == [
        (
            0,
            "T0BAD already has 2 objectives, 1 cycles and 0 teams: import with --replace to "
            "delete them (and their check-ins) first, or into another workspace",
        )
    ]
    assert canonical(engine, "T0BAD") == before

    report = transfer.import_text(engine, BASE_YAML, fmt=Format.YAML, now=NOW, replace=True)
    assert report.replaced == store.Contents(teams=0, cycles=1, objectives=2)
    after = canonical(engine, "T0BAD")
    assert [o[4] for o in after["objectives"]] == ["Launch the platform", "Delight customers"]
    assert after["workspace"]["vision"] == "Be useful"
    assert after["workspace"]["mission"] == before["workspace"]["mission"]  # not in the file: kept


@pytest.mark.parametrize("fmt", FORMATS)
def test_sources_are_connected_again_with_a_fresh_pull_state_and_no_push_token(
    engine: Engine, fmt: Format
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        reference_tree(session)
    text = transfer.export_text(engine, workspace_id="T0REF", fmt=fmt).text
    assert "PROM_READ" in text and "ldr_abcd" not in text and "HTTP 500" not in text
    report = transfer.import_text(engine, text, fmt=fmt, now=NOW, workspace_id="T0COPY")
    assert report.sources == 2 and "(2 connected to data sources)" in report.summary()
    with Session(engine) as session:
        copies = session.exec(
            select(DataSource)
            .where(DataSource.workspace_id == "T0COPY")
            .order_by(col(DataSource.key_result_id))
        ).all()
        owners = {
            k.id: k.owner_id
            for k in session.exec(select(KeyResult).where(KeyResult.workspace_id == "T0COPY"))
        }
        tokens = session.exec(select(PushToken).where(PushToken.workspace_id == "T0COPY")).all()
    assert [s.kind for s in copies] == ["prometheus", "csv"]
    for source in copies:
        # Due at the next sync round, no failure episode, no value pulled yet.
        assert source.next_run_at == NOW and source.created_at == NOW
        assert (source.failing_since, source.failure_reason, source.failures) == (None, None, 0)
        assert (source.last_value, source.last_ok_at, source.last_run_at) == (None, None, None)
        assert source.created_by == owners[source.key_result_id]  # the one told of failures
    assert tokens == []


def test_replacing_a_workspace_keeps_the_sources_its_file_has(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        reference_tree(session)
    before = canonical(engine, "T0REF")
    text = transfer.export_text(engine, workspace_id="T0REF", fmt=Format.YAML).text
    report = transfer.import_text(engine, text, fmt=Format.YAML, now=NOW, replace=True)
    assert report.replaced is not None and report.sources == 2
    assert canonical(engine, "T0REF") == before
    with Session(engine) as session:
        # The old KRs' push token went with them; a new one is issued from the KR's menu.
        assert session.exec(select(PushToken)).all() == []
        assert len(session.exec(select(DataSource)).all()) == 2

    # A file without sources replaces them with none.
    bare = text.replace("PROM_READ", "X")  # still valid: the sources are cut below
    document = read_document(bare, Format.YAML)
    for kr in document.key_results:
        kr.source = None
    transfer.import_text(
        engine, transfer.encode(document, Format.YAML), fmt=Format.YAML, now=NOW, replace=True
    )
    assert canonical(engine, "T0REF")["sources"] == []


SOURCE_YAML = BASE_YAML.replace(
    "    kind: milestone\n    target: 1\n",
    """    kind: milestone
    target: 1
    source:
      kind: json
      url: https://status.internal/api/help-center
      expression: data.published
      credential: STATUS
      interval_minutes: 30
""",
)
# The same with a source: five more columns, the source's row last (line 12).
SOURCE_CSV = (
    BASE_CSV.replace("\n", ",,,,,\n")
    .replace("a note,,,,,\n", "a note\n")
    .replace("author,,,,,\n", "author,url,expression,multiplier,interval_minutes,credential\n", 1)
    + "source,,O2.1,,,,,,json,,,,,,,,https://status.internal/api/help-center,data.published,"
    "1,30,STATUS\n"
)

BAD_SOURCES = {
    "unknown kind": (
        ("kind: json", "kind: graphql"),
        ",json,",
        ",graphql,",
        "unknown source kind “graphql”: use json, prometheus or csv",
    ),
    "not http": (
        ("https://status.internal", "file:///etc/passwd#"),
        "https://status.internal",
        "ftp://status.internal",
        "The URL must start with http:// or https:// and name a host.",
    ),
    "multiplier not finite": (
        ("interval_minutes: 30", "interval_minutes: 30\n      multiplier: .nan"),
        ",1,30,",
        ",inf,30,",
        "The multiplier must be a real number.",
    ),
    "multiplier not a number": (
        ("interval_minutes: 30", "interval_minutes: 30\n      multiplier: lots"),
        ",1,30,",
        ",lots,30,",
        "multiplier: “lots” is not a number. Type a value like 42, 1.5k or 30%.",
    ),
    "interval too short": (
        ("interval_minutes: 30", "interval_minutes: 1"),
        ",1,30,",
        ",1,4,",
        "interval_minutes: pull at most every 5 minutes",
    ),
    "interval too long": (
        ("interval_minutes: 30", "interval_minutes: 1e12"),
        ",1,30,",
        ",1,99999999999,",
        "interval_minutes: pull at least once a week (10080 minutes)",
    ),
    "a secret for a credential": (
        ("credential: STATUS", "credential: Bearer s3cret"),
        ",STATUS\n",
        ",Bearer s3cret\n",
        "A credential name is upper-case letters, digits and _ (LADDER_SOURCE_<NAME>).",
    ),
}


def _source_line(text: str, fmt: Format) -> int:
    lines = text.splitlines()
    if fmt is Format.YAML:
        return next(n for n, line in enumerate(lines, start=1) if line.strip() == "source:") + 1
    return next(n for n, line in enumerate(lines, start=1) if line.startswith("source,"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_document_with_a_source_imports(engine: Engine, fmt: Format) -> None:
    text = SOURCE_YAML if fmt is Format.YAML else SOURCE_CSV
    report = transfer.import_text(engine, text, fmt=fmt, now=NOW)
    assert report.sources == 1
    assert canonical(engine, "T0BAD")["sources"] == [
        (
            1,
            "json",
            "https://status.internal/api/help-center",
            "data.published",
            "",
            "",
            1.0,
            "STATUS",
            30,
        )
    ]


@pytest.mark.parametrize(("fmt", "case"), [(f, c) for f in FORMATS for c in BAD_SOURCES])
def test_bad_source_fields_are_refused_with_their_line(
    engine: Engine, fmt: Format, case: str
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        reference_tree(session, workspace_id="T0KEEP")
    before, counts = canonical(engine, "T0KEEP"), row_counts(engine)
    (old, new), csv_old, csv_new, message = BAD_SOURCES[case]
    if fmt is Format.YAML:
        assert SOURCE_YAML.count(old) == 1, old
        text = SOURCE_YAML.replace(old, new)
    else:
        assert SOURCE_CSV.count(csv_old) == 1, csv_old
        text = SOURCE_CSV.replace(csv_old, csv_new)
    assert _refused(engine, text, fmt) == [(_source_line(text, fmt), message)]
    assert row_counts(engine) == counts and canonical(engine, "T0KEEP") == before
    with Session(engine) as session:
        assert session.get(Workspace, "T0BAD") is None


def test_a_key_result_gets_one_source() -> None:
    text = SOURCE_CSV + SOURCE_CSV.splitlines()[-1] + "\n"
    _, problems = transfer.decode(text, Format.CSV)
    assert problems == [Problem(13, "a second source for key result “O2.1” (first on line 12)")]


# --- People and sentences ----------------------------------------------------------------------


@pytest.fixture
def slack() -> Any:
    with SlackStandIn() as standin:
        standin.add_workspace("T0ACME", bot_token="xoxb-acme")
        standin.add_user("T0ACME", "U0CEO", email="ceo@acme.test")
        standin.add_user("T0ACME", "U0DEV", email="Dev@Acme.test")
        yield standin
        assert standin.violations == []


def test_owners_given_by_email_are_looked_up_in_slack_once_each(
    engine: Engine, slack: SlackStandIn
) -> None:
    client = WebClient(token="xoxb-acme", base_url=slack.api_url)
    text = (
        BASE_YAML.replace("owner: U0CEO", "owner: CEO@acme.test")
        .replace("owner: U0DEV", "owner_email: dev@acme.test")
        .replace("author: U0CEO", "author: ceo@acme.test")
    )
    report = transfer.import_text(
        engine, text, fmt=Format.YAML, now=NOW, lookup_email=transfer.slack_email_lookup(client)
    )
    assert report.emails_resolved == 2
    lookups = slack.calls("users.lookupByEmail")
    assert sorted(c.args["email"] for c in lookups) == ["ceo@acme.test", "dev@acme.test"]
    dump = canonical(engine, "T0BAD")
    assert [o[2] for o in dump["objectives"]] == ["U0CEO", "U0DEV"]
    assert [k[1] for k in dump["key_results"]] == ["U0CEO", "U0DEV"]  # KRs follow their objective
    assert dump["check_ins"][0][1] == "U0CEO"


def test_an_unknown_email_is_refused_on_every_line_that_uses_it(
    engine: Engine, slack: SlackStandIn
) -> None:
    client = WebClient(token="xoxb-acme", base_url=slack.api_url)
    text = BASE_YAML.replace("U0CEO", "ghost@acme.test")  # owner of O1 and author of its check-in
    with pytest.raises(ImportRefused) as refused:
        transfer.import_text(
            engine, text, fmt=Format.YAML, now=NOW, lookup_email=transfer.slack_email_lookup(client)
        )
    assert refused.value.problems == [
        Problem(13, "no Slack user has the email “ghost@acme.test”"),
        Problem(23, "no Slack user has the email “ghost@acme.test”"),
    ]
    assert len(slack.calls("users.lookupByEmail")) == 1
    assert row_counts(engine)["objective"] == 0


def test_without_slack_an_email_owner_is_refused_with_a_way_out(engine: Engine) -> None:
    text = BASE_YAML.replace("owner: U0DEV", "owner: dev@acme.test")
    with pytest.raises(ImportRefused) as refused:
        transfer.import_text(engine, text, fmt=Format.YAML, now=NOW)
    assert [str(p) for p in refused.value.problems] == [
        "line 26: cannot look up “dev@acme.test” without Slack: give the user id (U…)"
    ]


def test_a_key_result_given_as_a_sentence_is_read_like_the_form_does(engine: Engine) -> None:
    text = BASE_YAML.replace(
        "  - title: Reach 100 customers\n    kind: increase\n    target: 100\n",
        "  - title: Reduce churn from 8% to 5% by 2026-03-31\n",
    ).replace("value: 10", "value: 7")
    transfer.import_text(engine, text, fmt=Format.YAML, now=NOW)
    kr = canonical(engine, "T0BAD")["key_results"][0]
    assert kr[3:8] == (KRKind.DECREASE, UnitKind.PERCENT, None, 8.0, 5.0)
    assert kr[10] == date(2026, 3, 31)


def test_what_people_type_in_a_spreadsheet_is_read_like_slack_reads_it(engine: Engine) -> None:
    text = (
        BASE_CSV.replace("increase,100", 'increase,"1,500"')
        .replace("2026-01-05,10,", "2026-01-05,1.2k,")
        .replace("record,key", "\ufeffrecord,key")  # Excel's byte order mark
    )
    transfer.import_text(engine, text, fmt=Format.CSV, now=NOW)
    dump = canonical(engine, "T0BAD")
    assert dump["key_results"][0][7] == 1500.0
    assert dump["check_ins"][0][2] == 1200.0
    assert dump["check_ins"][0][5] == "a note\non two lines"


def test_the_readme_samples_import(engine: Engine) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### Import and export") :]
    yaml_sample = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    csv_sample = section.split("```csv\n", 1)[1].split("```", 1)[0]

    transfer.import_text(
        engine,
        yaml_sample,
        fmt=Format.YAML,
        now=NOW,
        lookup_email={"ana@acme.com": "U0ANA"}.get,
    )
    dump = canonical(engine, "T0ACME")
    assert [(o[2], o[3], o[4]) for o in dump["objectives"]] == [
        ("U0ANA", None, "Launch a new communication platform"),
        ("U0DEV", 0, "Ship the mobile app"),
    ]
    # The sentence-only KR: read like the /okr new form reads it.
    assert dump["key_results"][1][3:8] == (
        KRKind.INCREASE,
        UnitKind.NUMBER,
        None,
        2000.0,
        5000.0,
    )
    assert dump["key_results"][1][10] == date(2026, 6, 30)
    assert dump["check_ins"][0][1:3] == ("U0ANA", 180.0)
    assert [s[1:3] + s[6:] for s in dump["sources"]] == [
        ("prometheus", "https://prometheus.internal:9090", 1000.0, "PROMETHEUS", 15)
    ]

    transfer.import_text(engine, csv_sample, fmt=Format.CSV, now=NOW, workspace_id="T0CSV")
    dump = canonical(engine, "T0CSV")
    assert dump["key_results"][0][3:8] == (KRKind.DECREASE, UnitKind.DURATION, None, 250.0, 100.0)
    assert dump["check_ins"][0][1:3] == ("U0CEO", 180.0)


def test_a_copy_into_another_workspace_keeps_that_workspace_s_name(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        reference_company(session, workspace_id="T0REF")
        ensure_workspace(session=session, workspace_id="T0OTHER", name="Other Co")
        session.commit()
    text = transfer.export_text(engine, workspace_id="T0REF", fmt=Format.YAML).text
    transfer.import_text(engine, text, fmt=Format.YAML, now=NOW, workspace_id="T0OTHER")
    copy = canonical(engine, "T0OTHER")
    assert copy["workspace"]["name"] == "Other Co"  # the name Slack gave it, not Acme's
    assert copy["objectives"] == canonical(engine, "T0REF")["objectives"]


def test_yaml_aliases_are_refused_before_anything_is_built() -> None:
    # "billion laughs": nine levels of nine aliases stand for 9**9 check-ins in ~1 KB
    lines = ["version: 1", "l0: &l0 {period: 2026-01-05, value: 1}"]
    for level in range(1, 10):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    document, problems = transfer.decode("\n".join(lines) + "\n", Format.YAML)
    assert document is None
    assert problems == [
        Problem(
            3,
            "“*l0” repeats an entry by YAML alias: write each entry out in full "
            "(aliases are not accepted)",
        )
    ]


def test_a_yaml_anchor_without_an_alias_is_harmless() -> None:
    _, problems = transfer.decode("version: 1\nworkspace: &w {name: Acme}\n", Format.YAML)
    assert not any("alias" in p.message for p in problems), problems


def test_a_record_with_bad_fields_is_still_checked_against_the_others() -> None:
    # A bad field leaves its record in the document, so references to it and from it are
    # still checked in the same pass: every problem at once, none invented.
    text = (
        BASE_YAML.replace("start_date: 2026-01-01", "start_date: soon")
        .replace("  end_date: 2026-03-31\n", "")
        .replace("  team: Platform\n", "  team: Platform\n  weight: heavy\n  committed: maybe\n")
        .replace("parent: O1", "parent: O9")
    )
    document, problems = transfer.decode(text, Format.YAML)
    assert document is not None and [o.key for o in document.objectives] == ["O1", "O2"]
    assert sorted(problems) == [
        Problem(9, "a cycle needs an end_date"),
        Problem(9, "start_date “soon” is not a date (YYYY-MM-DD)"),
        Problem(12, "committed should be true or false, not “maybe”"),
        Problem(12, "weight: “heavy” is not a number. Type a value like 42, 1.5k or 30%."),
    ]
    assert transfer.plan_import(document, problems, lookup_email=None, now=NOW) is None
    assert Problem(27, "unknown parent objective “O9”") in problems
    assert not any("unknown cycle" in p.message for p in problems)


def test_odd_yaml_shapes_are_problems_not_crashes() -> None:
    _, problems = transfer.decode(
        "version: 1\n1: one\nworkspace: []\nobjectives: [null, {key_results: 3}]\n",
        Format.YAML,
    )
    assert problems == [
        Problem(1, "unknown field “1” in the file"),
        Problem(4, "an objective needs a cycle"),
        Problem(4, "an objective needs an owner (a Slack user id or an email)"),
        Problem(4, "key_results should be a list of key results, each a mapping"),
        Problem(1, "workspace should be a mapping (field: value)"),
        Problem(1, "objectives should be a list of objectives, each a mapping"),
    ]


def test_csv_rows_keep_their_physical_line_after_blank_lines_and_quoted_breaks() -> None:
    text = (
        BASE_CSV.replace("\nteam,", "\n\n\nteam,")  # two blank lines: the team is on line 6
        .replace("a note\non two lines", "a note\r\non\rthree lines")  # lines 10-12
        .replace("2026-01-05,10,", "2026-01-05,heaps,")
        .replace("\nkey_result,O2.1", "\n\nkey_result,O2.1")
        .replace("milestone,1,", "milestone,lots,")
    )
    _, problems = transfer.decode(text, Format.CSV)
    assert problems == [
        Problem(10, "value: “heaps” is not a number. Type a value like 42, 1.5k or 30%."),
        Problem(15, "target: “lots” is not a number. Type a value like 42, 1.5k or 30%."),
    ]
