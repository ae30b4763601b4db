"""`python -m bot schedule`: next prompt and digest times per workspace and per person."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from bot.services.schedule_report import schedule_lines
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import OutboxMessage
from storage.people import SlackProfile, save_profiles, set_away
from storage.teams import create_team, link_channel
from storage.workspaces import update_workspace
from tests.factories import reference_company

REPO = Path(__file__).resolve().parents[2]
WEDNESDAY = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _company(session: Session, *, with_channels: bool = True) -> None:
    reference_company(session, workspace_id="T0REF", owner_id="U0CEO", now=WEDNESDAY)
    update_workspace(
        session=session,
        workspace_id="T0REF",
        default_timezone="America/New_York",
        checkin_time=time(9, 30),
        digest_weekday=4,
    )
    if with_channels:
        team = create_team(session=session, workspace_id="T0REF", name="Platform")
        link_channel(session=session, workspace_id="T0REF", team_id=team.id, channel_id="C0PLAT")  # type: ignore[arg-type]
        update_workspace(session=session, workspace_id="T0REF", digest_channel="C0ALL")
    save_profiles(
        session=session,
        workspace_id="T0REF",
        profiles=[SlackProfile("U0CEO", "Asia/Tokyo")],
        now=WEDNESDAY,
    )
    session.commit()


def test_prompts_and_digests_per_workspace(engine: Engine) -> None:
    with Session(engine) as session:
        _company(session)
    lines = list(schedule_lines(engine, now=WEDNESDAY))
    assert lines[0] == "T0REF Acme Tech"
    assert lines[1] == (
        "  prompts: Monday 09:30 in each person's timezone, every week; "
        "next in America/New_York: 2026-11-30 14:30 UTC"
    )
    assert lines[2] == (
        "  digests: Friday 09:30 America/New_York; next 2026-11-27 14:30 UTC to "
        "C0ALL (whole company), C0PLAT (Platform)"
    )
    assert len(lines) == 3  # no per-person lines unless asked


def test_a_period_whose_digest_went_out_moves_the_next_digest_on(engine: Engine) -> None:
    with Session(engine) as session:
        _company(session)
        session.add(
            OutboxMessage(
                workspace_id="T0REF",
                recipient="C0PLAT",
                period_start=date(2026, 11, 23),
                kind="digest",
                due_at=WEDNESDAY,
            )
        )
        session.commit()
    [digests] = [line for line in schedule_lines(engine, now=WEDNESDAY) if "digests" in line]
    assert "next 2026-12-04 14:30 UTC" in digests


def test_without_channels_the_report_says_no_digests(engine: Engine) -> None:
    with Session(engine) as session:
        _company(session, with_channels=False)
    lines = list(schedule_lines(engine, now=WEDNESDAY))
    assert lines[2] == "  digests: none (no channel linked to a team, no digest channel set)"


def test_per_person_prompts_are_in_their_own_timezone(engine: Engine) -> None:
    with Session(engine) as session:
        _company(session)
        set_away(session=session, workspace_id="T0REF", user_id="U0CEO", until=date(2026, 12, 2))
        session.commit()
    lines = list(schedule_lines(engine, now=WEDNESDAY, per_user=True))
    # Monday 09:30 in Tokyo is Monday 00:30 UTC.
    assert lines[3:] == ["  U0CEO [Asia/Tokyo]: 2026-11-30 00:30 UTC (away until 2026-12-02)"]


def test_the_cli_prints_the_schedule(tmp_path: Path) -> None:
    db = tmp_path / "ladder.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with Session(engine) as session:
        _company(session)
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LADDER_"))}
    env.update(DATABASE_URL=f"sqlite:///{db}", PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "bot", "schedule", "--users", "--workspace", "T0REF"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == "T0REF Acme Tech"
    assert any(line.startswith("  digests: Friday 09:30") for line in out)
    assert "  U0CEO [Asia/Tokyo]: " in done.stdout
