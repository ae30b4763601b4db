"""Upgrading keeps every row: from each revision, on SQLite and PostgreSQL.

For every revision in storage/migrations/versions (walked with Alembic, so a new one is picked
up by itself) a fresh database is created at that revision, filled through that revision's
own schema with the data of SEEDS[revision], upgraded to head, and read back: every seeded
row is still there with its values (except what a migration is meant to change, declared
with the seed), and the head code reads it through the storage functions.

Adding a migration? Add its SEEDS entry: data valid at that revision, touching what it adds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlmodel import Session, SQLModel, select

from bot.okr.alignment import Gap
from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from bot.services.alignment import report_of
from storage.alignment import alignment_counts
from storage.checkins import list_check_ins, record_check_in
from storage.cycles import create_cycle, list_cycles
from storage.db import make_engine
from storage.health import CHECK_NAME, check_writable
from storage.migrate import (
    SchemaTooNew,
    cheap_head,
    current_revision,
    downgrade,
    head_revision,
    revision_graph,
    scripts,
    upgrade,
)
from storage.models import KeyResult, LadderHealth, Objective, Reflection
from storage.objectives import create_objective
from storage.outbox import list_messages
from storage.pacing import reserve_slot
from storage.people import get_people
from storage.teams import channels_by_team, list_teams
from storage.tree import load_shown_tree, load_tree
from storage.workspaces import ensure_workspace, get_workspace
from tests.conftest import fresh_postgres_schema

REPO = Path(__file__).resolve().parents[2]
SEED, GONE = "T0SEED", "T0GONE"  # an active workspace, and one already inactive
CREATED = datetime(2026, 1, 2, 8, 30, 15, 123000)  # naive UTC, as the columns store it
P1, P2 = date(2026, 1, 5), date(2026, 1, 12)


def revisions() -> list[str]:
    """Oldest first."""
    return [r.revision for r in reversed(list(scripts().walk_revisions()))]


# ---------------------------------------------------------------------------- seeds

Rows = dict[str, list[dict[str, Any]]]  # table -> rows, inserted in this order


@dataclass
class Seed:
    """Data valid at one revision, and what upgrading from there may change about it."""

    rows: Callable[[], Rows]
    # (table, primary key values) of rows a later migration removes on purpose.
    removed: set[tuple[str, tuple[Any, ...]]] = field(default_factory=set)
    # (table, column) a later migration recomputes on purpose (the stored roll-up).
    recomputed: frozenset[tuple[str, str]] = frozenset()
    check: Callable[[Session, str], None] | None = None  # extra checks at head


def _workspace(team_id: str, name: str, *, active: bool) -> dict[str, Any]:
    return {
        "team_id": team_id,
        "name": name,
        "vision": "Everyone knows why — “their” work <matters> & 100%",
        "mission": "Ship OKRs people use",
        "active": active,
        "checkin_weekday": 2,
        "checkin_time": time(9, 30),
        "checkin_cadence_weeks": 2,
        "reminder_delay_hours": 12,
        "max_reminders": 2,
        "default_timezone": "Europe/Berlin",
        "digest_channel": "C0DIGEST" if active else None,
        "digest_weekday": 3,
        "digest_mentions": True,
        "rollup_include_children": True,
        "at_risk_points": 12.5,
        "off_track_points": 30.0,
        "created_at": CREATED,
        "updated_at": CREATED + timedelta(days=1),
    }


def _kr(id: int, objective_id: int, **values: Any) -> dict[str, Any]:
    return {
        "id": id,
        "workspace_id": SEED,
        "objective_id": objective_id,
        "owner_id": "U0DEV",
        "unit_label": None,
        "start_value": None,
        "current_value": None,
        "weight": 1.0,
        "due_date": None,
        "confidence": None,
        "position": 0,
        "grade": None,
        "last_checkin_at": None,
        "created_at": CREATED,
        "updated_at": CREATED,
        "archived_at": None,
        **values,
    }


def _check_in(id: int, kr: int, period: date, value: float | None, **values: Any) -> dict:
    return {
        "id": id,
        "workspace_id": SEED,
        "key_result_id": kr,
        "author_id": "U0DEV",
        "value": value,
        "previous_value": None,
        "confidence": 7,
        "note": "",
        "blocker": "",
        "period_start": period,
        "source": "modal",
        "dedupe_key": None,
        "created_at": datetime.combine(period, time(10)) + timedelta(minutes=id),
        **values,
    }


def rows_0001() -> Rows:
    """The objective tree with check-ins, in the 0001 schema."""
    return {
        "workspace": [
            _workspace(SEED, "Seed Co", active=True),
            _workspace(GONE, "Gone", active=False),
        ],
        "cycle": [
            {
                "id": 1,
                "workspace_id": SEED,
                "name": "Q1 2026",
                "start_date": date(2026, 1, 1),
                "end_date": date(2026, 3, 31),
                "closed_at": None,
            },
            {
                "id": 2,
                "workspace_id": SEED,
                "name": "Q4 2025",
                "start_date": date(2025, 10, 1),
                "end_date": date(2025, 12, 31),
                "closed_at": datetime(2026, 1, 3, 17, 0),
            },
        ],
        "team": [
            {
                "id": 1,
                "workspace_id": SEED,
                "name": "Platform",
                "parent_id": None,
                "created_at": CREATED,
            },
            {"id": 2, "workspace_id": SEED, "name": "Infra", "parent_id": 1, "created_at": CREATED},
        ],
        "team_channel": [{"id": 1, "workspace_id": SEED, "team_id": 2, "channel_id": "C0INFRA"}],
        "objective": [
            {
                "id": 1,
                "workspace_id": SEED,
                "cycle_id": 1,
                "team_id": None,
                "owner_id": "U0CEO",
                "parent_id": None,
                "title": "Grow revenue",
                "description": "",
                "weight": 2.0,
                "status": "active",
                "grade": None,
                "created_at": CREATED,
                "updated_at": CREATED,
                "archived_at": None,
            },
            {
                "id": 2,
                "workspace_id": SEED,
                "cycle_id": 1,
                "team_id": 2,
                "owner_id": "U0DEV",
                "parent_id": 1,
                "title": "Deploy faster",
                "description": "Line one\nline “two” & <3",
                "weight": 1.0,
                "status": "active",
                "grade": None,
                "created_at": CREATED,
                "updated_at": CREATED,
                "archived_at": None,
            },
            {
                "id": 3,
                "workspace_id": SEED,
                "cycle_id": 2,
                "team_id": 1,
                "owner_id": "U0DEV",
                "parent_id": None,
                "title": "Old news",
                "description": "",
                "weight": 1.0,
                "status": "closed",
                "grade": 0.7,
                "created_at": CREATED,
                "updated_at": CREATED,
                "archived_at": datetime(2026, 1, 4, 12, 0),
            },
        ],
        "key_result": [
            _kr(
                1,
                1,
                title="Revenue from 1M to 2M",
                kind="increase",
                unit="currency",
                unit_label="EUR",
                start_value=1_000_000.0,
                target_value=2_000_000.0,
                current_value=1_250_000.0,
                confidence=6,
                weight=3.0,
                last_checkin_at=datetime(2026, 1, 12, 10, 4),
            ),
            _kr(
                2,
                1,
                title="Launch the new plan",
                kind="milestone",
                unit="number",
                target_value=1.0,
                current_value=0.0,
                position=1,
                owner_id="U0CEO",
            ),
            _kr(
                3,
                2,
                title="Lead time from 10 d to 2 d",
                kind="decrease",
                unit="duration",
                unit_label="d",
                start_value=10.0,
                target_value=2.0,
                current_value=8.5,
                due_date=date(2026, 3, 1),
                confidence=3,
            ),
            _kr(
                4,
                3,
                title="Archived KR",
                kind="at_least",
                unit="percent",
                target_value=99.9,
                current_value=99.95,
                grade=1.0,
                archived_at=datetime(2026, 1, 4, 12, 0),
            ),
        ],
        "check_in": [
            _check_in(3, 1, P1, 1_200_000.0, dedupe_key="modal:v3", note="Big deal “closed”"),
            _check_in(4, 1, P2, 1_250_000.0, previous_value=1_200_000.0, source="no_change"),
            _check_in(5, 3, P1, 8.5, confidence=3, blocker="Waiting on CI budget"),
        ],
    }


def rows_0001_with_duplicates() -> Rows:
    """0001 allowed several check-ins of one KR in a period; 0002 keeps the latest (id 3)."""
    rows = rows_0001()
    rows["check_in"][:0] = [
        _check_in(1, 1, P1, 1_100_000.0, dedupe_key="modal:v1", note="first try"),
        _check_in(2, 1, P1, 1_150_000.0, dedupe_key="modal:v2", confidence=None),
    ]
    return rows


def rows_0002() -> Rows:
    """0002 adds people and the delivery outbox."""
    rows = rows_0001()
    rows["person"] = [
        {
            "workspace_id": SEED,
            "user_id": "U0DEV",
            "tz": "Europe/Berlin",
            "deleted": False,
            "is_bot": False,
            "away_until": date(2026, 1, 20),
            "refreshed_at": CREATED,
        },
        {
            "workspace_id": SEED,
            "user_id": "U0CEO",
            "tz": None,
            "deleted": True,
            "is_bot": False,
            "away_until": None,
            "refreshed_at": None,
        },
    ]
    rows["outbox_message"] = [
        {
            "id": 1,
            "workspace_id": SEED,
            "recipient": "U0DEV",
            "period_start": P2,
            "kind": "prompt",
            "state": "sent",
            "due_at": datetime(2026, 1, 12, 9, 0),
            "claimed_at": datetime(2026, 1, 12, 9, 0, 1),
            "attempts": 1,
            "channel_id": "D0DEV",
            "ts": "1768208401.000100",
            "sent_at": datetime(2026, 1, 12, 9, 0, 2),
            "answered_at": datetime(2026, 1, 12, 10, 4),
            "error": None,
        },
        {
            "id": 2,
            "workspace_id": SEED,
            "recipient": "U0CEO",
            "period_start": P2,
            "kind": "reminder1",
            "state": "failed",
            "due_at": datetime(2026, 1, 13, 9, 0),
            "claimed_at": None,
            "attempts": 3,
            "channel_id": None,
            "ts": None,
            "sent_at": None,
            "answered_at": None,
            "error": "user_not_found",
        },
    ]
    return rows


def rows_0003() -> Rows:
    """0003 adds workspace.deactivated_at and slack_sdk's installation and OAuth state tables."""
    rows = rows_0002()
    for workspace in rows["workspace"]:
        workspace["deactivated_at"] = None if workspace["active"] else datetime(2026, 1, 6, 7, 0)
    rows["slack_installations"] = [
        {
            "id": 1,
            "client_id": "111.222",
            "app_id": "A0LADDER",
            "enterprise_id": None,
            "enterprise_name": None,
            "enterprise_url": None,
            "team_id": SEED,
            "team_name": "Seed Co",
            "bot_token": "xoxb-seed-1",
            "bot_id": "B0LADDER",
            "bot_user_id": "U0BOT",
            "bot_scopes": "commands,chat:write",
            "bot_refresh_token": None,
            "bot_token_expires_at": None,
            "user_id": "U0CEO",
            "user_token": None,
            "user_scopes": None,
            "user_refresh_token": None,
            "user_token_expires_at": None,
            "incoming_webhook_url": None,
            "incoming_webhook_channel": None,
            "incoming_webhook_channel_id": None,
            "incoming_webhook_configuration_url": None,
            "is_enterprise_install": False,
            "token_type": "bot",
            "installed_at": CREATED,
        },
    ]
    rows["slack_bots"] = [
        {
            "id": 1,
            "client_id": "111.222",
            "app_id": "A0LADDER",
            "enterprise_id": None,
            "enterprise_name": None,
            "team_id": SEED,
            "team_name": "Seed Co",
            "bot_token": "xoxb-seed-1",
            "bot_id": "B0LADDER",
            "bot_user_id": "U0BOT",
            "bot_scopes": "commands,chat:write",
            "bot_refresh_token": None,
            "bot_token_expires_at": None,
            "is_enterprise_install": False,
            "installed_at": CREATED,
        },
    ]
    rows["slack_oauth_states"] = [
        {"id": 1, "state": "state-abc", "expire_at": datetime(2026, 1, 2, 8, 40)}
    ]
    return rows


