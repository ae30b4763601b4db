"""Retention: which workspaces are past it, and a purge that deletes all of one workspace's
rows in every table (found from the metadata) and nothing of another's. Also: the slack_sdk
store tables of migration 0003 are exactly what slack_sdk expects, and the daily job."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlmodel import Session, SQLModel, select

from bot.jobs import scheduler as scheduler_module
from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from bot.services import retention
from bot.services.delivery import DeliveryService
from bot.services.installs import installation_store
from bot.services.retention import StillActive, purge_expired, purge_inactive
from storage.checkins import record_check_in
from storage.cycles import create_cycle
from storage.db import make_engine, session_scope
from storage.errors import NotFound
from storage.migrate import (
    SLACK_BOTS_TABLE,
    SLACK_INSTALLATIONS_TABLE,
    SLACK_OAUTH_STATES_TABLE,
    SLACK_TABLES,
    downgrade,
    upgrade,
)
from storage.models import ChartFile, KeyResult, LadderHealth, Person, Workspace
from storage.objectives import create_objective
from storage.outbox import PlannedMessage, plan_messages
from storage.pacing import reserve_slot
from storage.reflections import save_reflection
from storage.retention import list_expired_workspaces, purge_workspace, workspace_tables
from storage.sources import allow_host, create_push_token, save_source
from storage.teams import create_team, link_channel
from storage.workspaces import ensure_workspace, set_workspace_active, update_workspace

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
GONE, KEPT = "T0GONE", "T0KEPT"
CLIENT_ID = "1111111111.2222222222222"
REPO = Path(__file__).resolve().parents[2]
# SQLModel tables that hold no workspace's data, so purge has nothing to delete there.
NOT_WORKSPACE_DATA = {LadderHealth.__tablename__}


def clear_slack_tables(engine: sa.Engine) -> None:
    """The engine fixture empties the SQLModel tables only; these belong to slack_sdk."""
    with engine.begin() as connection:
        for name in SLACK_TABLES:
            connection.execute(sa.text(f"DELETE FROM {name}"))


def fill_workspace(engine: sa.Engine, workspace_id: str) -> None:
    """At least one row in every table that holds a workspace's data."""
    with session_scope(engine) as session:
        ensure_workspace(session=session, workspace_id=workspace_id, name=workspace_id)
        update_workspace(session=session, workspace_id=workspace_id, vision="Why we exist")
        team = create_team(session=session, workspace_id=workspace_id, name="Platform")
        create_team(session=session, workspace_id=workspace_id, name="Web", parent_id=team.id)
        link_channel(
            session=session, workspace_id=workspace_id, team_id=team.id, channel_id="C0PLAT"
        )
        cycle = create_cycle(
            session=session,
            workspace_id=workspace_id,
            name="H1 2026",
            start_date=date(2026, 1, 5),
            end_date=date(2026, 7, 5),
        )
        parent = create_objective(
            session=session,
            workspace_id=workspace_id,
            cycle_id=cycle.id,
            owner_id="U0CEO",
            title="Grow",
            key_results=[KRSpec("Reach 100 customers", KRKind.INCREASE, 100, start_value=0)],
        )
        child = create_objective(
            session=session,
            workspace_id=workspace_id,
            cycle_id=cycle.id,
            owner_id="U0DEV",
            title="Ship",
            team_id=team.id,
            parent_id=parent.id,
            key_results=[KRSpec("Ship 3 releases", KRKind.INCREASE, 3, start_value=0)],
        )
        kr = session.exec(select(KeyResult).where(KeyResult.objective_id == child.id)).one()
        record_check_in(
            session=session,
            workspace_id=workspace_id,
            key_result_id=kr.id,
            author_id="U0DEV",
            value=1,
            period_start=date(2026, 3, 2),
            now=NOW,
        )
        session.add(Person(workspace_id=workspace_id, user_id="U0DEV", tz="Europe/Berlin"))
        # Data sources (storage/sources.py): a source, an allowed host, a push token.
        save_source(
            session=session,
            workspace_id=workspace_id,
            key_result_id=kr.id,
            kind="json",
            url="https://metrics.example/x",
            expression="a",
            created_by="U0DEV",
            now=NOW,
        )
        allow_host(
            session=session,
            workspace_id=workspace_id,
            host="metrics.internal",
            added_by="U0CEO",
            now=NOW,
        )
        create_push_token(
            session=session,
            workspace_id=workspace_id,
            key_result_id=kr.id,
            token_hash=workspace_id.ljust(64, "0"),
            hint="ldr_test",
            created_by="U0DEV",
            now=NOW,
        )
        session.add(
            ChartFile(
                workspace_id=workspace_id, content_key="c" * 64, file_id="F0CHART", created_at=NOW
            )
        )
        save_reflection(
            session=session,
            workspace_id=workspace_id,
            objective_id=child.id,  # type: ignore[arg-type]
            author_id="U0DEV",
            worked="Small releases",
            did_not_work="",
            carry_over="",
            now=NOW,
        )
        plan_messages(
            session=session,
            workspace_id=workspace_id,
            planned=[PlannedMessage("U0DEV", date(2026, 3, 2), "prompt", NOW)],
        )
        reserve_slot(session=session, workspace_id=workspace_id, not_before=NOW.timestamp(), gap=1)
    store = installation_store(engine, client_id=CLIENT_ID)
    store.save(
        Installation(
            app_id="A0LADDER",
            enterprise_id=None,
            team_id=workspace_id,
            team_name=workspace_id,
            bot_token=f"xoxb-{workspace_id}",
            bot_id="B0BOT",
            bot_user_id="U0BOT",
            bot_scopes="commands,chat:write",
            user_id="U0CEO",
            installed_at=(NOW - timedelta(days=90)).timestamp(),
        )
    )


