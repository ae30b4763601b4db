"""429 storms and 500s: during a big fan-out, and while people use the modals.

tests/slack/test_delivery_faults.py sends four prompts through a solid 429 storm and a run
of 500s. Here a few hundred prompts meet faults scattered through the whole run (a seeded
mix of 429s and 500s before any call), and the modal flows meet them on views.open,
views.update, chat.update, chat.postMessage and chat.postEphemeral. Nothing may be lost,
nothing duplicated, and no handler may blow up. The WebClient's retry waits are recorded
instead of slept (`retry_waits`), so a storm costs no wall time.
"""

from __future__ import annotations

import logging
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.blocks.checkins import PROMPT_CHECKIN_ACTION
from bot.client import make_client
from bot.jobs.pacing import Pacer
from bot.jobs.sender import METADATA_EVENT, Sender, SendReport
from bot.services.delivery import DeliveryService
from storage.models import OutboxMessage, OutboxState
from tests.factories import reference_company
from tests.faults.helpers import ListenerRuns, describe, seed_people_with_a_kr, snapshot
from tests.slack.conftest import ACME, CEO, DEV, Ladder
from tests.slack.flows import fill, initial, rev_of
from tests.support.slack_standin import SlackStandIn, dm_channel_id

BERLIN_TEN = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)  # Monday, 10:00 in Berlin
FANOUT = 300
Errors = Callable[[], list[logging.LogRecord]]


class Intermittent:
    """Before a share of `method`'s calls, queue a 429 or a 500 for that call (seeded)."""

    def __init__(
        self, standin: SlackStandIn, method: str, *, seed: int, p429: float, p500: float
    ) -> None:
        self.rng = random.Random(seed)
        self.injected: Counter[int] = Counter()
        api = standin._api

        def faulty(name: str, *args: Any, **kwargs: Any) -> Any:
            if name == method:
                roll = self.rng.random()
                if roll < p429:
                    self.injected[429] += 1
                    standin.rate_limit_next(method, retry_after=1)
                elif roll < p429 + p500:
                    self.injected[500] += 1
                    standin.fail_next(method, status=500)
            return api(name, *args, **kwargs)

        standin._api = faulty  # type: ignore[method-assign]


def _people(n: int) -> list[str]:
    return [f"U0S{i:04d}" for i in range(n)]


def _seed_fanout(ladder: Ladder, users: list[str]) -> None:
    """One KR each for `users`, all in Berlin, created a fortnight ago; profiles known."""
    for user in users:
        ladder.standin.add_user(ACME, user, tz="Europe/Berlin")
    with Session(ladder.engine, expire_on_commit=False) as session:
        seed_people_with_a_kr(
            session,
            workspace_id=ACME,
            users=users,
            tz="Europe/Berlin",
            now=BERLIN_TEN - timedelta(days=14),
        )
        session.commit()


def test_a_fanout_through_scattered_429s_and_500s_asks_everyone_exactly_once(
    ladder: Ladder,
    retry_waits: list[float],
    app_errors: Callable[[], list[logging.LogRecord]],
) -> None:
    seed = int(os.environ.get("LADDER_FAULT_SEED") or random.SystemRandom().randrange(10**6))
    print(f"fault seed: {seed} (rerun with LADDER_FAULT_SEED={seed})")
    users = _people(FANOUT)
    _seed_fanout(ladder, users)
    ladder.clock.now = BERLIN_TEN
    storm = Intermittent(ladder.standin, "chat.postMessage", seed=seed, p429=0.2, p500=0.1)
    client = make_client(ladder.settings)
    service = DeliveryService(ladder.engine, clock=ladder.clock)

    reports: list[SendReport] = []
    while not reports or reports[-1].deferred:
        assert len(reports) < 10, reports
        # No workspace pace: this test is about faults, and the stand-in has no ceiling.
        sender = Sender(service, lambda _ws: client, pacer=Pacer(per_workspace=None))
        reports.append(sender.run())
        ladder.clock.advance(minutes=1)  # what a deferred row waits for

    total = SendReport()
    for report in reports:
        total.add(report)
    assert (total.sent, total.failed, total.recovered) == (FANOUT, 0, 0), reports
    assert storm.injected[429] > 0 and storm.injected[500] > 0
    assert ladder.standin.ratelimited_count("chat.postMessage") == storm.injected[429]
    assert retry_waits  # the client waited (recorded, not slept) before retrying

    posts = ladder.standin.calls("chat.postMessage")
    accepted = Counter(c.args["channel"] for c in posts if c.ok)
    assert accepted == Counter(users)  # each person exactly once, nobody missed
    with Session(ladder.engine) as session:
        rows = {m.recipient: m for m in session.exec(select(OutboxMessage)).all()}
    for user in users:
        [message] = [
            m
            for m in ladder.standin.messages(dm_channel_id(user))
            if (m.get("metadata") or {}).get("event_type") == METADATA_EVENT
        ]
        assert rows[user].state == OutboxState.SENT
        assert message["metadata"]["event_payload"] == {"outbox_id": rows[user].id}
        assert rows[user].ts == message["ts"]
    assert app_errors() == [], describe(app_errors())