def rows_0004() -> Rows:
    """0004 adds ladder_health, the row the health check rewrites."""
    rows = rows_0003()
    rows["ladder_health"] = [{"name": CHECK_NAME, "checked_at": CREATED}]
    return rows


def rows_0005() -> Rows:
    """0005 adds data sources, their allow-listed hosts and push tokens."""
    rows = rows_0004()
    rows["data_source"] = [
        {
            "id": 1,
            "workspace_id": SEED,
            "key_result_id": 1,
            "kind": "json",
            "url": "https://metrics.example/api/users",
            "expression": "data.active",
            "column": "",
            "row_key": "",
            "multiplier": 1.0,
            "credential": "METRICS",
            "interval_minutes": 60,
            "created_by": "U0CEO",
            "created_at": CREATED,
            "updated_at": CREATED,
            "next_run_at": CREATED,
            "last_run_at": CREATED,
            "last_ok_at": None,
            "last_value": None,
            "failing_since": CREATED,
            "failure_reason": "the server answered HTTP 500",
            "failures": 2,
            "notified_at": CREATED,
        }
    ]
    rows["data_source_host"] = [
        {
            "workspace_id": SEED,
            "host": "metrics.internal",
            "added_by": "U0CEO",
            "created_at": CREATED,
        }
    ]
    rows["push_token"] = [
        {
            "id": 1,
            "workspace_id": SEED,
            "key_result_id": 2,
            "token_hash": "0" * 64,
            "hint": "ldr_abcd",
            "created_by": "U0CEO",
            "created_at": CREATED,
            "revoked_at": None,
            "last_used_at": None,
        }
    ]
    return rows