def rows_by_table(engine: sa.Engine, workspace_id: str) -> dict[str, int]:
    """Rows of the workspace in every SQLModel table and slack_sdk installation table."""
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in NOT_WORKSPACE_DATA:
                continue
            key = table.c.workspace_id if "workspace_id" in table.c else table.c.team_id
            counts[table.name] = connection.execute(
                sa.select(sa.func.count()).select_from(table).where(key == workspace_id)
            ).scalar_one()
        for name in (SLACK_INSTALLATIONS_TABLE, SLACK_BOTS_TABLE):
            counts[name] = connection.execute(
                sa.text(f"SELECT count(*) FROM {name} WHERE team_id = :t"), {"t": workspace_id}
            ).scalar_one()
    return counts


def deactivate(engine: sa.Engine, workspace_id: str, when: datetime) -> None:
    with session_scope(engine) as session:
        set_workspace_active(session=session, workspace_id=workspace_id, active=False, now=when)


# ------------------------------------------------------------------------------ storage


def test_every_table_is_keyed_by_workspace() -> None:
    """A new table must carry workspace_id, or purge would not find its rows (unless it
    holds no workspace's data: then it is listed in NOT_WORKSPACE_DATA)."""
    keyed = {t.name for t in workspace_tables()} | {"workspace"}
    assert not keyed & NOT_WORKSPACE_DATA
    assert keyed | NOT_WORKSPACE_DATA == {t.name for t in SQLModel.metadata.sorted_tables}


def test_purge_deletes_every_row_of_that_workspace_and_nothing_of_another(
    engine: sa.Engine,
) -> None:
    clear_slack_tables(engine)
    fill_workspace(engine, GONE)
    fill_workspace(engine, KEPT)
    before = rows_by_table(engine, GONE)
    # The fixture reaches every table, so a table added later cannot go untested here.
    assert [name for name, n in before.items() if n == 0] == []
    kept = rows_by_table(engine, KEPT)
    assert kept == before

    with session_scope(engine) as session:
        deleted = purge_workspace(session=session, workspace_id=GONE)

    assert deleted == before
    assert set(rows_by_table(engine, GONE).values()) == {0}
    assert rows_by_table(engine, KEPT) == kept
    clear_slack_tables(engine)


def test_expired_means_inactive_since_before_the_cutoff(engine: sa.Engine) -> None:
    with session_scope(engine) as session:
        for team in ("T0ACTIVE", "T0RECENT", "T0OLD", "T0LEGACY"):
            ensure_workspace(session=session, workspace_id=team)
    deactivate(engine, "T0RECENT", NOW - timedelta(days=29))
    deactivate(engine, "T0OLD", NOW - timedelta(days=31))
    with session_scope(engine) as session:  # inactive before migration 0003 stamped it
        legacy = session.get_one(Workspace, "T0LEGACY")
        legacy.active = False
        session.add(legacy)
    with session_scope(engine) as session:
        expired = list_expired_workspaces(session=session, before=NOW - timedelta(days=30))
        assert [w.team_id for w in expired] == ["T0OLD"]