# ------------------------------------------------------------------------ modal flows


@dataclass(frozen=True)
class Fault:
    method: str
    status: int  # 429 or 500
    times: int

    def inject(self, standin: SlackStandIn) -> None:
        if not self.within_budget:
            # Slack is not instant. (An instant failure right after ack() can even undo the
            # ack: Bolt's thread runner then answers Slack nothing for 3 s. See the report.)
            standin.set_latency(self.method, 0.05)
        if self.status == 429:
            standin.rate_limit_next(self.method, retry_after=1, times=self.times)
        else:
            standin.fail_next(self.method, status=self.status, times=self.times)

    @property
    def within_budget(self) -> bool:
        """The WebClient retries a 429 three times and a 5xx twice (bot/app.py)."""
        return self.times <= (3 if self.status == 429 else 2)

    @property
    def calls(self) -> int:
        """Calls Slack sees: the failures, and the retry that gets through if any does."""
        return self.times + self.within_budget


def _ids(faults: list[Fault]) -> list[str]:
    return [f"{f.method}-{f.status}x{f.times}" for f in faults]


def _no_crash(runs: ListenerRuns, app_errors: Errors) -> None:
    """Beyond the retries a listener's Slack call fails after ack(): a logged warning, never
    a crashed listener (which could also cost the ack)."""
    runs.wait_idle()  # the listener's last word is logged once its run is over
    errors = app_errors()
    assert errors == [], describe(errors)


def _ok_call(standin: SlackStandIn, method: str, before: int) -> dict[str, Any]:
    """The response of the first successful `method` call after the first `before` ones."""
    found = standin.wait_for(
        method, count=1, predicate=lambda c: c.ok and standin.calls(method).index(c) >= before
    )
    return found[0].response


NEW_OBJECTIVE_FAULTS = [
    Fault("views.open", 429, 1),
    Fault("views.open", 500, 2),
    Fault("views.update", 429, 3),
    Fault("views.update", 500, 1),
    Fault("chat.postMessage", 429, 2),
    Fault("chat.postMessage", 500, 2),
    Fault("chat.postMessage", 429, 4),  # beyond the retries: the confirmation DM is lost
    Fault("chat.postMessage", 500, 3),
]


@pytest.mark.parametrize("fault", NEW_OBJECTIVE_FAULTS, ids=_ids(NEW_OBJECTIVE_FAULTS))
def test_creating_an_objective_while_slack_fails_stores_it_once(
    ladder: Ladder,
    retry_waits: list[float],
    listener_runs: ListenerRuns,
    app_errors: Errors,
    fault: Fault,
) -> None:
    standin = ladder.standin
    if fault.method == "views.open":
        fault.inject(standin)
    assert ladder.acme.slash_command("new Win the market", user_id=CEO).status_code == 200
    # "Loading…" at the ack, the form put in its place after it
    loading = _ok_call(standin, "views.open", 0)["view"]
    [filled] = standin.wait_for(
        "views.update", predicate=lambda c: c.ok and c.args.get("view_id") == loading["id"]
    )
    view = filled.response["view"]
    updates = len(standin.calls("views.update"))  # the fill's
    earlier = updates if fault.method == "views.update" else 0
    if fault.method == "views.update":
        fault.inject(standin)
    sentence = "Grow weekly active users from 100 to 500"
    rev = rev_of(view)
    ladder.acme.block_action(
        user_id=CEO,
        action_id="kr_text_0",
        view=view,
        value=sentence,
        values={f"kr0_text@{rev}": {"kr_text_0": sentence}},
    )
    view = _ok_call(standin, "views.update", updates)["view"]
    assert initial(view, "kr0_target") == "500"  # the update that got through is shown
    if fault.method == "chat.postMessage":
        fault.inject(standin)

    answer = ladder.acme.view_submission(
        view, user_id=CEO, values=fill(view, title="Win the market")
    )

    assert answer.status_code == 200 and answer.text == "", answer.text  # the modal closes
    listener_runs.wait_idle()  # the confirmation DM goes out after the ack
    rows = snapshot(ladder.engine)
    assert [o["title"] for o in rows["objective"]] == ["Win the market"]
    assert [(k["start_value"], k["target_value"]) for k in rows["key_result"]] == [(100, 500)]
    attempts = standin.wait_for(fault.method, count=earlier + fault.calls)[earlier:]
    assert [c.status for c in attempts[: fault.times]] == [fault.status] * fault.times
    dms = [c for c in standin.calls("chat.postMessage") if c.ok]
    assert [d.args["channel"] for d in dms] == [CEO]  # one DM, to the owner
    if fault.within_budget:
        assert "Win the market" in dms[0].args["text"]  # the confirmation
    else:
        # Stored, and the owner saw the modal close; the confirmation is lost, and a word
        # says so once Slack takes messages again.
        assert dms[0].args["text"].startswith("Your objective is saved.")
    _no_crash(listener_runs, app_errors)
    calls = fault.calls + (0 if fault.within_budget else 1)  # the word after the failure
    assert len(standin.calls(fault.method)) == earlier + calls