def rows_0006() -> Rows:
    """0006 adds the workspace's pictures switch and the chart file cache."""
    rows = rows_0005()
    rows["workspace"] = [{**w, "charts_enabled": w["team_id"] != SEED} for w in rows["workspace"]]
    rows["chart_file"] = [
        {"workspace_id": SEED, "content_key": "a" * 64, "file_id": "F0CHART", "created_at": CREATED}
    ]
    return rows


def check_charts(session: Session, start: str) -> None:
    """Workspaces from before 0006 keep pictures on; the cache is read by its key."""
    from storage.charts import cached_file

    seeded = start >= "0006"  # revisions are numbered in order
    assert get_workspace(session=session, workspace_id=SEED).charts_enabled is not seeded
    found = cached_file(session=session, workspace_id=SEED, content_key="a" * 64)
    assert found == ("F0CHART" if seeded else None)


def rows_0007() -> Rows:
    """0007 adds the stored roll-up columns of objective (kept in step by storage/rollup.py)."""
    rows = rows_0006()
    for objective in rows["objective"]:
        parent = objective.get("parent_id")
        objective["walk_key"] = (f"{parent:010d}" if parent else "") + f"{objective['id']:010d}"
        objective["rollup_progress"] = 0.25
        objective["rollup_rated"] = True
        objective["rollup_at_risk_on"] = date(2026, 1, 20)
        objective["rollup_off_track_on"] = None
    return rows