def test_deactivated_at_is_the_first_deactivation_and_cleared_by_coming_back(
    engine: sa.Engine,
) -> None:
    first = NOW - timedelta(days=10)
    with session_scope(engine) as session:
        ensure_workspace(session=session, workspace_id=GONE)
    deactivate(engine, GONE, first)
    deactivate(engine, GONE, NOW)  # a second notice does not postpone the purge
    with session_scope(engine) as session:
        assert session.get_one(Workspace, GONE).deactivated_at == first
        set_workspace_active(session=session, workspace_id=GONE, active=True, now=NOW)
    with session_scope(engine) as session:
        workspace = session.get_one(Workspace, GONE)
        assert workspace.active and workspace.deactivated_at is None
    # The sender's path (a revoked token) stamps it too.
    DeliveryService(engine, clock=lambda: NOW).deactivate(GONE, reason="token_revoked")
    with session_scope(engine) as session:
        workspace = session.get_one(Workspace, GONE)
        assert not workspace.active and workspace.deactivated_at is not None


# ------------------------------------------------------------------------------ service


def test_purge_expired_dry_run_then_for_real(engine: sa.Engine) -> None:
    clear_slack_tables(engine)
    fill_workspace(engine, GONE)
    fill_workspace(engine, KEPT)
    deactivate(engine, GONE, NOW - timedelta(days=31))
    before = rows_by_table(engine, GONE)
    kept = rows_by_table(engine, KEPT)

    dry = purge_expired(engine, now=NOW, retention=timedelta(days=30), dry_run=True)
    assert dry.workspaces == {GONE: before} and dry.rows == sum(before.values())
    assert rows_by_table(engine, GONE) == before  # a dry run deletes nothing
    assert dry.lines()[0].startswith(
        f"{GONE}: would delete {dry.rows} rows "
        f"(alignment_count {before['alignment_count']}, chart_file 1, check_in 1,"
    )

    # Not yet expired with a longer retention.
    assert purge_expired(engine, now=NOW, retention=timedelta(days=60)).workspaces == {}
    report = purge_expired(engine, now=NOW, retention=timedelta(days=30))
    assert report.workspaces == {GONE: before}
    assert set(rows_by_table(engine, GONE).values()) == {0}
    assert rows_by_table(engine, KEPT) == kept
    assert purge_expired(engine, now=NOW, retention=timedelta(days=30)).lines() == [
        "nothing to purge"
    ]
    clear_slack_tables(engine)


def test_an_install_saved_during_the_purge_survives_it(engine: sa.Engine) -> None:
    clear_slack_tables(engine)
    fill_workspace(engine, GONE)  # installed 90 days ago
    deactivate(engine, GONE, NOW - timedelta(days=31))
    store = installation_store(engine, client_id=CLIENT_ID)
    # The reinstall has saved its tokens but not yet marked the workspace active.
    store.save(
        Installation(
            app_id="A0LADDER",
            enterprise_id=None,
            team_id=GONE,
            bot_token="xoxb-reinstalled",
            bot_user_id="U0BOT",
            user_id="U0CEO",
            installed_at=NOW.timestamp(),
        )
    )
    purge_expired(engine, now=NOW, retention=timedelta(days=30))
    bot = store.find_bot(enterprise_id=None, team_id=GONE)
    assert bot is not None and bot.bot_token == "xoxb-reinstalled"
    assert rows_by_table(engine, GONE)[SLACK_INSTALLATIONS_TABLE] == 1
    clear_slack_tables(engine)


def test_a_named_workspace_is_purged_at_once_only_if_uninstalled(engine: sa.Engine) -> None:
    clear_slack_tables(engine)
    fill_workspace(engine, GONE)
    with pytest.raises(StillActive, match="uninstall Ladder there first"):
        purge_inactive(engine, workspace_id=GONE)
    with pytest.raises(NotFound):
        purge_inactive(engine, workspace_id="T0NEVER")
    assert rows_by_table(engine, GONE)["objective"] == 2
    deactivate(engine, GONE, datetime.now(UTC))  # uninstalled a minute ago
    report = purge_inactive(engine, workspace_id=GONE)
    assert report.rows > 0 and set(rows_by_table(engine, GONE).values()) == {0}
    clear_slack_tables(engine)


