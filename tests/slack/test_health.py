"""`/okr health` over signed HTTP: the gaps of the company's or a team's alignment, with fixes."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from bot.blocks.tree import ALIGN_OBJECTIVE_ACTION, CHECKIN_OBJECTIVE_ACTION
from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from storage.models import Objective
from storage.objectives import create_objective
from tests.factories import reference_company
from tests.slack.conftest import ACME, CEO, DEV, EVE, Ladder
from tests.slack.test_surfaces import ask, click, mobile_team, readable, seed, shown

# The KRs were written six weeks before the test clock (2026-02-16) and never checked in.
WRITTEN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def company_and_platform(ladder: Ladder) -> dict[str, int]:
    def build(s: Session) -> dict[str, int]:
        company = reference_company(s, workspace_id=ACME, owner_id=CEO, now=WRITTEN)
        for o in (company.platform, company.support):  # neither says its why
            o.description = ""
            s.add(o)
        mobile_team(s, company)  # "Ship the mobile app" under the platform; one orphan
        return {o.title: o.id for o in s.exec(select(Objective)).all()}  # type: ignore[misc]

    return seed(ladder, build)


def buttons(post_blocks: list[dict] | None) -> dict[str, str]:
    return {
        e["action_id"]: e["text"]["text"]
        for b in post_blocks or []
        if b["type"] == "actions"
        for e in b["elements"]
    }


def test_the_company_report_counts_every_gap_and_offers_the_fix(ladder: Ladder) -> None:
    ids = company_and_platform(ladder)
    post = ask(ladder, ladder.acme, "health all", user=DEV)
    assert post.response_type in (None, "ephemeral")  # a to-do list, for the asker only
    text = readable(post)
    assert post.blocks is not None
    assert post.blocks[0]["text"]["text"] == "Alignment health · the company"
    # 4 objectives; the orphan "Make the app dependable" is the one that does not ladder up
    assert (
        "3 of 4 objectives (75%) ladder up to a company objective · 1 orphan (1 team) · "
        "2 company objectives without a why" in text
    )
    # the mobile app's KR was created on the test clock's day by mobile_team: not stale;
    # the reference company's five KRs, six weeks without a check-in, are
    assert "5 stale KRs" in text
    # the orphan comes first, with the button that fixes it
    first = text.index("Make the app dependable")
    assert first < text.index("Launch a new communication platform")
    assert "Ladders up to nothing" in text
    found = buttons(post.blocks)
    assert found[f"{ALIGN_OBJECTIVE_ACTION}:{ids['Make the app dependable']}"] == "🪜 Align"
    assert found[f"{CHECKIN_OBJECTIVE_ACTION}:{ids['Enhance customer support']}"] == "✅ Check in"
    assert f"{ALIGN_OBJECTIVE_ACTION}:{ids['Ship the mobile app']}" not in found

    # The owner clicks Align: the align dialog opens for that objective.
    click(
        ladder,
        ladder.acme,
        post,
        f"{ALIGN_OBJECTIVE_ACTION}:{ids['Make the app dependable']}",
        user=EVE,
        value=str(ids["Make the app dependable"]),
    )
    [opened] = ladder.standin.wait_for("views.open")
    assert opened.ok, opened.response
    assert "Make the app dependable" in str(opened.args["view"])


def test_a_team_report_follows_its_chain_through_the_company(ladder: Ladder) -> None:
    company_and_platform(ladder)
    for post in (
        ask(ladder, ladder.acme, "health", user=DEV, channel="C0PLAT"),  # the channel's team
        ask(ladder, ladder.acme, "health platform", user=DEV, channel="C0RANDOM"),
    ):
        text = readable(post)
        assert post.blocks is not None
        assert post.blocks[0]["text"]["text"] == "Alignment health · Platform"
        assert "1 of 2 objectives (50%) ladder up" in text
        assert "1 orphan" in text and "without a why" not in text
        assert "Launch a new communication platform" not in shown(post)


def test_healthy_objectives_say_so_and_unknown_teams_are_named(ladder: Ladder) -> None:
    def build(s: Session) -> None:
        company = reference_company(
            s, workspace_id=ACME, owner_id=CEO, now=datetime(2026, 2, 15, tzinfo=UTC)
        )
        for o in (company.platform, company.support):
            o.description = "Serves the mission: technology that transforms lives."
            s.add(o)

    seed(ladder, build)
    text = readable(ask(ladder, ladder.acme, "health", user=DEV, channel="C0RANDOM"))
    assert "2 of 2 objectives (100%) ladder up to a company objective · no gaps" in text
    assert "Every objective ladders up" in text

    text = readable(ask(ladder, ladder.acme, "health Nonexistent", user=DEV))
    assert "No team called “Nonexistent”" in text


def test_titles_are_escaped_and_too_many_krs_is_flagged(ladder: Ladder) -> None:
    def build(s: Session) -> None:
        company = reference_company(
            s, workspace_id=ACME, owner_id=CEO, now=datetime(2026, 2, 15, tzinfo=UTC)
        )
        create_objective(
            session=s,
            workspace_id=ACME,
            cycle_id=company.cycle.id,
            owner_id=DEV,
            parent_id=company.platform.id,
            title="<!channel> Everything at once",
            description="why not",
            key_results=[
                KRSpec(f"Grow metric {i} from 1 to 2", KRKind.INCREASE, 2, start_value=1)
                for i in range(7)
            ],
            now=datetime(2026, 2, 15, tzinfo=UTC),
        )

    seed(ladder, build)
    post = ask(ladder, ladder.acme, "health all", user=DEV)
    text = readable(post)
    assert "&lt;!channel&gt; Everything at once" in text and "<!channel>" not in text
    assert "7 key results: keep the five that matter most" in text