# 0010 adds the stale day to the roll-up and rebuilds it: values seeded before are replaced.
ROLLUP_COLUMNS = frozenset(
    ("objective", c)
    for c in (
        "walk_key",
        "rollup_progress",
        "rollup_rated",
        "rollup_at_risk_on",
        "rollup_off_track_on",
        "rollup_bucket",
    )
)


def check_rollup(session: Session, start: str) -> None:
    """The backfill (0007's, then 0011's, 0012's and 0013's, now 0014's) agrees with the core's
    roll-up: stale KRs too (by June every checked-in KR is two periods past its last
    check-in, and every KR never checked in two past the later of its creation and its
    cycle's start), and the stored alignment flags give the pure module's alignment counts."""
    if start >= "0014":
        return  # seeded by hand; nothing recomputes them on an upgrade to head
    for day in (date(2025, 12, 1), date(2026, 2, 1), date(2026, 6, 1)):
        core = load_tree(session=session, workspace_id=SEED, today=day)
        shown = load_shown_tree(session=session, workspace_id=SEED, today=day, limit=50)
        assert [o.id for o in shown.objectives] == [o.id for o in core.objectives]
        assert shown.status_counts() == core.status_counts()
        for o in core.objectives:
            assert shown.health.objectives[o.id] == core.health.objectives[o.id]
    now, period = datetime(2026, 2, 20, tzinfo=UTC), timedelta(weeks=1)
    whole = load_tree(session=session, workspace_id=SEED, today=now.date())
    pure = report_of(whole, scope="", within=None, now=now, period=period)
    sql = alignment_counts(session=session, workspace_id=SEED, now=now)
    expected = {g: n for g, n in pure.counts.items() if g is not Gap.CONTRADICTION}
    assert (sql.objectives, sql.laddered, sql.counts) == (pure.objectives, pure.laddered, expected)


def rows_0008() -> Rows:
    """0008 adds committed objectives, carried-over KRs and reflections."""
    rows = rows_0007()
    for n, objective in enumerate(rows["objective"]):  # every row names every column
        objective["committed"] = n == 0
    for kr in rows["key_result"]:
        kr["carried_from_id"] = None
    rows["key_result"][3]["carried_from_id"] = rows["key_result"][0]["id"]
    rows["reflection"] = [
        {
            "id": 1,
            "workspace_id": SEED,
            "objective_id": rows["objective"][0]["id"],
            "author_id": "U0CEO",
            "worked": "Weekly demos — “kept” us <honest>",
            "did_not_work": "",
            "carry_over": "Latency work",
            "created_at": CREATED,
            "updated_at": CREATED,
        }
    ]
    return rows


def check_reflections(session: Session, start: str) -> None:
    """From 0008 on: the committed flag, the carried-from link and reflections read back;
    before it, every objective upgrades as aspirational."""
    objectives = {o.id: o for o in session.exec(sa.select(Objective)).scalars()}
    if start < "0008":
        assert not any(o.committed for o in objectives.values())
        return
    assert [o.committed for _id, o in sorted(objectives.items())] == [True, False, False]
    assert session.get_one(KeyResult, 4).carried_from_id == 1
    assert session.get_one(Reflection, 1).carry_over == "Latency work"


def rows_0009() -> Rows:
    """0009 adds send_pace, the workspace's next free send slot shared by senders."""
    rows = rows_0008()
    rows["send_pace"] = [{"workspace_id": SEED, "next_slot": 1_767_000_000.25}]
    return rows


