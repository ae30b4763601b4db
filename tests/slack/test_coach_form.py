"""The KR coach in `/okr new`, over signed HTTP: hints under what they are about, on Enter;
never in the way of a save."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, select

from storage.models import Objective
from tests.factories import reference_company
from tests.slack.conftest import ACME, CEO, Ladder
from tests.slack.flows import fill, open_new_objective, type_sentence


def hints(view: dict[str, Any]) -> list[str]:
    return [
        e["text"]
        for b in view["blocks"]
        if b["type"] == "context"
        for e in b["elements"]
        if e.get("text", "").startswith("💡")
    ]


def after(view: dict[str, Any], block_prefix: str) -> dict[str, Any]:
    """The block right after the first block whose id starts with `block_prefix`."""
    ids = [b.get("block_id", "") for b in view["blocks"]]
    [at] = [n for n, i in enumerate(ids) if i.startswith(block_prefix)][:1]
    return view["blocks"][at + 1]


def test_hints_show_under_the_kr_and_the_title_they_are_about(ladder: Ladder) -> None:
    with Session(ladder.engine) as session:
        reference_company(session, workspace_id=ACME, owner_id=CEO)
    view = open_new_objective(ladder, "Grow revenue to $2M")
    # the title typed with the command is coached as the form opens
    [opening] = hints(view)
    assert "Objectives are qualitative" in opening
    view = type_sentence(ladder, view, 0, "Build a data warehouse")
    found = hints(view)
    assert any("Objectives are qualitative" in h for h in found)
    assert any("“Build …” names work to do" in h for h in found)
    # the title's hint sits under the title, the KR's after that KR's blocks
    assert "Objectives are qualitative" in json.dumps(after(view, "title@"))
    view = type_sentence(ladder, view, 1, "Grow weekly active users from 10k to 25k")
    assert len(hints(view)) == 2  # a measurable KR with a baseline raises nothing

    # Hints never block: with the one value truly missing chosen (how the first KR is
    # measured: a milestone), Create saves the objective as typed, hints and all.
    answer = ladder.acme.view_submission(view, user_id=CEO, values=fill(view, kr0_kind="milestone"))
    assert answer.status_code == 200 and answer.text == "", answer.text
    ladder.wait_idle()
    with Session(ladder.engine) as session:
        titles = session.exec(select(Objective.title).where(Objective.workspace_id == ACME)).all()
    assert "Grow revenue to $2M" in titles


def test_two_krs_measuring_the_same_way_are_pointed_out(ladder: Ladder) -> None:
    view = open_new_objective(ladder, "Delight the community")
    view = type_sentence(ladder, view, 0, "Grow weekly active users from 10k to 20k")
    view = type_sentence(ladder, view, 1, "Grow weekly active users from 20k to 30k")
    [hint] = hints(view)
    assert "Measures the same as key result 1" in hint
    # under the second KR: after its last block, before the "Add another" button
    ids = [b.get("block_id", "") for b in view["blocks"]]
    at = next(n for n, b in enumerate(view["blocks"]) if "Measures the same" in json.dumps(b))
    last_kr1 = max(n for n, i in enumerate(ids) if i.startswith("kr1_"))
    assert last_kr1 < at < next(n for n, i in enumerate(ids) if i.startswith("kr_actions"))