def test_a_workspace_reinstalled_after_listing_is_not_purged(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_workspace(engine, GONE)
    deactivate(engine, GONE, NOW - timedelta(days=31))
    with session_scope(engine) as session:
        stale = list_expired_workspaces(session=session, before=NOW - timedelta(days=30))
    with session_scope(engine) as session:  # reinstalled between the listing and the purge
        set_workspace_active(session=session, workspace_id=GONE, active=True, now=NOW)
    monkeypatch.setattr(retention, "list_expired_workspaces", lambda **_: stale)

    report = purge_expired(engine, now=NOW, retention=timedelta(days=30))

    assert [w.team_id for w in stale] == [GONE] and report.workspaces == {}
    assert rows_by_table(engine, GONE)["objective"] == 2
    clear_slack_tables(engine)


# ------------------------------------------------------------------------------ schema


def test_slack_tables_are_exactly_what_slack_sdk_expects(engine: sa.Engine) -> None:
    expected = sa.MetaData()
    SQLAlchemyInstallationStore.build_installations_table(expected, SLACK_INSTALLATIONS_TABLE)
    SQLAlchemyInstallationStore.build_bots_table(expected, SLACK_BOTS_TABLE)
    SQLAlchemyOAuthStateStore.build_oauth_states_table(expected, SLACK_OAUTH_STATES_TABLE)

    def only_slack(obj: object, name: str | None, type_: str, *_: object) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in SLACK_TABLES

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": only_slack}
        )
        assert compare_metadata(context, expected) == []


def test_migration_0003_starts_retention_for_already_inactive_workspaces(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ladder.db'}")
    upgrade(engine, "0002")
    with engine.begin() as connection:
        for team, active in (("T0ON", True), ("T0OFF", False)):
            connection.execute(
                sa.text(
                    "INSERT INTO workspace (team_id, name, vision, mission, active, "
                    "checkin_weekday, checkin_time, checkin_cadence_weeks, reminder_delay_hours, "
                    "max_reminders, default_timezone, digest_weekday, digest_mentions, "
                    "rollup_include_children, at_risk_points, off_track_points, created_at, "
                    "updated_at) VALUES (:t, '', '', '', :a, 0, '10:00:00', 1, 24, 1, 'UTC', 4, "
                    "0, 0, 10, 25, '2020-01-01 00:00:00', '2020-01-01 00:00:00')"
                ),
                {"t": team, "a": active},
            )
    started = datetime.now(UTC)
    upgrade(engine)
    with Session(engine) as session:
        assert session.get_one(Workspace, "T0ON").deactivated_at is None
        stamped = session.get_one(Workspace, "T0OFF").deactivated_at
        assert stamped is not None and stamped >= started - timedelta(seconds=1)
    downgrade(engine, "0002")  # and back: the slack tables and the column go
    with engine.connect() as connection:
        names = set(sa.inspect(connection).get_table_names())
        assert not names & SLACK_TABLES
        columns = {c["name"] for c in sa.inspect(connection).get_columns("workspace")}
        assert "deactivated_at" not in columns
    engine.dispose()


# ------------------------------------------------------------------------------ job and CLI


def test_the_daily_purge_job_is_persisted_once_and_runs_the_purge(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ladder.db'}")
    upgrade(engine)
    purges: list[str] = []

    class Idle:
        def run(self) -> None:
            pass

    for _restart in range(2):
        scheduler = scheduler_module.configure(
            engine,
            Idle(),  # type: ignore[arg-type]
            purge=lambda: purges.append("purged"),
        )
        scheduler.start(paused=True)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {scheduler_module.TICK_JOB_ID, scheduler_module.PURGE_JOB_ID}
        trigger = jobs[scheduler_module.PURGE_JOB_ID].trigger
        assert str(trigger) == "cron[hour='4', minute='0']"
        scheduler.shutdown(wait=False)
    jobs[scheduler_module.PURGE_JOB_ID].func()  # what APScheduler calls at 04:00 UTC
    assert purges == ["purged"]
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id FROM apscheduler_jobs ORDER BY id")).all()
    assert rows == [(scheduler_module.TICK_JOB_ID,), (scheduler_module.PURGE_JOB_ID,)]
    engine.dispose()


def test_purge_command_dry_run_and_real(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ladder.db'}"
    engine = make_engine(url)
    upgrade(engine)
    fill_workspace(engine, GONE)
    fill_workspace(engine, KEPT)
    deactivate(engine, GONE, datetime.now(UTC) - timedelta(days=8))
    engine.dispose()

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "purge", *args],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "DATABASE_URL": url, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    nothing = run()  # 8 days < the default 30
    assert nothing.returncode == 0, nothing.stderr
    assert nothing.stdout.splitlines() == ["nothing to purge"]
    dry = run("--dry-run", LADDER_RETENTION_DAYS="7")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"{GONE}: would delete ")
    refused = run("--workspace", KEPT)
    assert refused.returncode == 1 and "is active" in refused.stderr
    done = run("--workspace", GONE)
    assert done.returncode == 0 and done.stdout.startswith(f"{GONE}: deleted "), done.stderr
    engine = make_engine(url)
    assert set(rows_by_table(engine, GONE).values()) == {0}
    assert rows_by_table(engine, KEPT)["objective"] == 2
    engine.dispose()
