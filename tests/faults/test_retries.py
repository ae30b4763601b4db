"""Slack's event retries and double-submitted modals: each has one effect, never twin rows.

Slack resends an event (same event_id, X-Slack-Retry-Num 1, 2, 3) when the first delivery
was not acknowledged in time; it does not say whether the app acted on it. A person can
press Submit twice, or Slack can deliver one press twice. In both cases the app must end in
the state one delivery leaves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from storage.models import Workspace
from storage.objectives import archive_objective, create_objective, find_recent_twin
from tests.factories import reference_company
from tests.faults.helpers import ListenerRuns, snapshot, web_api_calls
from tests.slack.conftest import ACME, CEO, DEV, Ladder
from tests.slack.flows import fill, open_new_objective

RETRIES = (1, 2, 3)


def _deliveries(ladder: Ladder, event: dict[str, Any]) -> list[Callable[[], httpx.Response]]:
    """The event, then Slack's three retries of it: the very same envelope each time."""
    event_id, event_time = "Ev0RETRIED01", int(time.time())
    event = {**event, "event_ts": f"{event_time}.000100"}
    retries = [{"retry_num": n, "retry_reason": "http_timeout"} for n in RETRIES]
    return [
        lambda extra=extra: ladder.acme.event(
            event, event_id=event_id, event_time=event_time, **extra
        )
        for extra in [{}, *retries]
    ]


def test_a_retried_home_event_publishes_one_home_and_stores_nothing_twice(
    ladder: Ladder,
) -> None:
    with Session(ladder.engine, expire_on_commit=False) as session:
        reference_company(session, workspace_id=ACME, owner_id=DEV)
    first, *retries = _deliveries(
        ladder, {"type": "app_home_opened", "user": DEV, "channel": "D0DEV", "tab": "home"}
    )
    assert first().status_code == 200
    [published] = ladder.standin.wait_for("views.publish")
    rows = snapshot(ladder.engine)

    for retry in retries:
        assert retry().status_code == 200
    # Each delivery is handled (the first may have been lost in transit), and publishing
    # the Home tab is idempotent: the person sees one Home, and no row is added or changed.
    publishes = ladder.standin.wait_for("views.publish", count=1 + len(retries))
    assert all(p.ok for p in publishes)
    assert {str(p.args["view"]) for p in publishes} == {str(published.args["view"])}
    assert snapshot(ladder.engine) == rows
    # Home names owners (never mentions them): the name is asked once, then cached; and it
    # carries DEV's objective chart (bot/pictures.py): uploaded once, the retries reuse it.
    uploads = {"files.getUploadURLExternal", "upload", "files.completeUploadExternal"}
    allowed = {"auth.test", "views.publish", "users.info", *uploads}
    assert set(web_api_calls(ladder.standin)) <= allowed
    assert len(ladder.standin.calls("users.info")) == 1
    assert len(ladder.standin.calls("files.getUploadURLExternal")) == 1


def test_a_retried_uninstall_keeps_the_first_deactivation(
    ladder: Ladder, listener_runs: ListenerRuns
) -> None:
    with Session(ladder.engine, expire_on_commit=False) as session:
        reference_company(session, workspace_id=ACME, owner_id=CEO)
    uninstalled_at = ladder.clock.now

    def workspaces() -> list[Workspace]:
        with Session(ladder.engine) as session:
            return list(session.exec(select(Workspace)).all())

    for n, delivery in enumerate(_deliveries(ladder, {"type": "app_uninstalled"}), start=1):
        assert delivery().status_code == 200
        # Bolt acks events before handling them: wait for this delivery's run to finish.
        listener_runs.wait_finished(n)
        assert workspaces()[0].updated_at == ladder.clock.now  # handled now
        ladder.clock.advance(minutes=1)  # Slack retries minutes apart

    [row] = workspaces()
    assert row.active is False
    # Retention counts from the first notice: a retry must not postpone the purge.
    assert row.deactivated_at == uninstalled_at
    assert web_api_calls(ladder.standin) in ([], ["auth.test"])


