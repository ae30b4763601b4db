"""A new objective is not started, not off track, on every surface (issue #14, screen 4).

Over signed HTTP: the reference company is written on the test clock's day (Feb 16, six weeks
into a cycle that began Jan 5) and nobody has checked in. `/okr status`, `/okr mine` and the
Home tab all show it neutral (⚪ not started); after a first check-in its pace counts from
the day it was written, not from the cycle's start.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import Session, select

from bot.okr.kinds import Status
from storage.models import KeyResult
from storage.tree import load_tree
from tests.factories import reference_company
from tests.slack.conftest import ACME, CEO, Ladder
from tests.slack.test_surfaces import ask, readable, seed

RED = ("🔴", "🟥", "off track")


def test_a_fresh_objective_is_neutral_on_status_mine_and_home(ladder: Ladder) -> None:
    seed(
        ladder,
        lambda s: reference_company(s, workspace_id=ACME, owner_id=CEO, now=ladder.clock.now),
    )

    status = ask(ladder, ladder.acme, "status all", user=CEO)
    # The summaries count only the statuses there are: no "🔴 0 off track" on any surface.
    assert "2 objectives · ⚪ 2 not started" in status.text
    body = readable(status)
    assert "⚪ not started" in body and not any(red in body for red in RED)

    mine = readable(ask(ladder, ladder.acme, "mine", user=CEO))
    assert "2 objectives · ⚪ 2 not started" in mine
    assert "⚪ not started" in mine and not any(red in mine for red in RED)

    assert ladder.acme.app_home_opened(user_id=CEO).status_code == 200
    [published] = ladder.standin.wait_for("views.publish")
    home = json.dumps(published.args["view"], ensure_ascii=False, indent=0)
    assert "not started" in home and not any(red in home for red in RED)
    assert not re.search(r"\b0 (on track|at risk|off track|not started)", home)


def test_after_the_first_check_in_pace_counts_from_creation(ladder: Ladder) -> None:
    seed(
        ladder,
        lambda s: reference_company(s, workspace_id=ACME, owner_id=CEO, now=ladder.clock.now),
    )
    with Session(ladder.engine) as session:
        users = session.exec(
            select(KeyResult).where(KeyResult.title.startswith("Achieve 1 million"))  # type: ignore[attr-defined]
        ).one()
    # A week later, 2% of the way (20k of 1M): 7 of the 139 days from Feb 16 to its due date
    # is ~5% expected, so on track. Paced from the cycle's start (Jan 5: 49 of 223 days, ~22%)
    # it would be at risk.
    ladder.clock.advance(days=7)
    # Checked in the way people do: the KR's button on the Home tab, then the modal.
    assert ladder.acme.app_home_opened(user_id=CEO).status_code == 200
    ladder.standin.wait_for("views.publish")
    tab = ladder.standin.home_view(ACME, CEO)
    ladder.acme.block_action(user_id=CEO, action_id=f"checkin_kr:{users.id}", view=tab)
    [opened] = ladder.standin.wait_for("views.open")
    answer = ladder.acme.view_submission(
        opened.response["view"],
        user_id=CEO,
        values={f"value:{users.id}": {f"value:{users.id}": "20k"}},
    )
    assert answer.status_code == 200 and answer.text == "", answer.text
    ladder.standin.wait_for("views.publish", count=2)
    with Session(ladder.engine) as session:
        tree = load_tree(session=session, workspace_id=ACME, today=ladder.clock.now.date())
        health = tree.health.krs[users.id]
        assert health.status is Status.ON_TRACK
        assert health.expected == pytest.approx(7 / 139)
    status = readable(ask(ladder, ladder.acme, "status all", user=CEO))
    assert "🔴" not in status and "🟢 on track" in status
    assert "2 objectives · 🟢 1 on track · ⚪ 1 not started" in status
