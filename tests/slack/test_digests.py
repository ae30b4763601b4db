"""Channel digests, end to end: planned on the digest day, posted once per channel.

Acme's default timezone is New York; digests go out on Friday at 10:00 there. The Platform
team's channel gets the team's digest; the workspace's digest channel gets the company's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.app import make_client
from bot.jobs.sender import METADATA_EVENT, Sender
from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from bot.services.delivery import DeliveryService
from storage.checkins import record_check_in
from storage.history import check_ins_in_period, latest_check_ins_before
from storage.models import KeyResult, Objective, OutboxMessage, OutboxState
from storage.objectives import create_objective
from storage.teams import create_team, link_channel
from storage.workspaces import update_workspace
from tests.factories import reference_company
from tests.slack.conftest import ACME, CEO, DEV, EVE, Ladder

PLATFORM_CHANNEL, EMPTY_CHANNEL, COMPANY_CHANNEL = "C0PLATFORM", "C0EMPTY", "C0ALL"
LAST_WEEK, THIS_WEEK = date(2026, 2, 9), date(2026, 2, 16)
FRIDAY = date(2026, 2, 20)  # 10:00 in New York (EST) is 15:00 UTC
BLOCKER = "Waiting for the load balancer <!channel>"


def at_utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture
def company(ladder: Ladder) -> dict[str, int]:
    """The reference company; its platform objective and two more belong to Platform.

    Written on the cycle's first day (Jan 5), so pace counts from then. The CEO's check-ins
    carry one blocker, typed once, on all three platform KRs (as the check-in modal does).
    """
    created = at_utc(date(2026, 1, 5), 12)
    with Session(ladder.engine, expire_on_commit=False) as session:
        ref = reference_company(session, workspace_id=ACME, owner_id=CEO, now=created)
        update_workspace(
            session=session,
            workspace_id=ACME,
            default_timezone="America/New_York",
            digest_weekday=4,
            checkin_time=time(10, 0),
            digest_channel=COMPANY_CHANNEL,
        )
        team = create_team(session=session, workspace_id=ACME, name="Platform")
        link_channel(
            session=session, workspace_id=ACME, team_id=team.id, channel_id=PLATFORM_CHANNEL
        )
        empty = create_team(session=session, workspace_id=ACME, name="Empty")
        link_channel(session=session, workspace_id=ACME, team_id=empty.id, channel_id=EMPTY_CHANNEL)
        platform = session.get(Objective, ref.platform.id)
        platform.team_id = team.id
        platform.level = "team"  # Platform's own now, no longer the company's
        session.add(platform)
        for user, title in ((DEV, "Ship the API"), (EVE, "Harden the API")):
            create_objective(
                session=session,
                workspace_id=ACME,
                cycle_id=ref.cycle.id,
                owner_id=user,
                team_id=team.id,
                title=title,
                key_results=[KRSpec(f"{title}: milestone", KRKind.MILESTONE, 1)],
                now=created,
            )
        users, engagement, latency = session.exec(
            select(KeyResult)
            .where(KeyResult.objective_id == ref.platform.id)
            .order_by(KeyResult.position)
        ).all()
        # Last week: 10%, 25%, 20% -> 18%. This week: 25%, 8%, 40% -> 24%; engagement slips.
        for kr, before, now in (
            (users, 100_000, 250_000),
            (engagement, 43, 41),
            (latency, 220, 190),
        ):
            for period, value, blocker in ((LAST_WEEK, before, ""), (THIS_WEEK, now, BLOCKER)):
                record_check_in(
                    session=session,
                    workspace_id=ACME,
                    key_result_id=kr.id,
                    author_id=CEO,
                    value=value,
                    period_start=period,
                    now=at_utc(period + timedelta(days=1), 15),
                    blocker=blocker,
                )
        session.commit()
        return {"team": team.id, "platform": ref.platform.id}


def sender(ladder: Ladder) -> Sender:
    client = make_client(ladder.settings)
    return Sender(DeliveryService(ladder.engine, clock=ladder.clock), lambda _ws: client)


def posts_to(ladder: Ladder, channel: str) -> list[Any]:
    return [c for c in ladder.standin.calls("chat.postMessage") if c.args.get("channel") == channel]


def digests(ladder: Ladder) -> list[OutboxMessage]:
    with Session(ladder.engine) as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "digest")
                .order_by(OutboxMessage.id)
            ).all()
        )


def set_workspace(ladder: Ladder, **changes: Any) -> None:
    with Session(ladder.engine) as session:
        update_workspace(session=session, workspace_id=ACME, **changes)
        session.commit()


def message_text(call: Any) -> str:
    """What Slack parses: the fallback and every mrkdwn text of the posted message."""
    message = call.response["message"]
    texts = [message.get("text", "")]
    for block in message["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts.extend(e.get("text", "") for e in block["elements"])
    return "\n".join(texts)


def test_one_digest_per_channel_on_the_digest_day(ladder: Ladder, company: dict[str, int]) -> None:
    run = sender(ladder)
    for moment in (at_utc(FRIDAY - timedelta(days=1), 15), at_utc(FRIDAY, 14, 59)):
        ladder.clock.now = moment  # Thursday at 10:00, Friday at 09:59 New York
        run.run()
        assert digests(ladder) == []
    ladder.clock.now = at_utc(FRIDAY, 15, 0)
    run.run()
    assert [len(posts_to(ladder, c)) for c in (PLATFORM_CHANNEL, COMPANY_CHANNEL)] == [1, 1]
    assert posts_to(ladder, EMPTY_CHANNEL) == []  # a team without objectives hears nothing
    for _ in range(3):  # later runs, and the rest of the day, send nothing twice
        ladder.clock.advance(hours=2)
        run.run()
    assert [len(posts_to(ladder, c)) for c in (PLATFORM_CHANNEL, COMPANY_CHANNEL)] == [1, 1]
    rows = digests(ladder)
    assert sorted(m.recipient for m in rows) == sorted([PLATFORM_CHANNEL, COMPANY_CHANNEL])
    assert {(m.state, m.period_start) for m in rows} == {(OutboxState.SENT, THIS_WEEK)}
    # Next Friday is the next period's digest.
    ladder.clock.now = at_utc(FRIDAY + timedelta(days=7), 15, 0)
    run.run()
    assert len(posts_to(ladder, PLATFORM_CHANNEL)) == 2


def test_team_digest_content(ladder: Ladder, company: dict[str, int]) -> None:
    ladder.clock.now = at_utc(FRIDAY, 15, 0)
    sender(ladder).run()
    [post] = posts_to(ladder, PLATFORM_CHANNEL)
    assert post.args["metadata"]["event_type"] == METADATA_EVENT
    [row] = [m for m in digests(ladder) if m.recipient == PLATFORM_CHANNEL]
    assert post.args["metadata"]["event_payload"] == {"outbox_id": row.id}
    text = message_text(post)
    # A status dot per objective; the one that moved comes first, the flat ones are counted.
    assert "🟡 *Launch a new communication platform* 18% → 24% (+6)" in text
    assert "Ship the API" not in text and "(±0)" not in text
    # Never checked in since Jan 5: quiet (no recent data), neutral, not red; the health
    # line below counts their two KRs stale alike.
    assert "➖ 2 objectives did not move · 💤 2 with no check-in for two periods" in text
    assert "*Increase user engagement by 30%* is now at risk (was on track)" in text
    assert "Reduce latency" not in text and "Achieve 1 million" not in text  # got better
    assert "Enhance customer support" not in text  # a company objective, not Platform's
    # Typed once in a three-KR check-in: shown once, attributed to its author, on no one KR.
    assert text.count("Waiting for the load balancer") == 1
    assert "• ceo: “Waiting for the load balancer &lt;!channel&gt;”\n" in text
    assert "1 blocker" in post.args["text"]
    assert "<!channel>" not in text
    # DEV and EVE, by name; CEO answered all.
    assert "2 people haven't checked in yet:* dev, eve" in text
    assert "<@" not in text  # mentions are off: nobody is pinged
    # The week's line of alignment health for Platform: its three objectives align to
    # nothing (the fixture never aligns them), and two KRs had no news for two weeks.
    [health] = [line for line in text.split("\n") if "ladder up" in line]
    assert health == (
        "🪜 0 of 3 objectives (0%) ladder up to a company objective · 3 orphans (3 team) · "
        "2 stale KRs · details: `/okr health`"
    )


def test_company_digest_covers_everything(ladder: Ladder, company: dict[str, int]) -> None:
    ladder.clock.now = at_utc(FRIDAY, 15, 0)
    sender(ladder).run()
    [post] = posts_to(ladder, COMPANY_CHANNEL)
    text = message_text(post)
    assert "OKR digest · Acme Tech" in str(post.args["blocks"])
    assert "🟡 *Launch a new communication platform* 18% → 24% (+6)" in text
    # Support and the two API ones, never checked in since Jan 5: quiet.
    assert "➖ 3 objectives did not move · 💤 3 with no check-in for two periods" in text
    # No answer all along: quiet, which is no slip (it used to read "off track").
    assert "Resolve 90% of customer inquiries" not in text
    assert "3 people haven't checked in yet:* ceo, dev, eve" in text  # CEO owes support KRs


def test_mentions_when_the_workspace_wants_them(ladder: Ladder, company: dict[str, int]) -> None:
    set_workspace(ladder, digest_mentions=True)
    ladder.clock.now = at_utc(FRIDAY, 15, 0)
    sender(ladder).run()
    text = message_text(posts_to(ladder, PLATFORM_CHANNEL)[0])
    assert f"2 people haven't checked in yet:* <@{DEV}>, <@{EVE}>" in text
    assert f"• <@{CEO}>: “Waiting for the load balancer &lt;!channel&gt;”\n" in text
    assert f"(was on track) · _Launch a new communication platform_ · <@{CEO}>" in text
    assert "dev, eve" not in text  # mentions instead of names


def test_digest_time_is_wall_clock_across_dst(ladder: Ladder, company: dict[str, int]) -> None:
    """New York is on EDT from March 8: 10:00 is then 14:00 UTC."""
    run = sender(ladder)
    friday = date(2026, 3, 13)
    ladder.clock.now = at_utc(friday, 13, 59)
    run.run()
    assert posts_to(ladder, PLATFORM_CHANNEL) == []
    ladder.clock.now = at_utc(friday, 14, 0)
    run.run()
    assert len(posts_to(ladder, PLATFORM_CHANNEL)) == 1
    assert {m.period_start for m in digests(ladder)} == {date(2026, 3, 9)}


def test_a_digest_is_not_posted_again_after_a_crash(
    ladder: Ladder, company: dict[str, int]
) -> None:
    run = sender(ladder)
    ladder.clock.now = at_utc(FRIDAY, 15, 0)
    run.run()
    # The sender died after Slack took the message but before the row was marked sent.
    with Session(ladder.engine) as session:
        for row in session.exec(select(OutboxMessage).where(OutboxMessage.kind == "digest")):
            row.state, row.claimed_at = OutboxState.SENDING, ladder.clock.now
            session.add(row)
        session.commit()
    ladder.clock.advance(minutes=5)
    report = run.run()
    assert report.recovered == 2 and report.sent == 0
    assert [len(posts_to(ladder, c)) for c in (PLATFORM_CHANNEL, COMPANY_CHANNEL)] == [1, 1]
    assert {m.state for m in digests(ladder)} == {OutboxState.SENT}


def test_a_channel_without_the_bot_fails_once(ladder: Ladder, company: dict[str, int]) -> None:
    ladder.standin.add_channel(ACME, PLATFORM_CHANNEL, is_member=False)
    run = sender(ladder)
    ladder.clock.now = at_utc(FRIDAY, 15, 0)
    run.run()
    ladder.clock.advance(minutes=5)
    run.run()
    assert len([c for c in posts_to(ladder, PLATFORM_CHANNEL) if not c.ok]) == 1
    [row] = [m for m in digests(ladder) if m.recipient == PLATFORM_CHANNEL]
    assert (row.state, row.error) == (OutboxState.FAILED, "not_in_channel")


def test_latest_check_ins_before_is_one_statement(session: Session, count_statements) -> None:  # type: ignore[no-untyped-def]
    reference_company(session, workspace_id=ACME, owner_id=CEO, now=at_utc(date(2026, 2, 2), 9))
    krs = session.exec(select(KeyResult).order_by(KeyResult.id)).all()
    weeks = [date(2026, 2, 2), LAST_WEEK, THIS_WEEK]
    for n, kr in enumerate(krs[:4]):
        for week in weeks[: n + 1]:  # KR 0 only in the first week, KR 3 in all three
            record_check_in(
                session=session,
                workspace_id=ACME,
                key_result_id=kr.id,
                author_id=CEO,
                value=float(week.day),
                confidence=n + 1,
                period_start=week,
                now=at_utc(week, 15),
            )
    session.commit()
    ids = [kr.id for kr in krs]
    with count_statements() as counter:
        found = latest_check_ins_before(
            session=session, workspace_id=ACME, key_result_ids=ids, before=THIS_WEEK
        )
    assert counter.count == 1
    assert {kr_id: (r.value, r.confidence, r.period_start) for kr_id, r in found.items()} == {
        ids[0]: (2.0, 1, date(2026, 2, 2)),
        ids[1]: (9.0, 2, LAST_WEEK),
        ids[2]: (9.0, 3, LAST_WEEK),  # this week's check-in is not "before"
        ids[3]: (9.0, 4, LAST_WEEK),
    }  # the fifth KR never checked in: absent
    with count_statements() as counter:
        assert (
            check_ins_in_period(
                session=session, workspace_id=ACME, key_result_ids=ids, period_start=THIS_WEEK
            )
            != []
        )
    assert counter.count == 1


def test_a_blocker_typed_once_in_the_modal_shows_once_in_the_digest(ladder: Ladder) -> None:
    """Over Slack's own path: the prompt, the check-in modal (how to answer said once, not
    under every KR), a blocker typed once for five KRs, then Friday's digest."""
    monday = THIS_WEEK
    ladder.clock.now = at_utc(date(2026, 1, 5), 12)
    with Session(ladder.engine, expire_on_commit=False) as session:
        reference_company(session, workspace_id=ACME, owner_id=CEO, now=ladder.clock.now)
        update_workspace(
            session=session,
            workspace_id=ACME,
            default_timezone="America/New_York",
            digest_weekday=4,
            checkin_time=time(10, 0),
            digest_channel=COMPANY_CHANNEL,
        )
        session.commit()
    ladder.clock.now = at_utc(monday, 15, 0)  # 10:00 in New York, the CEO's timezone
    run = sender(ladder)
    run.run()
    [prompt_call] = [
        c for c in ladder.standin.calls("chat.postMessage") if c.args["channel"] == CEO
    ]
    prompt = prompt_call.response["message"]
    ladder.acme.block_action(user_id=CEO, action_id="prompt_checkin", message=prompt)
    [opened] = ladder.standin.wait_for("views.open")
    view = opened.response["view"]
    hints = [b.get("hint", {}).get("text", "") for b in view["blocks"]]
    assert not any("nothing moved" in h for h in hints)  # no hint repeated under every KR
    assert str(view["blocks"]).count("leave the rest as it is") == 1
    with Session(ladder.engine) as session:
        krs = session.exec(
            select(KeyResult).where(KeyResult.owner_id == CEO).order_by(KeyResult.id)
        ).all()
    assert len(krs) == 5
    [value_input] = [b for b in view["blocks"] if b.get("block_id") == f"value:{krs[0].id}"]
    values = {
        f"value:{krs[0].id}": {value_input["element"]["action_id"]: "250k"},
        "blocker": {"blocker": BLOCKER},
    }
    ladder.clock.advance(minutes=5)
    answer = ladder.acme.view_submission(view, user_id=CEO, values=values)
    assert answer.status_code == 200 and answer.text == ""
    ladder.standin.wait_for("chat.update")

    ladder.clock.now = at_utc(FRIDAY, 15, 0)
    run.run()
    [post] = posts_to(ladder, COMPANY_CHANNEL)
    text = message_text(post)
    assert text.count("Waiting for the load balancer") == 1  # not once per KR
    assert "• ceo: “Waiting for the load balancer &lt;!channel&gt;”\n" in text
    assert "1 blocker" in post.args["text"]
    assert "Everyone has checked in" in text
    # First check-ins: one on pace is no slip; one six weeks behind is news, said as such
    # (before, never checked in since Jan 5, it had no recent data).
    assert "Achieve 1 million active users within six months* is now" not in text
    latency = "*Reduce latency to under 100 milliseconds* is now off track (was no recent data)"
    assert latency in text
