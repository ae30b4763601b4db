from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from storage.checkins import list_check_ins, record_check_in
from storage.errors import NotFound, Refused
from storage.models import CheckIn, KeyResult
from storage.objectives import add_key_result
from tests.factories import reference_company

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
PERIOD = date(2026, 3, 2)


def _first_kr(session: Session, workspace_id: str = "T0REF") -> KeyResult:
    return session.exec(
        select(KeyResult).where(KeyResult.workspace_id == workspace_id).order_by(KeyResult.id)
    ).first()


def test_check_in_moves_the_kr_in_the_same_transaction(session: Session) -> None:
    reference_company(session)
    kr = _first_kr(session)
    row, created = record_check_in(
        session=session,
        workspace_id="T0REF",
        key_result_id=kr.id,
        author_id="U0CEO",
        value=120_000,
        confidence=7,
        note="Launch went well",
        blocker="",
        period_start=PERIOD,
        now=NOW,
    )
    session.commit()
    session.refresh(kr)
    assert created and row.previous_value is None and row.value == 120_000
    assert (kr.current_value, kr.confidence, kr.last_checkin_at) == (120_000, 7, NOW)


def test_rollback_leaves_neither_row_nor_kr_change(session: Session) -> None:
    reference_company(session)
    kr = _first_kr(session)
    record_check_in(
        session=session,
        workspace_id="T0REF",
        key_result_id=kr.id,
        author_id="U1",
        value=5,
        period_start=PERIOD,
        now=NOW,
    )
    session.rollback()
    session.refresh(kr)
    assert kr.current_value is None
    assert session.exec(select(CheckIn)).all() == []


def test_dedupe_key_makes_answers_idempotent(session: Session) -> None:
    reference_company(session)
    kr = _first_kr(session)
    first, created = record_check_in(
        session=session,
        workspace_id="T0REF",
        key_result_id=kr.id,
        author_id="U1",
        value=10,
        period_start=PERIOD,
        now=NOW,
        dedupe_key="prompt:2026-03-02",
    )
    again, created_again = record_check_in(
        session=session,
        workspace_id="T0REF",
        key_result_id=kr.id,
        author_id="U1",
        value=99,
        period_start=PERIOD,
        now=NOW,
        dedupe_key="prompt:2026-03-02",
    )
    session.commit()
    session.refresh(kr)
    assert created and not created_again and again.id == first.id
    assert kr.current_value == 10
    assert len(session.exec(select(CheckIn)).all()) == 1


def test_no_change_answer_keeps_value_and_records_it(session: Session) -> None:
    reference_company(session)
    kr = _first_kr(session)
    for week, value in enumerate((10, None)):
        record_check_in(
            session=session,
            workspace_id="T0REF",
            key_result_id=kr.id,
            author_id="U1",
            value=value,
            confidence=6,
            period_start=PERIOD + timedelta(days=7 * week),
            now=NOW + timedelta(days=7 * week),
            source="no_change" if value is None else "modal",
        )
    session.commit()
    rows = list_check_ins(session=session, workspace_id="T0REF", key_result_ids=[kr.id])
    assert [(r.value, r.previous_value, r.source) for r in rows] == [
        (10, None, "modal"),
        (10, 10, "no_change"),
    ]


@pytest.mark.parametrize(
    ("value", "confidence", "note", "message"),
    [
        (float("nan"), None, "", "real number"),
        (float("-inf"), None, "", "real number"),
        (1e300, None, "", "too large"),
        (1, 11, "", "Confidence"),
        (1, -1, "", "Confidence"),
        (1, None, "x" * 1001, "under 1000"),
    ],
)
def test_bad_check_ins_are_refused_and_change_nothing(
    session: Session, value, confidence, note, message
) -> None:
    reference_company(session)
    kr = _first_kr(session)
    with pytest.raises(Refused, match=message):
        record_check_in(
            session=session,
            workspace_id="T0REF",
            key_result_id=kr.id,
            author_id="U1",
            value=value,
            confidence=confidence,
            note=note,
            period_start=PERIOD,
            now=NOW,
        )
    session.rollback()
    session.refresh(kr)
    assert kr.current_value is None and session.exec(select(CheckIn)).all() == []


def test_milestone_takes_only_done_or_not_and_negative_zero_is_zero(session: Session) -> None:
    company = reference_company(session)
    milestone = add_key_result(
        session=session,
        workspace_id="T0REF",
        objective_id=company.support.id,
        spec=KRSpec("Ship it", KRKind.MILESTONE, 1),
    )
    with pytest.raises(Refused, match="milestone"):
        record_check_in(
            session=session,
            workspace_id="T0REF",
            key_result_id=milestone.id,
            author_id="U1",
            value=0.5,
            period_start=PERIOD,
            now=NOW,
        )
    record_check_in(
        session=session,
        workspace_id="T0REF",
        key_result_id=milestone.id,
        author_id="U1",
        value=-0.0,
        period_start=PERIOD,
        now=NOW,
    )
    assert str(milestone.current_value) == "0.0"


def test_check_in_on_another_workspaces_kr_is_not_found(session: Session) -> None:
    reference_company(session)
    reference_company(session, workspace_id="T0OTHER")
    theirs = _first_kr(session, "T0OTHER")
    with pytest.raises(NotFound):
        record_check_in(
            session=session,
            workspace_id="T0REF",
            key_result_id=theirs.id,
            author_id="U1",
            value=1,
            period_start=PERIOD,
            now=NOW,
        )
    assert list_check_ins(session=session, workspace_id="T0REF", key_result_ids=[theirs.id]) == []


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_a_second_answer_in_the_same_period_replaces_the_first(session: Session) -> None:
    reference_company(session)
    kr = _first_kr(session)
    for minute, (value, note) in enumerate([(10, "first"), (12, "changed my mind")]):
        record_check_in(
            session=session,
            workspace_id="T0REF",
            key_result_id=kr.id,
            author_id="U1",
            value=value,
            note=note,
            period_start=PERIOD,
            now=NOW + timedelta(minutes=minute),
        )
    session.commit()
    rows = list_check_ins(session=session, workspace_id="T0REF", key_result_ids=[kr.id])
    # One row per period; it remembers where the period started from.
    assert [(r.value, r.previous_value, r.note) for r in rows] == [(12, None, "changed my mind")]
    assert session.get(KeyResult, kr.id).current_value == 12


def test_concurrent_check_ins_on_one_kr_lose_nothing(engine: sa.Engine) -> None:
    with Session(engine, expire_on_commit=False) as setup:
        reference_company(setup)
        kr_id = _first_kr(setup).id
    writers = 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def check_in(i: int) -> None:
        try:
            with Session(engine) as session:
                barrier.wait(timeout=10)  # all writers hit the same KR row together
                record_check_in(
                    session=session,
                    workspace_id="T0REF",
                    key_result_id=kr_id,
                    author_id=f"U{i}",
                    value=float(i),
                    period_start=PERIOD + timedelta(days=7 * i),  # a row each
                    now=NOW + timedelta(microseconds=i),
                )
                session.commit()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=check_in, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    with Session(engine) as session:
        rows = session.exec(select(CheckIn).order_by(CheckIn.id)).all()
        kr = session.get(KeyResult, kr_id)
        assert sorted(r.author_id for r in rows) == sorted(f"U{i}" for i in range(writers))
        # Writers were serialized by the row lock: each saw the previous one's value…
        assert [r.previous_value for r in rows[1:]] == [r.value for r in rows[:-1]]
        # …and the KR ends on the last recorded check-in.
        assert kr.current_value == rows[-1].value
