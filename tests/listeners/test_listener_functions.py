"""Listeners are module-level functions: called here as Bolt calls them, with a fake ack and
respond and the services in the context (where bot.listeners.provide puts them)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa
from slack_bolt import BoltContext
from slack_sdk import WebClient
from sqlmodel import Session, col, select

from bot.app import make_deps
from bot.listeners import DEPS, Deps
from bot.listeners.commands import later, okr_now
from bot.listeners.options import objective_options
from bot.listeners.views import CHECKED_IN, save_check_in
from bot.okr.kinds import KRKind
from bot.okr.numbers import NumberInputError, parse_number_input
from bot.okr.validate import KRSpec
from storage.cycles import create_cycle
from storage.models import CheckIn, KeyResult
from storage.objectives import create_objective
from storage.workspaces import ensure_workspace

WS, OWNER = "T0UNIT", "U0OWNER"
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
NO_CLIENT = cast(WebClient, None)  # these calls never reach Slack


class Recorder:
    """A fake ack or respond: remembers each call's arguments."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


@pytest.fixture
def deps(engine: sa.Engine) -> Deps:
    return make_deps(engine, clock=lambda: NOW)


@pytest.fixture
def kr_id(engine: sa.Engine) -> int:
    """OWNER's objective "Ship the platform" with one KR of theirs."""
    with Session(engine, expire_on_commit=False) as session:
        ensure_workspace(session=session, workspace_id=WS, name="Unit Inc")
        cycle = create_cycle(
            session=session,
            workspace_id=WS,
            name="Q1 2026",
            start_date=date(2026, 1, 1),
            end_date=date(2026, 3, 31),
        )
        create_objective(
            session=session,
            workspace_id=WS,
            cycle_id=cycle.id,  # type: ignore[arg-type]
            owner_id=OWNER,
            title="Ship the platform",
            key_results=[KRSpec("Reach 1,000 users", KRKind.INCREASE, 1000, start_value=0)],
            now=NOW - timedelta(days=30),
        )
        session.commit()
        found = session.exec(select(KeyResult.id)).one()
    assert found is not None
    return found


def context_for(deps: Deps, user_id: str = OWNER) -> BoltContext:
    return BoltContext({DEPS: deps, "team_id": WS, "user_id": user_id})


def checkin_body(kr_id: int, typed: str) -> dict[str, Any]:
    values = {f"value:{kr_id}": {f"value:{kr_id}": {"type": "plain_text_input", "value": typed}}}
    view = {"id": "V0UNIT", "state": {"values": values}, "private_metadata": "{}"}
    return {"team": {"id": WS}, "user": {"id": OWNER}, "view": view}


def stored(engine: sa.Engine) -> list[tuple[int, str, float | None]]:
    with Session(engine) as session:
        rows = session.exec(select(CheckIn).order_by(col(CheckIn.id))).all()
        return [(c.key_result_id, c.author_id, c.value) for c in rows]


def test_a_check_in_that_is_not_a_number_is_answered_on_its_field(
    engine: sa.Engine, deps: Deps, kr_id: int
) -> None:
    ack = Recorder()
    context = context_for(deps)
    save_check_in(ack=ack, body=checkin_body(kr_id, "lots"), context=context, client=NO_CLIENT)
    with pytest.raises(NumberInputError) as refused:
        parse_number_input("lots")
    assert ack.calls == [
        {"response_action": "errors", "errors": {f"value:{kr_id}": refused.value.message}}
    ]
    assert CHECKED_IN not in context
    assert stored(engine) == []


def test_a_check_in_is_saved_and_handed_to_its_follow_up(
    engine: sa.Engine, deps: Deps, kr_id: int
) -> None:
    ack = Recorder()
    context = context_for(deps)
    save_check_in(ack=ack, body=checkin_body(kr_id, "250"), context=context, client=NO_CLIENT)
    assert ack.calls == [{}]  # closes the modal
    assert context[CHECKED_IN]["count"] == 1 and context[CHECKED_IN]["moved"] == [kr_id]
    assert stored(engine) == [(kr_id, OWNER, 250)]


def test_the_parent_picker_offers_matching_objectives_only(deps: Deps, kr_id: int) -> None:
    view = {"private_metadata": json.dumps({})}
    ack = Recorder()
    body = {"team": {"id": WS}, "view": view, "value": "platform"}
    objective_options(ack=ack, body=body, context=context_for(deps))
    [call] = ack.calls
    [group] = call["option_groups"]
    assert [o["text"]["text"] for o in group["options"]] == ["Ship the platform"]
    ack = Recorder()
    objective_options(ack=ack, body={**body, "value": "revenue"}, context=context_for(deps))
    assert ack.calls == [{"options": []}]


def test_a_command_is_acked_at_once_and_answered_after(deps: Deps) -> None:
    body = {"team_id": WS, "user_id": OWNER, "channel_id": "C0UNIT", "text": "vision"}
    ack, respond = Recorder(), Recorder()
    context = context_for(deps)
    okr_now(ack=ack, body=body, context=context, client=NO_CLIENT, respond=respond)
    assert (ack.calls, respond.calls) == ([{}], [])  # no modal: nothing before the answer
    later(body=body, context=context, client=NO_CLIENT, respond=respond)
    [answer] = respond.calls
    assert "The vision is not set yet" in answer["text"]