def check_pace(session: Session, start: str) -> None:
    """A sender reserves the slot the row holds, and moves it on."""
    slot = reserve_slot(session=session, workspace_id=SEED, not_before=0.0, gap=0.5)
    assert slot == 1_767_000_000.25
    assert reserve_slot(session=session, workspace_id=SEED, not_before=0.0, gap=0.5) == slot + 0.5


def rows_0010() -> Rows:
    """0010 makes levels explicit: objective 1 (no team) is a person's own, not the company's."""
    rows = rows_0009()
    levels = {1: "personal", 2: "team", 3: "team"}
    for objective in rows["objective"]:
        objective["level"] = levels[objective["id"]]
    return rows


def check_levels(session: Session, start: str) -> None:
    """Before 0010 an objective with no team was the company's: it stays one; with a team,
    a team objective. From 0010 on the stored level reads back."""
    found = {o.id: (o.team_id, o.level) for o in session.exec(sa.select(Objective)).scalars()}
    company_or_personal = "personal" if start >= "0010" else "company"
    assert found == {1: (None, company_or_personal), 2: (2, "team"), 3: (1, "team")}
    # Home's company objectives are the company level's only.
    company = load_tree(session=session, workspace_id=SEED, today=P2, company_only=True)
    assert [o.id for o in company.objectives] == ([] if start >= "0010" else [1])


def rows_0011() -> Rows:
    """0011 adds the stale day (no recent data) to the stored roll-up."""
    rows = rows_0010()
    for objective in rows["objective"]:
        objective["rollup_stale_on"] = date(2026, 2, 9)
    return rows


# 0012 stores the alignment flags and KR counts and rebuilds the roll-up: 0011's values too.
ROLLUP_COLUMNS_0011 = ROLLUP_COLUMNS | {("objective", "rollup_stale_on")}


def rows_0012() -> Rows:
    """0012 adds the alignment flags and KR counts to the stored roll-up."""
    rows = rows_0011()
    for objective in rows["objective"]:
        objective["rollup_laddered"] = objective["id"] == 2
        objective["rollup_unparented"] = objective["id"] != 2
        objective["rollup_krs"] = 2
    return rows


# 0013 adds the effective team and alignment shares, 0014 rebuilds the roll-up (the one stale
# rule): every stored roll-up column is recomputed.
ROLLUP_COLUMNS_0012 = ROLLUP_COLUMNS_0011 | {
    ("objective", c) for c in ("rollup_laddered", "rollup_unparented", "rollup_krs")
}
ROLLUP_COLUMNS_0013 = ROLLUP_COLUMNS_0012 | {
    ("objective", c) for c in ("rollup_team_id", "rollup_alignment")
}


def rows_0013() -> Rows:
    """0013 adds the effective team, each objective's alignment share and alignment_count."""
    rows = rows_0012()
    for objective in rows["objective"]:
        objective["rollup_team_id"] = objective["team_id"]
        objective["rollup_alignment"] = None
    rows["alignment_count"] = [
        {
            "workspace_id": SEED,
            "bucket": "o:1:-:company:10000",
            "cycle_id": 1,
            "team_id": None,
            "level": "company",
            "laddered": True,
            "orphan": False,
            "no_why": False,
            "no_krs": False,
            "too_many_krs": False,
            "stale_on": None,
            "objectives": 1,
            "stale_krs": 0,
        }
    ]
    return rows


def check_tree(session: Session, start: str) -> None:
    """The head code reads the tree: workspace settings, cycles, teams, objectives with their
    KRs and progress, check-ins."""
    workspace = get_workspace(session=session, workspace_id=SEED)
    assert (workspace.vision, workspace.checkin_time, workspace.at_risk_points) == (
        "Everyone knows why — “their” work <matters> & 100%",
        time(9, 30),
        12.5,
    )
    assert workspace.created_at == CREATED.replace(tzinfo=UTC)
    assert [c.name for c in list_cycles(session=session, workspace_id=SEED)] == [
        "Q1 2026",
        "Q4 2025",
    ]
    assert {t.name: t.parent_id for t in list_teams(session=session, workspace_id=SEED)} == {
        "Platform": None,
        "Infra": 1,
    }
    assert channels_by_team(session=session, workspace_id=SEED) == {2: ["C0INFRA"]}
    tree = load_tree(session=session, workspace_id=SEED, today=date(2026, 2, 1))
    assert [(o.id, depth) for o, depth in tree.walk()] == [(1, 0), (2, 1)]
    assert [kr.id for kr in tree.krs_of(1)] == [1, 2]
    assert tree.health.krs[1].progress == pytest.approx(0.25)
    everything = load_tree(
        session=session,
        workspace_id=SEED,
        today=date(2026, 2, 1),
        cycle_ids=[1, 2],
        include_archived=True,
    )
    assert [kr.id for kr in everything.krs_of(3)] == [4]
    check_ins = list_check_ins(session=session, workspace_id=SEED, key_result_ids=[1, 2, 3, 4])
    assert [(c.id, c.key_result_id, c.period_start) for c in check_ins] == [
        (3, 1, P1),
        (5, 3, P1),
        (4, 1, P2),
    ]  # one per KR and period: from 0001, the duplicates were merged into the latest
    assert check_ins[0].note == "Big deal “closed”" and check_ins[0].value == 1_200_000.0


