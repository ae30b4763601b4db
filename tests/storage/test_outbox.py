"""The outbox queries the sender and the planner lean on: claims that leave rows in hand
alone, and the narrow view of what is planned."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from storage import outbox
from storage.models import OutboxState
from storage.workspaces import ensure_workspace

NOW = datetime(2026, 3, 4, 11, 0, tzinfo=UTC)
PERIOD = date(2026, 3, 2)
WS = "T0OUT"


def _plan(session: Session, recipients: list[str], kind: str = "prompt") -> None:
    outbox.plan_messages(
        session=session,
        workspace_id=WS,
        planned=[outbox.PlannedMessage(r, PERIOD, kind, NOW) for r in recipients],
    )


def test_claims_never_take_rows_the_caller_still_holds(session: Session) -> None:
    ensure_workspace(session=session, workspace_id=WS)
    _plan(session, [f"U{i}" for i in range(6)])
    first = outbox.claim_due(session=session, now=NOW, limit=3, reclaim_after=timedelta(0))
    session.commit()
    held = {c.message.id for c in first}
    assert len(held) == 3

    # reclaim_after 0: every claimed row is stale at once, yet those in hand stay put.
    again = outbox.claim_due(
        session=session, now=NOW, limit=10, reclaim_after=timedelta(0), exclude_ids=held
    )
    session.commit()
    assert len(again) == 3 and not held & {c.message.id for c in again}
    assert not any(c.maybe_sent for c in again)
    assert {m.attempts for m in outbox.list_messages(session=session, workspace_id=WS)} == {1}

    # Without the exclusion, a stale claim comes back flagged as maybe sent (as before).
    stale = outbox.claim_due(
        session=session,
        now=NOW,
        limit=10,
        reclaim_after=timedelta(0),
        exclude_ids={c.message.id for c in again},
    )
    assert {c.message.id for c in stale} == held and all(c.maybe_sent for c in stale)


def test_list_planned_reads_where_each_row_stands(session: Session) -> None:
    ensure_workspace(session=session, workspace_id=WS)
    ensure_workspace(session=session, workspace_id="T0OTHER")
    _plan(session, ["U1", "U2"])
    _plan(session, ["U1"], kind="reminder1")
    _plan(session, ["C0DIGEST"], kind="digest")
    outbox.plan_messages(
        session=session,
        workspace_id=WS,
        planned=[outbox.PlannedMessage("U3", PERIOD - timedelta(days=7), "prompt", NOW)],
    )
    outbox.plan_messages(
        session=session,
        workspace_id="T0OTHER",
        planned=[outbox.PlannedMessage("U1", PERIOD, "prompt", NOW)],
    )
    [u1] = [
        m
        for m in outbox.list_messages(session=session, workspace_id=WS, kinds=["prompt"])
        if m.recipient == "U1"
    ]
    outbox.mark_sent(session=session, message_id=u1.id, channel_id="D1", ts="1.0", now=NOW)  # type: ignore[arg-type]
    session.commit()

    rows = outbox.list_planned(
        session=session, workspace_id=WS, periods=[PERIOD], kinds=["prompt", "reminder1"]
    )
    assert sorted(rows, key=lambda r: (r.recipient, r.kind)) == [
        outbox.Planned("U1", PERIOD, "prompt", OutboxState.SENT, NOW),
        outbox.Planned("U1", PERIOD, "reminder1", OutboxState.PLANNED, None),
        outbox.Planned("U2", PERIOD, "prompt", OutboxState.PLANNED, None),
    ]
    assert outbox.list_planned(session=session, workspace_id=WS, periods=[], kinds=["prompt"]) == []


def test_a_check_in_does_not_answer_a_request_for_reflections(session: Session) -> None:
    """A cycle starting on a check-in period's first day shares its period_start: answering
    the weekly prompt settles the prompt and its reminders, never the reflection DM."""
    ensure_workspace(session=session, workspace_id=WS)
    _plan(session, ["U1"])
    _plan(session, ["U1"], kind="reminder1")
    _plan(session, ["U1"], kind="reflect:7")
    outbox.mark_answered(
        session=session, workspace_id=WS, user_id="U1", period_start=PERIOD, now=NOW
    )
    states = {m.kind: m.state for m in outbox.list_messages(session=session, workspace_id=WS)}
    assert states == {
        "prompt": OutboxState.SKIPPED,
        "reminder1": OutboxState.SKIPPED,
        "reflect:7": OutboxState.PLANNED,
    }