def test_a_modal_slack_will_not_open_is_explained(
    ladder: Ladder,
    retry_waits: list[float],
    listener_runs: ListenerRuns,
    app_errors: Errors,
) -> None:
    """views.open refused beyond the retries: nothing is drafted, and the person is told."""
    fault = Fault("views.open", 429, 4)
    fault.inject(ladder.standin)
    before = snapshot(ladder.engine)

    assert ladder.acme.slash_command("new Win the market", user_id=CEO).status_code == 200

    assert len(ladder.standin.wait_for("views.open", count=4)) == 4
    after = snapshot(ladder.engine)
    assert after["objective"] == before["objective"] == []
    listener_runs.wait_idle()
    assert app_errors() == []
    assert "try again" in (ladder.standin.responses[-1].text or "").lower()


CHECKIN_FAULTS = [
    Fault("views.open", 429, 3),
    Fault("views.open", 500, 1),
    Fault("chat.update", 429, 2),
    Fault("chat.update", 500, 2),
    Fault("chat.update", 500, 3),  # beyond the retries: the prompt keeps its buttons
]


@pytest.mark.parametrize("fault", CHECKIN_FAULTS, ids=_ids(CHECKIN_FAULTS))
def test_checking_in_from_the_prompt_while_slack_fails_records_once(
    ladder: Ladder,
    retry_waits: list[float],
    listener_runs: ListenerRuns,
    app_errors: Errors,
    fault: Fault,
) -> None:
    ladder.clock.now = BERLIN_TEN - timedelta(days=14)
    with Session(ladder.engine, expire_on_commit=False) as session:
        reference_company(session, workspace_id=ACME, owner_id=DEV, now=ladder.clock.now)
    ladder.clock.now = BERLIN_TEN
    client = make_client(ladder.settings)
    service = DeliveryService(ladder.engine, clock=ladder.clock)
    assert Sender(service, lambda _: client).run().sent == 1
    [prompt] = [c.response["message"] for c in ladder.standin.calls("chat.postMessage")]

    if fault.method == "views.open":
        fault.inject(ladder.standin)
    click = ladder.acme.block_action(user_id=DEV, action_id=PROMPT_CHECKIN_ACTION, message=prompt)
    assert click.status_code == 200
    view = _ok_call(ladder.standin, "views.open", 0)["view"]
    kr_ids = [int(b["block_id"][6:]) for b in view["blocks"] if b["block_id"].startswith("value:")]
    values = {f"value:{k}": {f"value:{k}": str(n + 1)} for n, k in enumerate(kr_ids)}
    if fault.method == "chat.update":
        fault.inject(ladder.standin)

    answer = ladder.acme.view_submission(view, user_id=DEV, values=values)

    assert answer.status_code == 200 and answer.text == "", answer.text
    ladder.standin.wait_for(fault.method, count=fault.calls)
    listener_runs.wait_idle()  # the prompt is replaced after the ack
    rows = snapshot(ladder.engine)
    assert sorted((c["key_result_id"], c["value"]) for c in rows["check_in"]) == sorted(
        (k, float(n + 1)) for n, k in enumerate(kr_ids)
    )
    [outbox] = rows["outbox_message"]
    assert outbox["state"] == OutboxState.ANSWERED
    shown = ladder.standin.message(dm_channel_id(DEV), prompt["ts"])
    assert shown is not None
    if fault.within_budget:
        assert "✅" in shown["text"]  # the prompt became the record of the answer
    else:
        assert shown["text"] == prompt["text"]  # recorded; only the prompt was not replaced
    _no_crash(listener_runs, app_errors)
    assert len(ladder.standin.calls(fault.method)) == fault.calls


EPHEMERAL_FAULTS = [Fault("chat.postEphemeral", 429, 1), Fault("chat.postEphemeral", 500, 2)]


@pytest.mark.parametrize("fault", EPHEMERAL_FAULTS, ids=_ids(EPHEMERAL_FAULTS))
def test_the_check_in_thank_you_survives_a_hiccup(
    ladder: Ladder,
    retry_waits: list[float],
    listener_runs: ListenerRuns,
    app_errors: Errors,
    fault: Fault,
) -> None:
    with Session(ladder.engine, expire_on_commit=False) as session:
        reference_company(session, workspace_id=ACME, owner_id=CEO)
    assert ladder.acme.slash_command("checkin", user_id=CEO).status_code == 200
    view = ladder.standin.wait_for("views.open")[-1].response["view"]
    kr_ids = [int(b["block_id"][6:]) for b in view["blocks"] if b["block_id"].startswith("value:")]
    fault.inject(ladder.standin)

    answer = ladder.acme.view_submission(
        view, user_id=CEO, values={f"value:{k}": {f"value:{k}": "3"} for k in kr_ids}
    )

    assert answer.status_code == 200 and answer.text == ""
    calls = ladder.standin.wait_for("chat.postEphemeral", count=fault.calls)
    assert [c.ok for c in calls] == [False] * fault.times + [True]
    assert "Checked in on 5 key results" in calls[-1].args["text"]
    assert len(snapshot(ladder.engine)["check_in"]) == 5
    listener_runs.wait_idle()
    assert app_errors() == [], describe(app_errors())