def check_inactive_since_upgrade(session: Session, start: str) -> None:
    """0003: a workspace already inactive starts its retention period at the upgrade."""
    gone = get_workspace(session=session, workspace_id=GONE)
    assert gone.deactivated_at is not None
    assert datetime.now(UTC) - gone.deactivated_at < timedelta(minutes=10)
    assert get_workspace(session=session, workspace_id=SEED).deactivated_at is None


def check_delivery(session: Session, start: str) -> None:
    people = get_people(session=session, workspace_id=SEED, user_ids=["U0DEV", "U0CEO"])
    assert people["U0DEV"].away_until == date(2026, 1, 20) and people["U0CEO"].deleted
    messages = list_messages(session=session, workspace_id=SEED, period_start=P2)
    assert [(m.recipient, m.kind, m.state) for m in messages] == [
        ("U0DEV", "prompt", "sent"),
        ("U0CEO", "reminder1", "failed"),
    ]


def check_health(session: Session, start: str) -> None:
    """The health check rewrites the row it finds."""
    health = session.get_one(LadderHealth, CHECK_NAME)
    assert health.checked_at == CREATED.replace(tzinfo=UTC)
    session.rollback()  # on SQLite the session's transaction holds the write lock
    later = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    check_writable(session.get_bind(), now=later)  # type: ignore[arg-type]
    assert session.get_one(LadderHealth, CHECK_NAME).checked_at == later


def _checks(*checks: Callable[[Session, str], None]) -> Callable[[Session, str], None]:
    def run(session: Session, start: str) -> None:
        for check in checks:
            check(session, start)

    return run


SEEDS: dict[str, Seed] = {
    "0001": Seed(
        rows_0001_with_duplicates,
        removed={("check_in", (1,)), ("check_in", (2,))},
        check=_checks(check_tree, check_inactive_since_upgrade, check_rollup, check_levels),
    ),
    "0002": Seed(
        rows_0002,
        check=_checks(check_tree, check_delivery, check_inactive_since_upgrade, check_levels),
    ),
    "0003": Seed(rows_0003, check=_checks(check_tree, check_delivery, check_levels)),
    "0004": Seed(
        rows_0004,
        check=_checks(
            check_tree,
            check_delivery,
            check_health,
            check_charts,
            check_rollup,
            check_reflections,
            check_levels,
        ),
    ),
    "0005": Seed(
        rows_0005,
        check=_checks(
            check_tree,
            check_delivery,
            check_health,
            check_charts,
            check_rollup,
            check_reflections,
            check_levels,
        ),
    ),
    "0006": Seed(
        rows_0006,
        check=_checks(
            check_tree,
            check_delivery,
            check_health,
            check_charts,
            check_rollup,
            check_reflections,
            check_levels,
        ),
    ),
    "0007": Seed(
        rows_0007,
        recomputed=ROLLUP_COLUMNS,
        check=_checks(
            check_tree,
            check_delivery,
            check_health,
            check_charts,
            check_reflections,
            check_rollup,
            check_levels,
        ),
    ),
    "0008": Seed(
        rows_0008,
        recomputed=ROLLUP_COLUMNS,
        check=_checks(
            check_tree,
            check_delivery,
            check_health,
            check_charts,
            check_reflections,
            check_rollup,
            check_levels,
        ),
    ),
    "0009": Seed(
        rows_0009,
        recomputed=ROLLUP_COLUMNS,
        check=_checks(
            check_tree,
            check_delivery,
            check_health,
            check_charts,
            check_reflections,
            check_pace,
            check_rollup,
            check_levels,
        ),
    ),
    "0010": Seed(
        rows_0010,
        recomputed=ROLLUP_COLUMNS,
        check=_checks(
            check_tree,
            check_delivery,
            check_health,
            check_charts,
            check_reflections,
            check_pace,
            check_rollup,
            check_levels,
        ),
    ),
    "0011": Seed(
        rows_0011,
        recomputed=ROLLUP_COLUMNS_0011,
        check=_checks(
            check_tree,
            check_delivery,
            check_health,
            check_charts,
            check_reflections,
            check_pace,
            check_rollup,
            check_levels,
        ),
    ),
    "0012": Seed(
        rows_0012,
        recomputed=ROLLUP_COLUMNS_0012,
        check=_checks(
            check_tree,
            check_delivery,
            check_health,
            check_charts,
            check_reflections,
            check_pace,
            check_rollup,
            check_levels,
        ),
    ),
    "0013": Seed(
        # without buckets: 0014's rebuild counts them from the objectives
        lambda: {table: rows for table, rows in rows_0013().items() if table != "alignment_count"},
        recomputed=ROLLUP_COLUMNS_0013,
        check=_checks(
            check_tree,
            check_delivery,
            check_health,
            check_charts,
            check_reflections,
            check_pace,
            check_rollup,
            check_levels,
        ),
    ),
    # 0014 changes stored values only (no column): its rows are 0013's.
    "0014": Seed(
        rows_0013,
        check=_checks(
            check_tree,
            check_delivery,
            check_health,
            check_charts,
            check_reflections,
            check_pace,
            check_levels,
        ),
    ),
}


