"""Review at the end of a cycle, over signed HTTP: `/okr cycle close` → one DM per objective
owner through the outbox → "Write my reflection" → one modal → saved, shown in
`/okr cycle grades` and in the export; unfinished KRs carried into the next cycle."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, select

from bot.app import make_client
from bot.jobs.sender import Sender
from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from bot.services.delivery import DeliveryService
from bot.services.objectives import ObjectiveService
from bot.services.transfer import Format
from storage.cycles import create_cycle
from storage.models import Cycle, KeyResult, Objective, OutboxMessage, OutboxState, Reflection
from storage.objectives import create_objective
from storage.workspaces import ensure_workspace
from tests.factories import reference_company
from tests.services.test_transfer import read_document
from tests.slack.conftest import ACME, CEO, DEV, EVE, Ladder
from tests.slack.flows import element, fill, open_new_objective, rev_of, type_sentence
from tests.support.slack_standin import dm_channel_id

H1, H2 = "H1 2026", "H2 2026"


def sender(ladder: Ladder) -> Sender:
    client = make_client(ladder.settings)
    return Sender(DeliveryService(ladder.engine, clock=ladder.clock), lambda _ws: client)


def _set(session: Session, krs: list[KeyResult], *values: float | None) -> None:
    for kr, value in zip(krs, values, strict=True):
        kr.current_value = value
        session.add(kr)


def _world(ladder: Ladder) -> dict[str, int]:
    """The reference company (CEO) at the end of H1: the platform objective fully reached
    (aspirational), customer support committed and at 0.85; DEV's objective half done; H2
    open to carry into."""
    with Session(ladder.engine, expire_on_commit=False) as session:
        ref = reference_company(
            session, workspace_id=ACME, owner_id=CEO, now=ladder.clock() - timedelta(days=30)
        )
        krs = session.exec(select(KeyResult).order_by(KeyResult.id)).all()
        _set(session, list(krs), 1_000_000, 52, 100, 9, 63)
        ref.support.committed = True
        session.add(ref.support)
        api = create_objective(
            session=session,
            workspace_id=ACME,
            cycle_id=ref.cycle.id,
            owner_id=DEV,
            title="Ship the public API",
            key_results=[
                KRSpec("Publish the API docs", KRKind.MILESTONE, 1),
                KRSpec("Sign 10 partners", KRKind.INCREASE, 10, start_value=0),
                KRSpec("Run a beta", KRKind.MILESTONE, 1),
            ],
            now=ladder.clock() - timedelta(days=30),
        )
        dev_krs = session.exec(
            select(KeyResult).where(KeyResult.objective_id == api.id).order_by(KeyResult.id)
        ).all()
        _set(session, list(dev_krs), None, 4, 1)
        h2 = create_cycle(
            session=session,
            workspace_id=ACME,
            name=H2,
            start_date=date(2026, 7, 6),
            end_date=date(2026, 12, 31),
        )
        session.commit()
        return {
            "cycle": ref.cycle.id,  # type: ignore[dict-item]
            "h2": h2.id,  # type: ignore[dict-item]
            "platform": ref.platform.id,  # type: ignore[dict-item]
            "support": ref.support.id,  # type: ignore[dict-item]
            "api": api.id,  # type: ignore[dict-item]
            "docs_kr": dev_krs[0].id,  # type: ignore[dict-item]
            "partners_kr": dev_krs[1].id,  # type: ignore[dict-item]
            "beta_kr": dev_krs[2].id,  # type: ignore[dict-item]
        }


def _blocks_text(blocks: Any) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def _reply(ladder: Ladder, text: str, *, user: str = CEO) -> Any:
    before = len(ladder.standin.responses)
    assert ladder.acme.slash_command(text, user_id=user).status_code == 200
    ladder.standin.wait_for("response_url", count=before + 1)
    return ladder.standin.responses[before]


def _reflect_posts(ladder: Ladder) -> list[Any]:
    return [
        c
        for c in ladder.standin.calls("chat.postMessage")
        if "reflect_open" in _blocks_text(c.args.get("blocks"))
    ]


def _rows(ladder: Ladder, model: Any) -> list[Any]:
    with Session(ladder.engine) as session:
        return list(session.exec(select(model).order_by(model.id)).all())


def test_close_asks_each_owner_once_and_the_reflection_is_stored_shown_and_exported(
    ladder: Ladder,
) -> None:
    ids = _world(ladder)

    # Closing the cycle: grades in the channel, judged against each objective's expectation.
    reply = _reply(ladder, f"cycle close {H1}")
    assert reply.response_type == "in_channel"
    shown = _blocks_text(reply.blocks)
    assert "1.0 on an aspirational objective: aim higher next time" in shown  # the platform
    assert "Committed to 1.0: fell short" in shown  # support: 0.85 of a promised 1.0
    assert "2 owners will get a DM" in shown
    assert _reflect_posts(ladder) == []  # nothing sent inline: the outbox sends

    # The sender sends one DM per owner, once however often it runs.
    run = sender(ladder)
    report = run.run()
    assert (report.sent, report.reflections, report.digests) == (2, 2, 0)  # told apart
    assert run.run().sent == 0
    dms = _reflect_posts(ladder)
    assert sorted(c.args["channel"] for c in dms) == [CEO, DEV]
    rows = [r for r in _rows(ladder, OutboxMessage) if r.kind.startswith("reflect")]
    assert [(r.kind, r.state) for r in rows] == [(f"reflect:{ids['cycle']}", OutboxState.SENT)] * 2
    [dev_dm] = [c for c in dms if c.args["channel"] == DEV]
    assert "Ship the public API" in _blocks_text(dev_dm.args["blocks"])
    assert "Launch a new communication platform" not in _blocks_text(dev_dm.args["blocks"])

    # One click opens one modal with DEV's objective only, and its unfinished KRs to carry.
    message = dev_dm.response["message"]
    ladder.acme.block_action(user_id=DEV, action_id="reflect_open", message=message)
    [opened] = ladder.standin.wait_for("views.open")
    view = opened.response["view"]
    block_ids = [b.get("block_id") for b in view["blocks"]]
    api = ids["api"]
    assert {f"r{api}_worked", f"r{api}_did_not_work", f"r{api}_carry_over", f"c{api}"} <= set(
        block_ids
    )
    assert not any(str(b).startswith(f"r{ids['platform']}_") for b in block_ids)
    [carry] = [b for b in view["blocks"] if b.get("block_id") == f"c{api}"]
    offered = [int(o["value"]) for o in carry["element"]["options"]]
    assert offered == [ids["docs_kr"], ids["partners_kr"]]  # the beta reached 1.0
    assert "Ticked key results move to *H2 2026*" in _blocks_text(view["blocks"])

    # A forged submission writing about the CEO's objective stores nothing.
    forged = copy.deepcopy(view)
    for block in forged["blocks"]:
        if str(block.get("block_id", "")).startswith(f"r{api}_"):
            block["block_id"] = block["block_id"].replace(f"r{api}_", f"r{ids['platform']}_")
    answer = ladder.acme.view_submission(
        forged,
        user_id=DEV,
        values={f"r{ids['platform']}_worked": {f"worked:{api}": "I hijacked the CEO's objective"}},
    )
    assert answer.status_code == 200 and answer.json()["response_action"] == "errors"
    assert "owner" in json.dumps(answer.json()["errors"])
    assert _rows(ladder, Reflection) == []

    # DEV's own answer: stored, the DM thanked in place, a KR carried into H2 with its link.
    answer = ladder.acme.view_submission(
        view,
        user_id=DEV,
        values={
            f"r{api}_worked": {f"worked:{api}": "Pairing with partners <early> & often"},
            f"r{api}_did_not_work": {f"did_not_work:{api}": "Docs came last"},
            f"r{api}_carry_over": {f"carry_over:{api}": "Docs first next time"},
            f"c{api}": {f"carry:{api}": [str(ids["docs_kr"])]},
        },
    )
    assert answer.status_code == 200 and answer.text == "", answer.text
    [reflection] = _rows(ladder, Reflection)
    assert (reflection.objective_id, reflection.author_id, reflection.worked) == (
        api,
        DEV,
        "Pairing with partners <early> & often",
    )
    [update] = ladder.standin.wait_for("chat.update")
    assert update.args["channel"] == dm_channel_id(DEV)
    assert update.args["ts"] == message["ts"]
    assert "Publish the API docs → *H2 2026*" in _blocks_text(update.args["blocks"])

    # The thanked DM keeps its button: the form opens again with the answers, and the KR
    # already carried over is no longer offered.
    [thanked] = [m for m in ladder.standin.messages(dm_channel_id(DEV)) if m["ts"] == message["ts"]]
    ladder.acme.block_action(user_id=DEV, action_id="reflect_open", message=thanked)
    again = ladder.standin.wait_for("views.open", count=2)[-1].response["view"]
    [worked] = [b for b in again["blocks"] if b.get("block_id") == f"r{api}_worked"]
    assert worked["element"]["initial_value"] == "Pairing with partners <early> & often"
    [carry] = [b for b in again["blocks"] if b.get("block_id") == f"c{api}"]
    assert [int(o["value"]) for o in carry["element"]["options"]] == [ids["partners_kr"]]
    with Session(ladder.engine) as session:
        [carried] = session.exec(
            select(KeyResult).where(KeyResult.carried_from_id == ids["docs_kr"])
        ).all()
        copy_of = session.get_one(Objective, carried.objective_id)
        assert (copy_of.cycle_id, copy_of.title, copy_of.owner_id) == (
            ids["h2"],
            "Ship the public API",
            DEV,
        )
        assert carried.title == "Publish the API docs" and carried.grade is None

    # Everyone can read the grades with the reflection and where the KR went.
    grades = _reply(ladder, f"cycle grades {H1}", user=EVE)
    assert grades.response_type == "ephemeral"  # only the asker sees it
    text = _blocks_text(grades.blocks)
    assert "Pairing with partners &lt;early&gt; &amp; often" in text  # escaped
    assert "Publish the API docs carried into *H2 2026*" in text
    assert "1 of 3 objectives have a reflection" in text

    # The export carries the reflection and the link.
    assert ladder.acme.slash_command("export", user_id=EVE).status_code == 200
    ladder.standin.wait_for("files.completeUploadExternal")
    [uploaded] = ladder.standin.files.values()
    document = read_document((uploaded.content or b"").decode("utf-8"), Format.CSV)
    [exported] = [o for o in document.objectives if o.reflection_worked]
    assert (exported.title, exported.cycle, exported.reflection_did_not_work) == (
        "Ship the public API",
        H1,
        "Docs came last",
    )
    [link] = [kr for kr in document.key_results if kr.carried_from]
    assert link.title == "Publish the API docs" and link.carried_from == f"{exported.key}.1"
    assert [o.committed for o in document.objectives][:2] == [False, True]


def test_without_an_open_cycle_the_modal_says_how_to_make_one(ladder: Ladder) -> None:
    ids = _world(ladder)
    with Session(ladder.engine) as session:
        session.delete(session.get_one(Cycle, ids["h2"]))
        session.commit()
    _reply(ladder, f"cycle close {H1}")
    sender(ladder).run()
    [dev_dm] = [c for c in _reflect_posts(ladder) if c.args["channel"] == DEV]
    ladder.acme.block_action(
        user_id=DEV, action_id="reflect_open", message=dev_dm.response["message"]
    )
    [opened] = ladder.standin.wait_for("views.open")
    view = opened.response["view"]
    assert "`/okr cycle new Q2 2027`" in _blocks_text(view["blocks"])
    assert not any(str(b.get("block_id")).startswith("c") for b in view["blocks"])


def test_committed_or_aspirational_changes_the_verdict_of_the_same_grade(ladder: Ladder) -> None:
    """Two objectives at 0.8: a success for a stretch, a shortfall for a promise."""
    with Session(ladder.engine, expire_on_commit=False) as session:
        ensure_workspace(session=session, workspace_id=ACME)
        cycle = create_cycle(
            session=session,
            workspace_id=ACME,
            name="Q1 2026",
            start_date=date(2026, 1, 5),
            end_date=date(2026, 3, 29),
        )
        for title, committed in (("Stretch for growth", False), ("Keep the lights on", True)):
            objective = create_objective(
                session=session,
                workspace_id=ACME,
                cycle_id=cycle.id,  # type: ignore[arg-type]
                owner_id=CEO,
                title=title,
                key_results=[KRSpec(f"{title}: 10 wins", KRKind.INCREASE, 10, start_value=0)],
            )
            objective.committed = committed
            session.add(objective)
        session.flush()
        for kr in session.exec(select(KeyResult)).all():
            kr.current_value = 8
            session.add(kr)
        session.commit()
    reply = _reply(ladder, "cycle close Q1 2026")
    # the grades post is compact: every objective's lines in one section, in tree order
    text = "\n".join(b["text"]["text"] for b in reply.blocks if b["type"] == "section")
    stretch, promise = (
        text[text.index(title) :].split("\n\u2003", 3)[:3]
        for title in ("Stretch for growth", "Keep the lights on")
    )
    stretch, promise = "\n".join(stretch), "\n".join(promise)
    assert "Stretch for growth" in stretch and "~0.7 or more is success" in stretch
    assert "Keep the lights on" in promise and "Committed to 1.0: fell short" in promise


def test_commitment_and_kr_weights_are_saved_from_the_objective_modal(ladder: Ladder) -> None:
    view = open_new_objective(ladder, "Delight our first customers")
    assert element(view, "commitment")["initial_option"]["value"] == "aspirational"
    view = type_sentence(ladder, view, 0, "Reach 50 paying customers")
    # the weight is one of a KR's details, shown once its sentence is read (Enter)
    assert element(view, "kr0_weight")["type"] == "plain_text_input"
    view = type_sentence(ladder, view, 1, "Increase NPS from 20 to 40")

    # A weight is checked like import checks it: above 0, a number, where it was typed.
    answer = ladder.acme.view_submission(
        view, user_id=CEO, values=fill(view, kr0_weight="3", kr1_weight="0")
    )
    errors = answer.json()["errors"]
    assert list(errors) == [f"kr1_weight@{rev_of(view)}"], errors
    answer = ladder.acme.view_submission(view, user_id=CEO, values=fill(view, kr1_weight="lots"))
    assert list(answer.json()["errors"]) == [f"kr1_weight@{rev_of(view)}"]
    assert _rows(ladder, Objective) == []

    answer = ladder.acme.view_submission(
        view,
        user_id=CEO,
        values=fill(view, commitment="committed", kr0_weight="3", kr1_weight="1.5"),
    )
    assert answer.status_code == 200 and answer.text == "", answer.text
    [objective] = _rows(ladder, Objective)
    assert objective.committed is True
    assert [kr.weight for kr in _rows(ladder, KeyResult)] == [3.0, 1.5]

    # Edit shows them again, and a weight left empty goes back to 1.
    okrs = ObjectiveService(ladder.engine, clock=ladder.clock)
    form = okrs.edit_objective_form(
        workspace_id=ACME, user_id=CEO, objective_id=objective.id, is_admin=lambda: True
    )
    assert form.draft.committed is True
    assert [kr.weight for kr in form.draft.krs] == ["3", "1.5"]


def test_the_request_for_reflections_waits_for_working_hours(ladder: Ladder) -> None:
    _world(ladder)
    ladder.clock.now = ladder.clock.now.replace(day=21, hour=12)  # Saturday 2026-02-21
    _reply(ladder, f"cycle close {H1}")
    run = sender(ladder)
    report = run.run()
    assert (report.sent, _reflect_posts(ladder)) == (0, [])
    held = [r for r in _rows(ladder, OutboxMessage) if r.kind.startswith("reflect")]
    assert {(r.state, r.due_at.isoformat()) for r in held} == {
        (OutboxState.PLANNED, "2026-02-23T09:00:00+00:00")  # Monday 09:00, the workspace's UTC
    }
    ladder.clock.now = ladder.clock.now.replace(day=23, hour=9)
    assert run.run().sent == 2
