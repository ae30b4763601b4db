"""Issue #18 over signed HTTP: a KR with no check-in for two check-in periods shows 💤 no recent
data with its reason, on status, mine and Home; status and Home carry one line of alignment
health, each gap named only while it is there.

The test clock starts on Mon Feb 16 2026, 09:00 UTC; the reference company is written then.
"""

from __future__ import annotations

import json
from datetime import date

from sqlmodel import Session, select

from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from storage.checkins import record_check_in
from storage.cycles import create_cycle
from storage.models import KeyResult
from storage.objectives import align_objective, create_objective
from storage.teams import create_team, link_channel
from storage.workspaces import update_workspace
from tests.factories import reference_company
from tests.slack.conftest import ACME, CEO, DEV, Ladder
from tests.slack.test_surfaces import ask, readable, seed

STALE_LINE = "💤 no check-in since Feb 16"


def home_text(ladder: Ladder, user: str, count: int) -> str:
    assert ladder.acme.app_home_opened(user_id=user).status_code == 200
    published = ladder.standin.wait_for("views.publish", count=count)
    return json.dumps(published[-1].args["view"], ensure_ascii=False)


def _checked_in_company(ladder: Ladder) -> int:
    """The reference company, its users KR checked in once (on Feb 16); returns that KR's id."""

    def build(session: Session) -> int:
        reference_company(session, workspace_id=ACME, owner_id=CEO, now=ladder.clock.now)
        users = session.exec(
            select(KeyResult).where(KeyResult.title.startswith("Achieve 1 million"))  # type: ignore[attr-defined]
        ).one()
        record_check_in(
            session=session,
            workspace_id=ACME,
            key_result_id=users.id,  # type: ignore[arg-type]
            author_id=CEO,
            value=20_000.0,
            period_start=ladder.clock.now.date(),
            now=ladder.clock.now,
        )
        return users.id  # type: ignore[return-value]

    return seed(ladder, build)


def test_a_kr_quiet_for_two_weeks_has_no_recent_data_on_status_mine_and_home(
    ladder: Ladder,
) -> None:
    _checked_in_company(ladder)
    ladder.clock.advance(days=13)  # Mar 1: one day short of two weekly periods
    status = ask(ladder, ladder.acme, "status all", user=CEO)
    assert "💤" not in readable(status) and "no recent data" not in status.text

    ladder.clock.advance(days=1)  # Mar 2: two periods without a check-in
    status = ask(ladder, ladder.acme, "status all", user=CEO)
    text = readable(status)
    kr_line = next(line for line in text.splitlines() if "Achieve 1 million" in line)
    assert STALE_LINE in kr_line and "🟢" not in kr_line
    # Its objective has no other started KR: it has no recent data either, with the reason.
    assert "💤 no recent data · " in text and "no check-in since Feb 16" in text
    # The summary counts it apart from on track; Support's KRs, never checked in since they
    # were set on Feb 16, are as quiet: both objectives count.
    assert "💤 2 no recent data" in text
    assert "on track" not in text.splitlines()[0]  # a zero count is left out

    mine = readable(ask(ladder, ladder.acme, "mine", user=CEO))
    assert STALE_LINE in mine

    home = home_text(ladder, CEO, count=1)
    assert STALE_LINE in home

    # Every two weeks, two periods are 28 days: the same KR has news again until Mar 16.
    seed(
        ladder,
        lambda s: update_workspace(session=s, workspace_id=ACME, checkin_cadence_weeks=2),
    )
    status = ask(ladder, ladder.acme, "status all", user=CEO)
    assert "💤" not in readable(status)
    ladder.clock.advance(days=14)
    assert STALE_LINE in readable(ask(ladder, ladder.acme, "status all", user=CEO))