# ---------------------------------------------------------------------------- databases


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database, no schema at all: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'ladder.db'}")
        yield engine
        engine.dispose()
        return
    with fresh_postgres_schema("ladder_migrate") as engine:
        yield engine


def _key(table: sa.Table, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _insert(connection: Connection, rows: Rows) -> None:
    """Through the schema as it is at this revision (reflected): no model code involved."""
    metadata = sa.MetaData()
    for name, table_rows in rows.items():
        table = sa.Table(name, metadata, autoload_with=connection)
        connection.execute(table.insert(), table_rows)
    if connection.dialect.name == "postgresql":  # explicit ids: move the sequences on
        for name in rows:
            table = metadata.tables[name]
            if "id" in table.c and table.c.id.autoincrement:
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))"
                )


def _same(expected: Any, found: Any) -> bool:
    if isinstance(expected, float) and isinstance(found, float):
        return expected == pytest.approx(found)
    return bool(expected == found)


# ---------------------------------------------------------------------------- tests


def test_every_revision_has_a_seed() -> None:
    missing = [r for r in revisions() if r not in SEEDS]
    assert not missing, (
        f"migration(s) {missing} have no entry in SEEDS (tests/storage/test_migrations.py): "
        "add rows valid at that revision, including what it adds, so upgrades from it are "
        "tested with data"
    )
    assert set(SEEDS) <= set(revisions()), (
        f"seeds for unknown revisions: {set(SEEDS) - set(revisions())}"
    )


@pytest.mark.parametrize("start", revisions())
def test_upgrade_from_each_revision_keeps_every_row(fresh_engine: Engine, start: str) -> None:
    if start not in SEEDS:
        pytest.fail(
            f"migration {start} has no seed: add SEEDS[{start!r}] in "
            "tests/storage/test_migrations.py (data valid at that revision)"
        )
    seed = SEEDS[start]
    upgrade(fresh_engine, start)
    assert current_revision(fresh_engine) == start
    rows = seed.rows()
    with fresh_engine.begin() as connection:
        _insert(connection, rows)

    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == head_revision()

    metadata = sa.MetaData()
    with fresh_engine.connect() as connection:
        for name, table_rows in rows.items():
            table = sa.Table(name, metadata, autoload_with=connection)
            found = {
                _key(table, dict(r._mapping)): dict(r._mapping)
                for r in connection.execute(table.select())
            }
            for row in table_rows:
                key = _key(table, row)
                if (name, key) in seed.removed:
                    assert key not in found, f"{name} {key} should have been removed"
                    continue
                assert key in found, f"{name} {key} was lost upgrading from {start}"
                changed = {
                    column: (value, found[key][column])
                    for column, value in row.items()
                    if (name, column) not in seed.recomputed
                    and not _same(value, found[key][column])
                }
                assert not changed, f"{name} {key} changed upgrading from {start}: {changed}"
            expected = len([r for r in table_rows if (name, _key(table, r)) not in seed.removed])
            assert len(found) == expected, f"{name}: {len(found)} rows at head, seeded {expected}"
    if seed.check is not None:
        with Session(fresh_engine) as session:
            seed.check(session, start)


def test_an_unknown_newer_revision_is_refused_and_left_alone(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    with fresh_engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(SchemaTooNew, match="9999_future"):
        upgrade(fresh_engine)
    assert current_revision(fresh_engine) == "9999_future"


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve"], ["clock"]])
def test_start_up_on_a_database_newer_than_the_code_exits_2(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "ladder.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
    engine.dispose()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "LADDER_", "DATABASE_URL", "PORT", "LOG_"))
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", *command],
        cwd=tmp_path,
        env={
            **base,
            "PYTHONPATH": str(REPO),
            "DATABASE_URL": f"sqlite:///{path}",
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        "ladder: The database is at schema revision 9999_future, which this version of Ladder "
        "does not know: it was upgraded by a newer Ladder. Run that version, or restore a backup."
    ], done.stderr
    engine = make_engine(f"sqlite:///{path}")
    assert current_revision(engine) == "9999_future"  # untouched
    engine.dispose()


