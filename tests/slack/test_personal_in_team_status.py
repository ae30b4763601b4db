"""Issue #18 over signed HTTP: a personal objective (no team) aligned under a team's objective
shows in that team's `/okr status`, under its parent, and counts in the team's alignment line;
not in another team's; it moves when it is aligned elsewhere. The line's counts are the pure
module's (bot/okr/alignment.py) for the objectives the status shows.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.okr.alignment import Gap
from bot.okr.kinds import KRKind, Level
from bot.okr.validate import KRSpec
from bot.services.alignment import check_in_period, report_of
from storage.objectives import align_objective, create_objective
from storage.teams import create_team, link_channel
from storage.tree import load_tree
from tests.factories import reference_company
from tests.slack.conftest import ACME, CEO, DEV, Ladder
from tests.slack.test_surfaces import ask, readable, seed


def _line(text: str) -> str:
    return next(x for x in text.splitlines() if x.startswith("🪜"))


def _shown(text: str, title: str) -> bool:
    return any(title in line for line in text.splitlines())


def test_a_personal_objective_shows_and_counts_in_its_parents_team(ladder: Ladder) -> None:
    spec = KRSpec("Cut p95 latency", KRKind.DECREASE, 200, start_value=400, unit_label="ms")

    def build(session: Session) -> dict[str, int]:
        company = reference_company(session, workspace_id=ACME, owner_id=CEO, now=ladder.clock.now)
        ids: dict[str, int] = {}
        for name, channel in (("Platform", "C0PLAT"), ("Data", "C0DATA")):
            team = create_team(session=session, workspace_id=ACME, name=name)
            link_channel(session=session, workspace_id=ACME, team_id=team.id, channel_id=channel)  # type: ignore[arg-type]
            ids[name] = create_objective(
                session=session,
                workspace_id=ACME,
                cycle_id=company.cycle.id,  # type: ignore[arg-type]
                owner_id=DEV,
                title=f"{name} objective",
                team_id=team.id,
                parent_id=company.platform.id,
                key_results=[spec],
                now=ladder.clock.now,
            ).id  # type: ignore[assignment]
        ids["mine"] = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=company.cycle.id,  # type: ignore[arg-type]
            owner_id=DEV,
            title="My own latency work",
            parent_id=ids["Platform"],
            level=Level.PERSONAL,
            now=ladder.clock.now,  # no KRs: a gap the team's line names
        ).id  # type: ignore[assignment]
        # A person's objective under another person's: the chain still reaches the team's.
        ids["below"] = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=company.cycle.id,  # type: ignore[arg-type]
            owner_id=CEO,
            title="Profile the hot path",
            parent_id=ids["mine"],
            level=Level.PERSONAL,
            key_results=[spec],
            now=ladder.clock.now,
        ).id  # type: ignore[assignment]
        return ids

    ids = seed(ladder, build)

    def status(channel: str) -> str:
        return readable(ask(ladder, ladder.acme, "status", user=DEV, channel=channel))

    def pure_line(team: str) -> tuple[int, int, int]:
        """(objectives, laddered, without KRs) of the pure module for the team's objectives,
        their chain followed from the rows (not the stored effective team)."""
        with Session(ladder.engine) as session:
            whole = load_tree(session=session, workspace_id=ACME, today=ladder.clock.now.date())
            rows = {o.id: o for o in whole.objectives}

            def in_team(oid: int | None) -> bool:
                while oid is not None and oid in rows:
                    if oid == ids[team]:
                        return True
                    if rows[oid].level != Level.PERSONAL or rows[oid].team_id is not None:
                        return False
                    oid = rows[oid].parent_id
                return False

            within = [o.id for o in whole.objectives if in_team(o.id)]
            period = check_in_period(whole.workspace.checkin_cadence_weeks)
            pure = report_of(whole, scope=team, within=within, now=ladder.clock.now, period=period)
        return pure.objectives, pure.laddered, pure.counts.get(Gap.NO_KRS, 0)

    def counted(text: str, team: str) -> None:
        """The team's line and headline count what the pure module counts."""
        objectives, laddered, no_krs = pure_line(team)
        line = _line(text)
        share = round(100 * laddered / objectives)
        assert line.startswith(f"🪜 {laddered} of {objectives} objectives ({share}%)"), line
        plural = "objective" if objectives == 1 else "objectives"
        assert text.startswith(f"*{objectives} {plural} · "), text
        if no_krs:
            assert f"· {no_krs} objective without key results ·" in line, line
        else:
            assert "without key results" not in line and "no gaps" in line, line

    platform, data = status("C0PLAT"), status("C0DATA")
    lines = platform.splitlines()
    parent = next(i for i, x in enumerate(lines) if x == "*Platform objective*")
    assert lines[parent + 3] == "\u2003↳ *My own latency work*"  # under its parent
    assert lines[parent + 5] == "\u2003\u2003↳ *Profile the hot path*"  # and the one under it
    assert not _shown(data, "My own latency work") and not _shown(data, "Profile the hot path")
    assert pure_line("Platform") == (3, 3, 1)
    counted(platform, "Platform")
    assert pure_line("Data") == (1, 1, 0)
    counted(data, "Data")

    # Re-aligned under the Data team's objective: both move, with their counts.
    seed(
        ladder,
        lambda s: align_objective(
            session=s, workspace_id=ACME, objective_id=ids["mine"], parent_id=ids["Data"]
        ),
    )
    platform, data = status("C0PLAT"), status("C0DATA")
    for title in ("My own latency work", "Profile the hot path"):
        assert not _shown(platform, title) and _shown(data, title)
    lines = data.splitlines()
    parent = next(i for i, x in enumerate(lines) if x == "*Data objective*")
    assert lines[parent + 3] == "\u2003↳ *My own latency work*"
    assert pure_line("Platform") == (1, 1, 0)
    counted(platform, "Platform")
    assert pure_line("Data") == (3, 3, 1)
    counted(data, "Data")

    # Aligned to nothing: an orphan of no team, in neither team's status.
    seed(
        ladder,
        lambda s: align_objective(
            session=s, workspace_id=ACME, objective_id=ids["mine"], parent_id=None
        ),
    )
    platform, data = status("C0PLAT"), status("C0DATA")
    for text in (platform, data):
        assert not _shown(text, "My own latency work") and not _shown(text, "Profile the hot path")
    assert pure_line("Data") == (1, 1, 0)
    counted(data, "Data")
    everyone = _line(readable(ask(ladder, ladder.acme, "status all", user=CEO)))
    assert "1 orphan" in everyone, everyone