def test_status_and_home_carry_one_line_of_alignment_health(ladder: Ladder) -> None:
    def build(session: Session) -> tuple[int, int]:
        company = reference_company(session, workspace_id=ACME, owner_id=CEO, now=ladder.clock.now)
        platform = create_team(session=session, workspace_id=ACME, name="Platform")
        link_channel(session=session, workspace_id=ACME, team_id=platform.id, channel_id="C0PLAT")  # type: ignore[arg-type]
        spec = KRSpec("Cut p95 latency", KRKind.DECREASE, 200, start_value=400, unit_label="ms")
        aligned = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=company.cycle.id,  # type: ignore[arg-type]
            owner_id=DEV,
            title="Make the platform fast",
            team_id=platform.id,
            parent_id=company.platform.id,
            key_results=[spec],
            now=ladder.clock.now,
        )
        orphan = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=company.cycle.id,  # type: ignore[arg-type]
            owner_id=DEV,
            title="Tidy the build",
            team_id=platform.id,
            key_results=[spec],
            now=ladder.clock.now,
        )
        return orphan.id, aligned.id  # type: ignore[return-value]

    orphan, _aligned = seed(ladder, build)

    def line(post_text: str) -> str:
        return next(x for x in post_text.splitlines() if x.startswith("🪜"))

    everyone = line(readable(ask(ladder, ladder.acme, "status all", user=CEO)))
    assert everyone.startswith("🪜 3 of 4 objectives (75%) ladder up to a company objective")
    assert "1 orphan" in everyone
    assert "without a why" not in everyone  # the reference company's say why they matter
    assert "stale" not in everyone and "without key results" not in everyone
    assert everyone.endswith("details: `/okr health`")

    team = line(readable(ask(ladder, ladder.acme, "status", user=DEV, channel="C0PLAT")))
    assert team.startswith("🪜 1 of 2 objectives (50%)") and "1 orphan" in team
    assert "without a why" not in team  # no company objective in the team's view

    home = home_text(ladder, CEO, count=1)
    assert "🪜 3 of 4 objectives (75%)" in home and "1 orphan" in home

    # Aligned: the orphan is no longer named anywhere.
    seed(
        ladder,
        lambda s: align_objective(
            session=s,
            workspace_id=ACME,
            objective_id=orphan,
            parent_id=_company_objective(s),
        ),
    )
    everyone = line(readable(ask(ladder, ladder.acme, "status all", user=CEO)))
    assert everyone.startswith("🪜 4 of 4 objectives (100%)") and "orphan" not in everyone
    home = home_text(ladder, CEO, count=2)
    assert "🪜 4 of 4 objectives (100%)" in home and "orphan" not in home

    # A company objective whose why is cleared is counted, until it says why again.
    def clear_why(s: Session) -> None:
        from storage.models import Objective

        objective = s.get(Objective, _company_objective(s))
        assert objective is not None
        objective.description = ""
        s.add(objective)

    seed(ladder, clear_why)
    everyone = line(readable(ask(ladder, ladder.acme, "status all", user=CEO)))
    assert "1 company objective without a why" in everyone

    # Two weeks on, nobody has checked in: every KR is stale (written two periods ago).
    ladder.clock.advance(days=14)
    everyone = line(readable(ask(ladder, ladder.acme, "status all", user=CEO)))
    assert "7 stale KRs" in everyone, everyone  # the reference company's five, the team's two


def test_the_health_line_counts_stale_the_krs_status_shows_quiet(ladder: Ladder) -> None:
    """One rule: a KR never checked in is not started for two periods after it was set (or
    after its cycle began, when it was set while planning), then quiet on status and stale on
    the health line on the same day."""

    def build(session: Session) -> None:
        reference_company(session, workspace_id=ACME, owner_id=CEO, now=ladder.clock.now)
        next_quarter = create_cycle(
            session=session,
            workspace_id=ACME,
            name="Q2",
            start_date=date(2026, 3, 9),
            end_date=date(2026, 6, 8),
        )
        create_objective(  # written while planning: its quiet counts from Mar 9
            session=session,
            workspace_id=ACME,
            cycle_id=next_quarter.id,  # type: ignore[arg-type]
            owner_id=CEO,
            title="Plan ahead",
            description="The mission, next quarter.",
            key_results=[KRSpec("Ship the plan", KRKind.MILESTONE, 1)],
            now=ladder.clock.now,
        )

    seed(ladder, build)

    def quiet_and_line() -> tuple[list[str], str]:
        text = readable(ask(ladder, ladder.acme, "status all", user=CEO))
        krs = [x for x in text.splitlines() if x.strip().startswith("•")]
        assert len(krs) == 6, text  # the reference company's five, the plan's one
        line = next(x for x in text.splitlines() if x.startswith("🪜"))
        return [x for x in krs if "💤" in x], line

    ladder.clock.advance(days=13)  # Mar 1: written 13 days ago
    quiet, line = quiet_and_line()
    assert quiet == [] and "stale" not in line, line
    ladder.clock.advance(days=1)  # Mar 2: two weekly periods since they were set
    quiet, line = quiet_and_line()
    assert len(quiet) == 5 and "5 stale KRs" in line, (quiet, line)
    assert all("💤 no check-in since it was set on Feb 16" in x for x in quiet)
    assert not any("Ship the plan" in x for x in quiet)
    ladder.clock.advance(days=20)  # Mar 22: the plan's cycle began 13 days ago
    quiet, line = quiet_and_line()
    assert len(quiet) == 5 and "5 stale KRs" in line, (quiet, line)
    ladder.clock.advance(days=1)  # Mar 23
    quiet, line = quiet_and_line()
    assert len(quiet) == 6 and "6 stale KRs" in line, (quiet, line)
    [plan] = [x for x in quiet if "Ship the plan" in x]
    assert "💤 no check-in since its cycle began on Mar 9" in plan


def _company_objective(session: Session) -> int:
    from storage.models import Objective

    found = session.exec(
        select(Objective.id).where(
            Objective.workspace_id == ACME,
            Objective.team_id.is_(None),  # type: ignore[union-attr]
        )
    ).first()
    assert found is not None
    return found
