"""The reference company, typed into Slack: vision, mission, two objectives, five KRs, status."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.okr.kinds import KRKind, UnitKind
from storage.models import KeyResult, Objective
from tests.factories import MISSION, VISION
from tests.slack.conftest import ACME, CEO, Ladder
from tests.slack.flows import (
    add_slot,
    element,
    fill,
    initial,
    open_new_objective,
    rev_of,
    type_sentence,
)
from tests.support.slack_standin import dm_channel_id

PLATFORM = "Launch a new communication platform"
SUPPORT = "Enhance customer support"


def test_reference_company_round_trip(ladder: Ladder) -> None:
    standin, acme = ladder.standin, ladder.acme

    # The why, set by an admin; plain text answers only the admin.
    acme.slash_command(f"vision {VISION}", user_id=CEO)
    standin.wait_for("response_url")
    acme.slash_command(f"mission {MISSION}", user_id=CEO)
    standin.wait_for("response_url", count=2)
    assert [r.response_type for r in standin.responses] == [None, None]  # ephemeral default
    assert standin.responses[0].text == f"Vision set: “{VISION}”"

    # Objective 1: three KRs typed as sentences; the parser fills the fields.
    view = open_new_objective(ladder, PLATFORM)
    assert view["title"]["text"] == "New objective"
    assert initial(view, "title") == PLATFORM
    assert element(view, "owner")["initial_user"] == CEO

    view = type_sentence(ladder, view, 0, "Achieve 1 million active users within six months")
    assert initial(view, "kr0_kind") == KRKind.INCREASE.value
    assert initial(view, "kr0_target") == "1,000,000"  # exact, not "1M"
    assert initial(view, "kr0_unit") == "active users"
    assert initial(view, "kr0_due") == "2026-08-16"  # six months from the clock's 2026-02-16

    view = add_slot(ladder, view)
    view = type_sentence(ladder, view, 1, "Increase user engagement by 30%")
    view = add_slot(ladder, view)
    view = type_sentence(ladder, view, 2, "Reduce latency to under 100 milliseconds")
    assert initial(view, "kr2_kind") in (KRKind.DECREASE.value, KRKind.AT_MOST.value)

    # "+30%" needs a baseline, and a decrease needs today's latency: errors name the field.
    answer = acme.view_submission(view, user_id=CEO, values=fill(view, kr2_kind="decrease"))
    errors = answer.json()["errors"]
    rev = rev_of(view)
    assert set(errors) == {f"kr1_start@{rev}", f"kr2_start@{rev}"}, errors
    assert "baseline" in errors[f"kr1_start@{rev}"].lower()
    with Session(ladder.engine) as session:
        assert session.exec(select(Objective)).all() == []  # nothing half-saved

    answer = acme.view_submission(
        view,
        user_id=CEO,
        values=fill(view, kr1_start="40", kr2_kind="decrease", kr2_start="250"),
    )
    assert answer.status_code == 200 and answer.text == "", answer.text
    [dm] = standin.wait_for("chat.postMessage")
    assert dm.response["channel"] == dm_channel_id(CEO)
    assert PLATFORM in dm.args["text"]
    # Just written, six weeks into the cycle: not started (neutral), not "🔴 off track", and
    # no KR is red either.
    confirmation = str(dm.args["blocks"])
    assert "⚪ not started" in confirmation
    assert not any(red in confirmation for red in ("🔴", "🟥", "off track"))

    # Objective 2: two KRs.
    view = open_new_objective(ladder, SUPPORT)
    view = type_sentence(ladder, view, 0, "Achieve a Net Promoter Score (NPS) of 9 or higher")
    assert initial(view, "kr0_kind") == KRKind.AT_LEAST.value
    assert initial(view, "kr0_target") == "9"
    view = add_slot(ladder, view)
    view = type_sentence(ladder, view, 1, "Resolve 90% of customer inquiries within 24 hours")
    assert initial(view, "kr1_target") == "90"
    answer = acme.view_submission(view, user_id=CEO)
    assert answer.text == "", answer.text
    standin.wait_for("chat.postMessage", count=2)

    # What landed in the database is the reference company.
    with Session(ladder.engine) as session:
        objectives = session.exec(select(Objective).order_by(Objective.id)).all()
        assert [o.title for o in objectives] == [PLATFORM, SUPPORT]
        assert {o.workspace_id for o in objectives} == {ACME}
        krs = session.exec(select(KeyResult).order_by(KeyResult.id)).all()
        shape = [(k.kind, k.start_value, k.target_value, k.unit, k.unit_label) for k in krs]
    assert shape == [
        (KRKind.INCREASE, 0.0, 1_000_000.0, UnitKind.NUMBER, "active users"),
        (KRKind.INCREASE, 40.0, 52.0, UnitKind.NUMBER, None),  # +30% of the baseline
        (KRKind.DECREASE, 250.0, 100.0, UnitKind.DURATION, "ms"),
        (KRKind.AT_LEAST, None, 9.0, UnitKind.NUMBER, None),
        (KRKind.INCREASE, 0.0, 90.0, UnitKind.PERCENT, None),
    ]

    # /okr status all: posted in the channel, vision and mission on top, both trees.
    acme.slash_command("status all", user_id=CEO)
    standin.wait_for("response_url", count=3)
    status = standin.responses[-1]
    assert status.response_type == "in_channel"
    everything = str(status.blocks)
    for needle in (VISION, MISSION, PLATFORM, SUPPORT, "NPS", "no check-in yet", "· ceo ·"):
        assert needle in everything, needle
    assert "<@" not in everything  # owners by name: a mention would notify each of them
    for kr_values in ("0 / 1M active users", "40 / 52", "250 → 100 ms", "(at least 9)", "0% / 90%"):
        assert kr_values in everything, kr_values
    # Six weeks into the cycle, just written, nobody has checked in: both objectives are not
    # started (neutral), not off track; pace counts from the day they were written.
    assert "2 objectives" in status.text and "⚪ 2 not started" in status.text
    assert "off track" not in status.text and "🔴 off track" not in everything
