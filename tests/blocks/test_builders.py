"""Every block builder as a pure function, checked against Slack's limits and read as text."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from bot.blocks.admin import build_cycle_grades, build_team_reply
from bot.blocks.dialogs import (
    build_align_modal,
    build_archive_modal,
    build_checkin_modal,
    checkin_from_state,
)
from bot.blocks.help import build_help
from bot.blocks.home import build_home
from bot.blocks.objective_modal import build_objective_modal, draft_from_state
from bot.blocks.text import escape, progress_bar
from bot.blocks.tree import build_mine_message, build_objective_confirmation, build_status_message
from bot.okr.kinds import KRKind, Status
from bot.okr.validate import KRSpec
from bot.services.admin import CycleClosed, TeamChanged, TeamList, Unrecognized
from bot.services.drafts import KRDraft, ObjectiveDraft
from storage.cycles import close_cycle
from storage.models import Team
from storage.objectives import create_objective
from storage.tree import load_tree
from tests.factories import reference_company
from tests.support.blockkit import validate_message, validate_view
from tests.support.slack_sender import state_values

NOW = datetime(2026, 4, 5, 12, tzinfo=UTC)
HOSTILE = "<!channel> <@U123> <https://evil|click> & co"


def all_text(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)


def mrkdwn_text(payload: object) -> str:
    """Everything Slack parses for mentions and links: mrkdwn objects and the `text` fallback."""
    found: list[str] = []

    def walk(node: object, key: str = "") -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" or (key == "" and "text" in node and "blocks" in node):
                found.append(str(node.get("text", "")))
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)

    walk(payload)
    return "\n".join(found)


@pytest.fixture(params=["sqlite"])
def engine(request, tmp_path, sqlite_template):  # builders need data, not both backends
    import shutil

    from storage.db import make_engine

    path = tmp_path / "ladder.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def test_escape_neutralizes_mentions_and_links() -> None:
    assert escape(HOSTILE) == "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|click&gt; &amp; co"
    assert progress_bar(0.63, Status.ON_TRACK) == "🟩🟩🟩🟩🟩⬜⬜⬜"
    assert progress_bar(0.9, Status.OFF_TRACK) == "🟥🟥🟥🟥🟥🟥🟥⬜"  # colour = status
    assert progress_bar(0.5, Status.AT_RISK) == "🟨🟨🟨🟨⬜⬜⬜⬜"
    assert progress_bar(1.7) == "⬛" * 8 and progress_bar(None) == "⬜" * 8


def test_help_and_unknown_command() -> None:
    message = build_help(unknown="stauts", suggestion="status")
    assert validate_message(message) == []
    assert "Did you mean `/okr status`?" in all_text(message)
    assert message["text"].startswith("Unknown command /okr stauts")
    hostile = build_help(unknown="<!here>")
    assert "<!here>" not in mrkdwn_text(hostile)


def test_status_message_renders_the_reference_company(session: Session) -> None:
    company = reference_company(session)
    tree = load_tree(session=session, workspace_id=company.workspace_id, today=NOW.date())
    message = build_status_message(tree=tree, scope="all objectives", now=NOW)
    assert validate_message(message) == []
    text = all_text(message)
    assert "Empowering global connectivity" in text and "Deliver cutting-edge" in text
    assert "*Launch a new communication platform*" in text
    assert "Reduce latency to under 100 milliseconds — 250 → 100 ms" in text  # at its start
    assert "at least 9" in text
    assert message["text"].startswith("OKR status · all objectives: 2 objectives")


def test_status_escapes_user_text_everywhere(session: Session) -> None:
    company = reference_company(session)
    create_objective(
        session=session,
        workspace_id=company.workspace_id,
        cycle_id=company.cycle.id,
        owner_id="U1",
        title=HOSTILE,
        key_results=[KRSpec(HOSTILE, KRKind.INCREASE, 10, unit_label="<!here>")],
    )
    tree = load_tree(session=session, workspace_id=company.workspace_id, today=NOW.date())
    for payload in (
        build_status_message(tree=tree, scope=HOSTILE, now=NOW),
        build_mine_message(tree=tree, user_id="U1", now=NOW),
    ):
        text = mrkdwn_text(payload)
        assert "<!channel>" not in text and "<@U123>" not in text and "<!here>" not in text
        assert "<https://evil" not in text
        assert "&lt;!channel&gt;" in text


def test_large_tree_is_summarized_within_message_limits(session: Session) -> None:
    company = reference_company(session)
    spec = KRSpec("A key result with a long enough title " * 4, KRKind.INCREASE, 100)
    parent = company.platform.id
    for i in range(120):
        parent = create_objective(
            session=session,
            workspace_id=company.workspace_id,
            cycle_id=company.cycle.id,
            owner_id="U1",
            title=f"Objective {i} " + "x" * 120,
            parent_id=parent if i % 4 else None,
            key_results=[spec] * 30,
        ).id
    tree = load_tree(session=session, workspace_id=company.workspace_id, today=NOW.date())
    message = build_status_message(tree=tree, scope="all", now=NOW)
    assert validate_message(message) == []
    # 122 objectives, 32 at the top level: the summary, then 12 top-level objectives with
    # their aligned ones counted (no KR lines), and a footer counting the rest.
    assert message["blocks"][1]["text"]["text"].startswith("*122 objectives")
    sections = [b for b in message["blocks"][2:] if b["type"] == "section"]
    assert len(sections) == 12 and all("↳" not in s["text"]["text"][:3] for s in sections)
    assert (
        "↳ 3 aligned objectives: ⚪ 3" in sections[2]["text"]["text"]
    )  # a chain of 4, no check-ins
    assert "A key result with" not in all_text(message)
    footer = message["blocks"][-1]["elements"][0]["text"]
    assert "…and 20 more top-level objectives" in footer and "*Home* tab" in footer
    confirmation = build_objective_confirmation(
        tree=tree, objective=tree.roots[-1], now=NOW, created=True
    )
    assert "…and" in all_text(confirmation)  # long KR lists are cut inside the 3,000 characters
    mine = build_mine_message(
        tree=load_tree(session=session, workspace_id="T0REF", today=NOW.date(), owner_id="U1"),
        user_id="U1",
        now=NOW,
    )
    assert validate_message(mine) == [] and len(mine["blocks"]) <= 50
    home = build_home(
        mine=tree, user_id="U1", team_name="Platform", team_tree=tree, company_tree=tree, now=NOW
    )
    assert validate_view(home) == [] and len(home["blocks"]) <= 100


def test_home_tab(session: Session) -> None:
    company = reference_company(session)
    tree = load_tree(session=session, workspace_id=company.workspace_id, today=NOW.date())
    home = build_home(
        mine=tree, user_id="U0CEO", team_name=None, team_tree=None, company_tree=tree, now=NOW
    )
    assert validate_view(home) == []
    text = all_text(home)
    assert "New objective" in text and "Your key results" in text and "Company objectives" in text
    buttons = [
        b["accessory"] for b in home["blocks"] if b.get("accessory", {}).get("type") == "button"
    ]
    assert len(buttons) == 5 and all(b["text"]["text"] == "Check in" for b in buttons)


def test_home_names_the_objective_of_each_of_my_key_results(session: Session) -> None:
    """Two KRs with the same title, in two objectives, read apart on Home."""
    company = reference_company(session)
    latency = KRSpec("Cut p95 latency", KRKind.DECREASE, 100, start_value=250, unit_label="ms")
    for title in ("Open the public API", "Ship a reliable platform " + "x" * 60):
        create_objective(
            session=session,
            workspace_id=company.workspace_id,
            cycle_id=company.cycle.id,
            owner_id="U0CEO",
            title=title,
            key_results=[latency],
        )
    session.commit()
    tree = load_tree(session=session, workspace_id=company.workspace_id, today=NOW.date())
    home = build_home(
        mine=tree, user_id="U0CEO", team_name=None, team_tree=None, company_tree=tree, now=NOW
    )
    assert validate_view(home) == []
    lines = [
        b["text"]["text"] for b in home["blocks"] if b.get("block_id", "").startswith("home_kr:")
    ]
    latency_lines = [line for line in lines if line.startswith("• Cut p95 latency")]
    assert len(latency_lines) == 2 and latency_lines[0] != latency_lines[1]
    assert latency_lines[0].endswith(" · _Open the public API_")
    # a long title is cut, not the line: "Ship a reliable platform xxx…"
    assert latency_lines[1].endswith("_Ship a reliable platform " + "x" * 14 + "…_")
    # every KR line names its objective (the reference company's five included)
    platform = [line for line in lines if "1 million active users" in line]
    assert platform and platform[0].endswith(" · _Launch a new communication platform_")


def test_summaries_count_only_the_statuses_there_are(session: Session) -> None:
    from bot.blocks.tree import summary_line
    from storage.checkins import record_check_in

    company = reference_company(session, now=datetime(2026, 1, 5, tzinfo=UTC))
    tree = load_tree(session=session, workspace_id=company.workspace_id, today=NOW.date())
    # Written three months ago and never checked in: quiet for far longer than two periods.
    assert summary_line(tree) == "2 objectives · 💤 2 no recent data"
    create_objective(  # written last week: not started yet
        session=session,
        workspace_id=company.workspace_id,
        cycle_id=company.cycle.id,
        owner_id="U0CEO",
        title="Fresh",
        key_results=[KRSpec("New", KRKind.INCREASE, 10)],
        now=NOW - timedelta(days=7),
    )
    session.commit()
    tree = load_tree(session=session, workspace_id=company.workspace_id, today=NOW.date())
    assert summary_line(tree) == "3 objectives · 💤 2 no recent data · ⚪ 1 not started"
    # Far behind pace three months in: one objective off track, the other still quiet.
    [first, *_] = tree.krs_of(company.platform.id)
    record_check_in(
        session=session,
        workspace_id=company.workspace_id,
        key_result_id=first.id,
        author_id="U0CEO",
        value=1000,
        period_start=date(2026, 3, 30),
        now=NOW,
    )
    session.commit()
    tree = load_tree(session=session, workspace_id=company.workspace_id, today=NOW.date())
    summary = "3 objectives · 🔴 1 off track · 💤 1 no recent data · ⚪ 1 not started"
    assert summary_line(tree) == summary
    status = build_status_message(tree=tree, scope="all objectives", now=NOW)
    mine = build_mine_message(tree=tree, user_id="U0CEO", now=NOW)
    for message in (status, mine):
        text = mrkdwn_text(message)
        assert summary in text
        assert "0 on track" not in text and "0 at risk" not in text


def test_confirmation_and_dialogs(session: Session) -> None:
    company = reference_company(session)
    child = create_objective(
        session=session,
        workspace_id="T0REF",
        cycle_id=company.cycle.id,
        owner_id="U2",
        title="Child",
        parent_id=company.platform.id,
    )
    tree = load_tree(session=session, workspace_id="T0REF", today=NOW.date())
    confirmation = build_objective_confirmation(tree=tree, objective=child, now=NOW, created=True)
    assert validate_message(confirmation) == []
    assert "ladders up to *Launch a new communication platform*" in all_text(confirmation)
    krs = [(kr, tree.objective(kr.objective_id)) for kr in tree.key_results]
    checkin = build_checkin_modal(krs=krs, origin={"channel_id": "C1"})
    assert validate_view(checkin) == []
    assert build_align_modal(objective=child, parent=company.platform)["blocks"][1]["element"][
        "initial_option"
    ]["value"] == str(company.platform.id)
    archive = build_archive_modal(objective=company.platform, children=[child], parent=None)
    assert validate_view(archive) == [] and "move up to the top level" in all_text(archive)


def test_the_checkin_modal_is_read_back_as_typed(session: Session) -> None:
    reference_company(session)
    tree = load_tree(session=session, workspace_id="T0REF", today=NOW.date())
    krs = [(kr, tree.objective(kr.objective_id)) for kr in tree.key_results]
    first, second = krs[0][0].id, krs[1][0].id
    modal = build_checkin_modal(krs=krs, origin={"channel_id": "C1"})
    typed = {
        f"value:{first}": {f"value:{first}": " 1.5k "},
        f"confidence:{first}": {f"confidence:{first}": "7"},
        "note": {"note": "Shipped <b>"},
    }
    view = {**modal, "id": "V9", "state": {"values": state_values(modal["blocks"], typed)}}
    form = checkin_from_state(view)
    assert form.form_id == "V9" and form.note == "Shipped <b>" and form.blocker == ""
    assert [a.key_result_id for a in form.answers] == [kr.id for kr, _ in krs]
    assert (form.answers[0].value, form.answers[0].confidence) == (" 1.5k ", "7")
    assert form.answers[1].key_result_id == second and form.answers[1].confidence is None
    assert all(a.has_value_field for a in form.answers)


def test_cycle_grades_and_team_replies(session: Session) -> None:
    company = reference_company(session)
    close_cycle(session=session, workspace_id="T0REF", cycle_id=company.cycle.id, now=NOW)
    tree = load_tree(
        session=session, workspace_id="T0REF", today=NOW.date(), cycle_ids=[company.cycle.id]
    )
    grades = build_cycle_grades(CycleClosed(company.cycle, tree))
    assert validate_message(grades) == []
    assert "🔴 *0.00*  Launch a new communication platform" in all_text(grades)
    assert grades["blocks"][1]["text"]["text"].startswith("🔴 *Average grade 0.00* across 2")
    assert grades["text"].endswith("average 0.00")
    team = Team(id=1, workspace_id="T0REF", name=HOSTILE)
    for reply in (
        build_team_reply(TeamList([team], {1: ["C1"]})),
        build_team_reply(TeamChanged("created", team)),
        build_team_reply(Unrecognized("team")),
    ):
        assert validate_message(reply) == [] and "<!channel>" not in mrkdwn_text(reply)


def _draft(**changes) -> ObjectiveDraft:
    base = ObjectiveDraft(
        title="Launch",
        owner_id="U1",
        cycle_id=1,
        krs=[
            KRDraft(
                text="Grow MRR from $50k to $120k",
                kind="increase",
                start="50k",
                target="120k",
                unit="$",
                due=date(2026, 6, 30),
            ),
            KRDraft(),
        ],
    )
    return replace(base, **changes)


def test_objective_modal_limits_and_state_round_trip() -> None:
    draft = _draft(
        krs=[KRDraft(text=f"KR {i}") for i in range(8)], rev=3, parent_id=7, parent_label="Parent"
    )
    view = build_objective_modal(draft=draft, teams=[(1, "Eng")], cycles=[(1, "Q2 2026")])
    assert validate_view(view) == []
    assert len(view["blocks"]) <= 100
    assert all(b["block_id"].endswith("@3") for b in view["blocks"] if b["type"] == "input")
    assert not any(b["type"] == "actions" for b in view["blocks"])  # 8 is the most

    two = build_objective_modal(draft=_draft(), teams=[], cycles=[(1, "Q2 2026")])
    # What Slack would send back if the person submitted the prefilled form as it is.
    view_back = {**two, "id": "V1", "state": {"values": state_values(two["blocks"], None)}}
    back = draft_from_state(view_back)
    assert back.title == "Launch" and back.owner_id == "U1" and back.cycle_id == 1
    assert back.krs[0] == _draft().krs[0]
    assert back.krs[1] == KRDraft()


def test_suggested_krs_show_only_when_on_and_fit_a_full_form() -> None:
    from bot.blocks.objective_modal import SuggestPanel, suggestions_in

    off = build_objective_modal(draft=_draft(), teams=[], cycles=[(1, "Q2 2026")])
    assert "kr_suggest" not in all_text(off)
    sentences = (
        "Reach 100 <b>paying</b> & happy teams by Jun 30",  # user-ish text: escaped
        "Cut churn from 4% to 2% by Jun 30",
        "Improve morale",  # the parser cannot read it: not shown, whatever the view says
    )
    panel = SuggestPanel(source="<llama>", sentences=sentences, note="1 left <out>")
    view = build_objective_modal(
        draft=_draft(), teams=[], cycles=[(1, "Q2 2026")], today=date(2026, 4, 5), suggest=panel
    )
    assert validate_view(view) == []
    text = mrkdwn_text(view)
    assert "Suggested by &lt;llama&gt;" in text and "1 left &lt;out&gt;" in text
    assert "*Reach 100 &lt;b&gt;paying&lt;/b&gt; &amp; happy teams by Jun 30*" in text
    assert "Improve morale" not in all_text(view)
    assert suggestions_in(view) == sentences[:2]  # the Add buttons carry them, as typed
    actions = [b for b in view["blocks"] if b["type"] == "actions"][-1]
    assert [e["action_id"] for e in actions["elements"]] == ["kr_add", "kr_suggest"]

    # Eight KRs with every field shown, each due after the cycle (a warning each): 95 blocks.
    # The note and one offer take what is left of Slack's 100.
    full = _draft(krs=[replace(_draft().krs[0], details=True) for _ in range(8)])
    three = SuggestPanel(
        source="m",
        sentences=(*sentences[:2], "Reach 200 teams by Jun 30"),
        note="n",
    )
    crowded = build_objective_modal(
        draft=full,
        teams=[],
        cycles=[(1, "Q2 2026")],
        cycle_ends={1: date(2026, 5, 31)},
        today=date(2026, 4, 5),
        suggest=three,
    )
    assert validate_view(crowded) == [] and len(crowded["blocks"]) == 100
    assert suggestions_in(crowded) == sentences[:1]  # the first that fits
    asking = build_objective_modal(
        draft=_draft(),
        teams=[],
        cycles=[(1, "Q2 2026")],
        suggest=SuggestPanel(source="m", sentences=sentences, asking=True),
    )
    assert 'kr_suggest"' not in all_text(asking) and "⏳ Asking m" in all_text(asking)


def test_command_text_entities_are_read_back_as_typed() -> None:
    from bot.blocks.text import escape, unescape

    typed = "Q1 & beyond <!channel> <@U0EVE|eve>"
    assert unescape(escape(typed)) == typed
    assert unescape("a &amp;lt; b") == "a &lt; b"  # one level only


def test_a_big_status_shows_as_many_levels_as_fit_and_counts_the_rest(session: Session) -> None:
    company = reference_company(session)
    ws, cycle = company.workspace_id, company.cycle.id
    spec = [KRSpec("Measure it", KRKind.INCREASE, 10, start_value=0)]
    children = [
        create_objective(
            session=session,
            workspace_id=ws,
            cycle_id=cycle,
            owner_id="U2",
            title=f"Child {i}",
            parent_id=company.platform.id,
            key_results=spec,
        ).id
        for i in range(9)
    ]
    for i in range(2):
        create_objective(
            session=session,
            workspace_id=ws,
            cycle_id=cycle,
            owner_id="U3",
            title=f"Grandchild {i}",
            parent_id=children[0],
            key_results=spec,
        )
    tree = load_tree(session=session, workspace_id=ws, today=NOW.date())
    message = build_status_message(
        tree=tree, scope="all objectives", now=NOW, names={"U0CEO": "Maya", "U2": "Dev"}
    )
    assert validate_message(message) == []
    objectives = [b["text"]["text"] for b in message["blocks"] if b.get("accessory")]
    # 13 objectives: two levels (11) fit in a collapsed status, the third is counted.
    heads = [t.split("\n")[0].strip("\u2003↳ ") for t in objectives]
    assert heads[:3] == ["*Launch a new communication platform*", "*Child 0*", "*Child 1*"]
    assert len(heads) == 11 and "Grandchild" not in all_text(message)
    assert "aligned objective" not in objectives[0]  # its children are right below it
    assert "↳ 2 aligned objectives" in objectives[1]
    assert "Measure it" not in all_text(message)  # no KR lines past 8 objectives
    assert "· Maya ·" in objectives[0] and "· Dev ·" in objectives[1]
    assert "<@" not in mrkdwn_text(message)
    assert "· someone ·" not in all_text(message)  # every owner shown was named


def test_a_small_closed_cycle_shows_every_grade_in_status(session: Session) -> None:
    from bot.services.trees import open_or_last_closed

    company = reference_company(session)
    close_cycle(session=session, workspace_id="T0REF", cycle_id=company.cycle.id, now=NOW)
    assert load_tree(session=session, workspace_id="T0REF", today=NOW.date()).objectives == []
    tree = open_or_last_closed(session=session, workspace_id="T0REF", today=NOW.date(), limit=50)
    message = build_status_message(
        tree=tree, scope="all objectives", now=NOW, names={"U0CEO": "Maya"}
    )
    assert validate_message(message) == []
    text = mrkdwn_text(message)
    assert "*H1 2026* is closed · 2 objectives · average grade *0.0* · 🔴 2" in text
    assert "🟢 0" not in text and "🟡 0" not in text  # only the grade bands there are
    assert "🔴 *0.0*  *Launch a new communication platform* · Maya" in text
    assert "🔴 0.0 · Resolve 90% of customer inquiries within 24 hours" in text  # KR grades
    assert "No objectives here yet" not in text and "<@" not in text


def test_a_kr_never_checked_in_says_since_when_it_is_quiet(session: Session) -> None:
    """Never checked in, a KR is ⚪ until two periods after it was set, then 💤 with the day
    its quiet counts from: the day it was set, or its cycle's start when it was set while
    planning (bot/okr/pace.py, rule 5). User text on the line stays escaped."""
    set_on = datetime(2026, 2, 3, 15, tzinfo=UTC)  # in the cycle (it began on Jan 5)
    company = reference_company(session, now=set_on)
    create_objective(
        session=session,
        workspace_id=company.workspace_id,
        cycle_id=company.cycle.id,
        owner_id="U1",
        title="Quiet",
        key_results=[KRSpec(HOSTILE, KRKind.INCREASE, 10)],
        now=set_on,
    )
    session.commit()

    def kr_lines(today: date) -> list[str]:
        tree = load_tree(session=session, workspace_id=company.workspace_id, today=today)
        now = datetime.combine(today, datetime.min.time(), UTC)
        message = build_status_message(tree=tree, scope="all", now=now)
        assert validate_message(message) == []
        return [x for x in mrkdwn_text(message).splitlines() if x.strip().startswith("•")]

    before = kr_lines(date(2026, 2, 16))
    assert before and all("⚪" in x and "💤" not in x for x in before), before
    quiet = kr_lines(date(2026, 2, 17))
    assert quiet and all("💤 no check-in since it was set on Feb 3" in x for x in quiet), quiet
    hostile = next(x for x in quiet if "&lt;!channel&gt;" in x)
    assert "<!channel>" not in hostile and "<@U123>" not in hostile


def test_a_kr_set_while_planning_is_quiet_from_its_cycles_start(session: Session) -> None:
    company = reference_company(session, now=datetime(2025, 12, 20, tzinfo=UTC))
    tree = load_tree(session=session, workspace_id=company.workspace_id, today=date(2026, 1, 18))
    text = mrkdwn_text(build_status_message(tree=tree, scope="all", now=NOW))
    assert "💤" not in text  # Jan 5 + 14 days: quiet from Jan 19, not from Jan 3
    tree = load_tree(session=session, workspace_id=company.workspace_id, today=date(2026, 1, 19))
    text = mrkdwn_text(build_status_message(tree=tree, scope="all", now=NOW))
    lines = [x for x in text.splitlines() if x.strip().startswith("•")]
    assert lines and all("💤 no check-in since its cycle began on Jan 5" in x for x in lines)
