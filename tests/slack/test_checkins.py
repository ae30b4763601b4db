"""The weekly check-in loop, end to end: prompt DM -> Check in -> modal -> DM replaced.

The clock is the app's injected one; the stand-in plays Slack. People: CEO in New York,
DEV in Berlin, EVE in Tokyo; each is asked at 10:00 on Monday *their* time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.app import make_client
from bot.jobs.sender import METADATA_EVENT, Sender
from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from bot.services.delivery import DeliveryService
from storage.models import CheckIn, KeyResult, OutboxMessage, OutboxState, Workspace
from storage.objectives import create_objective
from tests.factories import reference_company
from tests.slack.conftest import ACME, CEO, DEV, EVE, Ladder
from tests.support.slack_standin import dm_channel_id

MONDAY = date(2026, 2, 16)


def at_utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture
def company(ladder: Ladder) -> dict[str, int]:
    """The reference company (CEO's KRs) plus one KR each for DEV and EVE."""
    ladder.clock.now = at_utc(MONDAY, 0) - timedelta(days=14)  # created well before
    with Session(ladder.engine, expire_on_commit=False) as session:
        ref = reference_company(session, workspace_id=ACME, owner_id=CEO, now=ladder.clock.now)
        ids = {}
        for user, title in ((DEV, "Ship the API"), (EVE, "Open the Tokyo office")):
            objective = create_objective(
                session=session,
                workspace_id=ACME,
                cycle_id=ref.cycle.id,
                owner_id=user,
                title=title,
                key_results=[KRSpec(f"{title}: milestone", KRKind.MILESTONE, 1)],
                now=ladder.clock.now,
            )
            ids[user] = objective.id
        session.commit()
    return ids


def sender(ladder: Ladder) -> Sender:
    client = make_client(ladder.settings)
    return Sender(DeliveryService(ladder.engine, clock=ladder.clock), lambda _ws: client)


def posts_to(ladder: Ladder, user: str) -> list[Any]:
    return [c for c in ladder.standin.calls("chat.postMessage") if c.args.get("channel") == user]


def outbox(ladder: Ladder) -> list[OutboxMessage]:
    with Session(ladder.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def recipients(ladder: Ladder, since: int = 0) -> list[str]:
    return [c.args["channel"] for c in ladder.standin.calls("chat.postMessage")[since:]]


def test_each_person_is_asked_at_ten_their_time(ladder: Ladder, company: dict[str, int]) -> None:
    run = sender(ladder)
    ladder.clock.now = at_utc(MONDAY, 0, 59)  # 09:59 in Tokyo
    assert run.run().sent == 0
    ladder.clock.now = at_utc(MONDAY, 1, 0)  # 10:00 Tokyo; 02:00 Berlin; 20:00 Sunday NY
    run.run()
    assert recipients(ladder) == [EVE]
    ladder.clock.now = at_utc(MONDAY, 8, 59)
    run.run()
    assert recipients(ladder) == [EVE]
    ladder.clock.now = at_utc(MONDAY, 9, 0)  # 10:00 Berlin
    run.run()
    assert recipients(ladder) == [EVE, DEV]
    ladder.clock.now = at_utc(MONDAY, 15, 0)  # 10:00 New York
    run.run()
    assert recipients(ladder) == [EVE, DEV, CEO]
    # Running again, or "send now", sends nothing twice.
    assert run.run().sent == 0
    assert run.run(force=True).sent == 0
    sent = [m for m in outbox(ladder) if m.state == OutboxState.SENT]
    assert sorted(m.recipient for m in sent) == sorted([CEO, DEV, EVE])
    assert {m.period_start for m in sent} == {MONDAY}
    # At 01:00 UTC it was still Sunday evening in New York: last week's prompt for CEO was
    # due but could only have gone out on Monday, in the next period. It was dropped.
    [dropped] = [m for m in outbox(ladder) if m.state != OutboxState.SENT]
    assert (dropped.recipient, dropped.state, dropped.error) == (
        CEO,
        OutboxState.SKIPPED,
        "period over",
    )


def test_a_missed_prompt_waits_for_the_morning(ladder: Ladder, company: dict[str, int]) -> None:
    """The bot was down at 10:00 New York; it comes back at 23:00 there."""
    run = sender(ladder)
    ladder.clock.now = at_utc(MONDAY + timedelta(days=1), 4, 0)  # Mon 23:00 NY
    run.run()
    assert CEO not in recipients(ladder)
    ladder.clock.now = at_utc(MONDAY + timedelta(days=1), 13, 59)  # Tue 08:59 NY
    run.run()
    assert CEO not in recipients(ladder)
    ladder.clock.now = at_utc(MONDAY + timedelta(days=1), 14, 0)  # Tue 09:00 NY
    run.run()
    assert recipients(ladder).count(CEO) == 1


def test_prompt_check_in_modal_replaces_the_dm(ladder: Ladder, company: dict[str, int]) -> None:
    ladder.clock.now = at_utc(MONDAY, 15, 0)
    sender(ladder).run()
    [prompt_call] = posts_to(ladder, CEO)
    prompt = prompt_call.response["message"]
    assert prompt_call.args["metadata"]["event_type"] == METADATA_EVENT
    text = str(prompt["blocks"])
    assert "Launch a new communication platform" in text and "Enhance customer support" in text
    assert "No change this week" in text and "Check in" in text

    # One click opens one modal for all five KRs.
    ladder.acme.block_action(user_id=CEO, action_id="prompt_checkin", message=prompt)
    [opened] = ladder.standin.wait_for("views.open")
    view = opened.response["view"]
    with Session(ladder.engine) as session:
        krs = session.exec(
            select(KeyResult).where(KeyResult.owner_id == CEO).order_by(KeyResult.id)
        ).all()
    value_blocks = [b["block_id"] for b in view["blocks"] if b["block_id"].startswith("value:")]
    assert value_blocks == [f"value:{kr.id}" for kr in krs]

    users, engagement = krs[0], krs[1]
    values = {
        f"value:{users.id}": {next(iter(_actions(view, f"value:{users.id}"))): "250k"},
        f"value:{engagement.id}": {next(iter(_actions(view, f"value:{engagement.id}"))): "44"},
        f"confidence:{users.id}": {next(iter(_actions(view, f"confidence:{users.id}"))): "7"},
        "blocker": {"blocker": "Waiting for the load balancer <!channel>"},
    }
    ladder.clock.advance(minutes=5)
    answer = ladder.acme.view_submission(view, user_id=CEO, values=values)
    assert answer.status_code == 200 and answer.text == ""
    [update] = ladder.standin.wait_for("chat.update")
    assert update.args["channel"] == dm_channel_id(CEO) and update.args["ts"] == prompt["ts"]
    summary = update.args["blocks"][1]["text"]["text"]
    assert "✅" in update.args["text"]
    assert summary.splitlines() == [
        "• Achieve 1 million active users within six months: "
        "0 → *250k active users* · confidence 7/10",  # the unit said once, as in status
        "• Increase user engagement by 30%: 40% → *44%*",
        "• Reduce latency to under 100 milliseconds: 250 ms",  # untouched: unchanged
        "• Achieve a Net Promoter Score (NPS) of 9 or higher: —",
        "• Resolve 90% of customer inquiries within 24 hours: 0%",
    ]

    with Session(ladder.engine) as session:
        rows = session.exec(select(CheckIn).order_by(CheckIn.key_result_id)).all()
        assert len(rows) == 5  # one per KR; untouched ones keep their value
        assert {r.period_start for r in rows} == {MONDAY}
        assert session.get(KeyResult, users.id).current_value == 250_000
        assert session.get(KeyResult, users.id).confidence == 7
        blockers = {r.blocker for r in rows}
        assert blockers == {"Waiting for the load balancer <!channel>"}  # stored as typed
        [prompt_row] = [m for m in session.exec(select(OutboxMessage)) if m.recipient == CEO]
        assert prompt_row.state == OutboxState.ANSWERED

    # Slack retries the submission / a double click: nothing is recorded twice.
    ladder.acme.view_submission(view, user_id=CEO, values=values)
    with Session(ladder.engine) as session:
        assert len(session.exec(select(CheckIn)).all()) == 5
    # Answered people get no reminder.
    ladder.clock.advance(days=1)
    sender(ladder).run()
    assert len(posts_to(ladder, CEO)) == 1


def test_no_change_is_one_click(ladder: Ladder, company: dict[str, int]) -> None:
    ladder.clock.now = at_utc(MONDAY, 9, 0)
    sender(ladder).run()
    [prompt_call] = posts_to(ladder, DEV)
    ladder.acme.block_action(
        user_id=DEV, action_id="prompt_no_change", message=prompt_call.response["message"]
    )
    [update] = ladder.standin.wait_for("chat.update")
    assert "no change" in update.args["text"]
    with Session(ladder.engine) as session:
        [row] = session.exec(select(CheckIn)).all()
        assert (row.author_id, row.source, row.value) == (DEV, "no_change", None)


def test_one_reminder_in_working_hours_then_silence(
    ladder: Ladder, company: dict[str, int]
) -> None:
    run = sender(ladder)
    ladder.clock.now = at_utc(MONDAY, 9, 0)  # DEV's prompt, 10:00 Berlin
    run.run()
    assert recipients(ladder).count(DEV) == 1
    ladder.clock.now = at_utc(MONDAY + timedelta(days=1), 8, 59)  # 23 h 59 later
    run.run()
    assert recipients(ladder).count(DEV) == 1
    ladder.clock.now = at_utc(MONDAY + timedelta(days=1), 9, 0)  # 24 h later, 10:00 Berlin
    run.run()
    dev_posts = posts_to(ladder, DEV)
    assert len(dev_posts) == 2 and dev_posts[1].args["text"].startswith("⏰ Reminder")
    for _ in range(3):  # the rest of the week: max_reminders is 1
        ladder.clock.advance(days=1)
        run.run()
    assert len(posts_to(ladder, DEV)) == 2
    # The next period starts over.
    ladder.clock.now = at_utc(MONDAY + timedelta(days=7), 9, 0)
    run.run()
    assert len(posts_to(ladder, DEV)) == 3


def test_reminders_never_go_out_at_night(ladder: Ladder, company: dict[str, int]) -> None:
    run = sender(ladder)
    ladder.clock.now = at_utc(MONDAY, 15, 0)  # CEO's prompt, 10:00 NY
    run.run()
    with Session(ladder.engine) as session:
        ws = session.get(Workspace, ACME)
        ws.reminder_delay_hours = 10  # due at 20:00 NY: too late, wait for 09:00
        session.add(ws)
        session.commit()
    ladder.clock.now = at_utc(MONDAY + timedelta(days=1), 1, 0)  # 20:00 NY
    run.run()
    assert len(posts_to(ladder, CEO)) == 1
    ladder.clock.now = at_utc(MONDAY + timedelta(days=1), 14, 0)  # Tue 09:00 NY
    run.run()
    assert len(posts_to(ladder, CEO)) == 2


def test_away_people_are_not_asked(ladder: Ladder, company: dict[str, int]) -> None:
    ladder.clock.now = at_utc(MONDAY, 8, 0)
    ladder.acme.slash_command("away until 2026-02-20", user_id=DEV)
    [reply] = ladder.standin.wait_for("response_url")
    assert "2026" not in (reply.response.get("error") or "")
    ladder.clock.now = at_utc(MONDAY, 9, 0)
    sender(ladder).run()
    assert posts_to(ladder, DEV) == []
    ladder.acme.slash_command("back", user_id=DEV)
    ladder.standin.wait_for("response_url", count=2)
    sender(ladder).run()
    assert len(posts_to(ladder, DEV)) == 1


def _actions(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    [block] = [b for b in view["blocks"] if b.get("block_id") == block_id]
    return {block["element"]["action_id"]: block["element"]}


def test_an_admin_sends_the_prompts_now_from_slack(ladder: Ladder, company: dict[str, int]) -> None:
    ladder.clock.now = at_utc(MONDAY, 9, 0)  # 10:00 in Berlin, within DEV's working hours
    assert ladder.acme.slash_command("checkin send", user_id=DEV).status_code == 200
    ladder.standin.wait_for("response_url")
    assert "Only workspace admins" in (ladder.standin.responses[0].text or "")
    # The fan-out runs on a thread of its own; its report is the second reply.
    assert ladder.acme.slash_command("checkin send", user_id=CEO).status_code == 200
    ladder.standin.wait_for("response_url", count=2, timeout=30)
    report = ladder.standin.responses[1].text or ""
    assert report.startswith("Check-in prompts: 1 sent now"), report
    assert recipients(ladder) == [DEV]