def test_a_twin_is_only_the_same_form_submitted_again(session: Session) -> None:
    """What counts as a double submission: same owner, cycle, team, text and KRs, recently."""
    company = reference_company(session, workspace_id=ACME, owner_id=CEO)
    now = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)
    krs = [KRSpec("Grow weekly active users", KRKind.INCREASE, 500, start_value=100)]
    form: dict[str, Any] = {
        "workspace_id": ACME,
        "cycle_id": company.cycle.id,
        "owner_id": CEO,
        "title": "Win the market",
        "description": "Why: because.",
        "key_results": krs,
    }
    created = create_objective(session=session, now=now, **form)
    session.commit()
    since = now - timedelta(minutes=10)

    def twin(**changes: Any) -> int | None:
        found = find_recent_twin(session=session, since=since, **form | changes)
        return found.id if found else None

    assert twin() == created.id
    assert twin(title="  Win   the market ") == created.id  # stored cleaned, compared cleaned
    assert twin(title="Win the market!") is None
    assert twin(owner_id=DEV) is None
    assert twin(description="") is None
    assert twin(key_results=[*krs, KRSpec("Ship it", KRKind.MILESTONE, 1)]) is None
    # Same words, other numbers or unit: another objective, not a second click.
    assert twin(key_results=[replace(krs[0], target_value=600)]) is None
    assert twin(key_results=[replace(krs[0], unit_label="people")]) is None
    assert twin(key_results=[]) is None
    assert find_recent_twin(session=session, since=now + timedelta(seconds=1), **form) is None
    archive_objective(session=session, workspace_id=ACME, objective_id=created.id, now=now)  # type: ignore[arg-type]
    assert twin() is None


# ------------------------------------------------------------------ double submissions


def _twice(submit: Callable[[], httpx.Response], *, concurrent: bool) -> list[httpx.Response]:
    if not concurrent:
        return [submit(), submit()]
    start = threading.Barrier(2)

    def go() -> httpx.Response:
        start.wait(timeout=5)
        return submit()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda _: go(), range(2)))


@pytest.mark.parametrize("concurrent", [True, False], ids=["concurrent", "one-after-the-other"])
def test_a_new_objective_submitted_twice_is_stored_once(
    ladder: Ladder, concurrent: bool, listener_runs: ListenerRuns
) -> None:
    view = open_new_objective(ladder, "Win the market", fields=[0, 1])
    values = fill(
        view,
        title="Win the market",
        kr0_text="Grow weekly active users",
        kr0_kind="increase",
        kr0_start="100",
        kr0_target="500",
        kr1_text="Ship the mobile app",
        kr1_kind="milestone",
    )
    trigger = ladder.standin.issue_trigger_id(ACME, user_id=CEO, view_id=view["id"])

    answers = _twice(
        lambda: ladder.acme.view_submission(view, user_id=CEO, values=values, trigger_id=trigger),
        concurrent=concurrent,
    )

    assert [a.status_code for a in answers] == [200, 200]
    assert [a.text for a in answers] == ["", ""]  # both close the modal: the person is done
    rows = snapshot(ladder.engine)
    assert [o["title"] for o in rows["objective"]] == ["Win the market"]
    [objective_id] = [o["id"] for o in rows["objective"]]
    assert sorted((k["objective_id"], k["title"]) for k in rows["key_result"]) == [
        (objective_id, "Grow weekly active users"),
        (objective_id, "Ship the mobile app"),
    ]
    # The owner is told about that one objective, once.
    listener_runs.wait_idle()
    [dm] = ladder.standin.calls("chat.postMessage")
    assert dm.ok and dm.args["channel"] == CEO


@pytest.mark.parametrize("concurrent", [True, False], ids=["concurrent", "one-after-the-other"])
def test_a_check_in_submitted_twice_is_recorded_once(ladder: Ladder, concurrent: bool) -> None:
    with Session(ladder.engine, expire_on_commit=False) as session:
        reference_company(session, workspace_id=ACME, owner_id=CEO)
    assert ladder.acme.slash_command("checkin", user_id=CEO).status_code == 200
    opened = ladder.standin.wait_for("views.open")[-1]
    assert opened.ok, opened.response
    view = opened.response["view"]
    kr_ids = [
        int(b["block_id"].split(":")[1])
        for b in view["blocks"]
        if b.get("block_id", "").startswith("value:")
    ]
    typed = {k: str(10 + n) for n, k in enumerate(kr_ids)}
    values = {f"value:{k}": {f"value:{k}": typed[k]} for k in kr_ids}
    trigger = ladder.standin.issue_trigger_id(ACME, user_id=CEO, view_id=view["id"])

    answers = _twice(
        lambda: ladder.acme.view_submission(view, user_id=CEO, values=values, trigger_id=trigger),
        concurrent=concurrent,
    )

    assert [a.status_code for a in answers] == [200, 200]
    assert [a.text for a in answers] == ["", ""]
    rows = snapshot(ladder.engine)
    assert sorted(c["key_result_id"] for c in rows["check_in"]) == sorted(kr_ids)
    assert {c["key_result_id"]: c["value"] for c in rows["check_in"]} == {
        k: float(v) for k, v in typed.items()
    }
    current = {k["id"]: k["current_value"] for k in rows["key_result"] if k["id"] in typed}
    assert current == {k: float(v) for k, v in typed.items()}
    # previous_value is the value before this period, not the twin's value.
    assert {c["previous_value"] for c in rows["check_in"]} == {None}
    ladder.standin.wait_for("chat.postEphemeral", count=1)