def test_the_cheap_head_is_alembics_head() -> None:
    """Start-up reads the head from the files' headers; Alembic must agree."""
    assert cheap_head() == scripts().get_current_head()
    assert set(revision_graph()) == {r.revision for r in scripts().walk_revisions()}


def test_start_up_at_head_runs_no_migration(
    fresh_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(fresh_engine)
    from alembic import command

    ran: list[str] = []
    monkeypatch.setattr(command, "upgrade", lambda _config, revision: ran.append(revision))
    upgrade(fresh_engine)
    assert ran == []
    assert current_revision(fresh_engine) == head_revision()


def test_levels_go_on_downgrade_and_come_back_from_the_teams(fresh_engine: Engine) -> None:
    """0010 down: the level column goes, every row stays (a personal objective has no team:
    it reads as the company's again, as before levels); up again: backfilled from teams."""
    upgrade(fresh_engine, "0010")
    rows = rows_0010()
    with fresh_engine.begin() as connection:
        _insert(connection, rows)
    downgrade(fresh_engine, "0009")
    assert current_revision(fresh_engine) == "0009"
    inspector = sa.inspect(fresh_engine)
    assert "level" not in {c["name"] for c in inspector.get_columns("objective")}
    assert "ix_objective_workspace_level" not in {
        i["name"] for i in inspector.get_indexes("objective")
    }
    with fresh_engine.connect() as connection:
        ids = connection.execute(sa.text("SELECT id FROM objective ORDER BY id")).scalars()
        assert list(ids) == [o["id"] for o in rows["objective"]]
    upgrade(fresh_engine)  # to head: check_levels reads through the head models
    with Session(fresh_engine) as session:
        check_levels(session, "0009")


def test_the_stale_day_of_never_checked_in_objectives_goes_on_downgrade(
    fresh_engine: Engine,
) -> None:
    """0014 down: an objective nothing under which has started loses its stale day (the old
    rule: never stale), in its row and its bucket, and the buckets add up again; up again:
    rebuilt with it."""
    upgrade(fresh_engine)
    with Session(fresh_engine) as session:
        ensure_workspace(session=session, workspace_id=SEED)
        cycle = create_cycle(
            session=session,
            workspace_id=SEED,
            name="Q1",
            start_date=date(2026, 1, 5),
            end_date=date(2026, 3, 31),
        )
        for title, checked in (("Quiet", False), ("Checked", True)):
            made = create_objective(
                session=session,
                workspace_id=SEED,
                cycle_id=cycle.id,  # type: ignore[arg-type]
                owner_id="U1",
                title=title,
                key_results=[KRSpec("KR", KRKind.INCREASE, 10, start_value=0)],
                now=datetime(2026, 1, 10, tzinfo=UTC),
            )
            session.flush()
            if checked:
                [kr] = session.exec(
                    select(KeyResult).where(KeyResult.objective_id == made.id)
                ).all()
                record_check_in(
                    session=session,
                    workspace_id=SEED,
                    key_result_id=kr.id,  # type: ignore[arg-type]
                    author_id="U1",
                    value=5,
                    period_start=date(2026, 1, 12),
                    now=datetime(2026, 1, 12, tzinfo=UTC),
                )
        session.commit()

    def stored() -> dict[str, tuple[Any, Any]]:
        with fresh_engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT title, rollup_stale_on, rollup_bucket FROM objective")
            ).all()
            counted = connection.execute(
                sa.text("SELECT bucket, objectives FROM objective_status_count")
            ).all()
        assert sorted(counted) == sorted((bucket, 1) for _t, _s, bucket in rows)
        return {
            title: (str(stale)[:10] if stale else None, bucket) for title, stale, bucket in rows
        }

    at_head = stored()
    assert at_head["Quiet"][0] == "2026-01-24" and at_head["Quiet"][1].endswith(":2026-01-24")
    downgrade(fresh_engine, "0012")
    below = stored()
    assert below["Quiet"] == (None, at_head["Quiet"][1][: -len("2026-01-24")] + "-")
    assert below["Checked"] == at_head["Checked"]  # started: the same rule before and after
    upgrade(fresh_engine)
    assert stored() == at_head


def test_start_up_below_head_migrates(fresh_engine: Engine) -> None:
    graph = revision_graph()
    below = graph[head_revision()][0]
    upgrade(fresh_engine, below)
    assert current_revision(fresh_engine) == below
    upgrade(fresh_engine)
    assert current_revision(fresh_engine) == head_revision()
    inspector = sa.inspect(fresh_engine)
    assert {t.name for t in SQLModel.metadata.sorted_tables} <= set(inspector.get_table_names())


def test_start_up_imports_no_alembic_at_head(tmp_path: Path) -> None:
    path = tmp_path / "ladder.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    code = (
        "import sys; from storage.db import make_engine; from storage.migrate import upgrade; "
        f"upgrade(make_engine('sqlite:///{path}')); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"
