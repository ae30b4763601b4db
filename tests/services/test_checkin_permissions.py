"""Who may check in on a key result, through the service layer, on SQLite and PostgreSQL.

Only the KR's owner, the owner of its objective or a workspace admin may. The modal's KRs
(checkin_targets), the modal's submission (save_checkin) and any other recorder
(CheckinService.record) all follow that rule, and a refused submission stores nothing.
The admin check asks Slack, so it is asked only when ownership does not settle it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.okr.kinds import KRKind
from bot.okr.validate import KRSpec
from bot.services.checkins import CheckinForm, CheckinService, KRAnswer
from bot.services.permissions import CHECKIN_REFUSAL, CheckInDenied, PermissionDenied
from storage.cycles import create_cycle
from storage.errors import NotFound
from storage.models import CheckIn, KeyResult
from storage.objectives import create_objective
from storage.workspaces import ensure_workspace

WS = "T0PERM"
OWNER = "U0OWNER"  # owns the objective and its first KR
KR_OWNER = "U0KROWNER"  # owns the objective's second KR only
ADMIN = "U0ADMIN"  # a workspace admin who owns nothing
MEMBER = "U0MEMBER"  # neither an owner nor an admin
NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
REFUSAL = (
    "Only the key result's owner, the objective's owner or a workspace admin can check in on it."
)


class AdminCheck:
    """An is_admin callable that counts how often it was asked (each time is a Slack call)."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.answer


def admin_check(user_id: str) -> AdminCheck:
    return AdminCheck(user_id == ADMIN)


@pytest.fixture
def seeded(engine: sa.Engine) -> dict[str, int]:
    """One objective of OWNER's: KR `a` is OWNER's, KR `b` is KR_OWNER's."""
    with Session(engine, expire_on_commit=False) as session:
        ensure_workspace(session=session, workspace_id=WS, name="Perm Inc")
        cycle = create_cycle(
            session=session,
            workspace_id=WS,
            name="Q1 2026",
            start_date=date(2026, 1, 1),
            end_date=date(2026, 3, 31),
        )
        objective = create_objective(
            session=session,
            workspace_id=WS,
            cycle_id=cycle.id,  # type: ignore[arg-type]
            owner_id=OWNER,
            title="Ship the platform",
            key_results=[
                KRSpec("Reach 1,000 users", KRKind.INCREASE, 1000, start_value=0),
                KRSpec("Sign 20 customers", KRKind.INCREASE, 20, start_value=0, owner_id=KR_OWNER),
            ],
            now=NOW - timedelta(days=30),
        )
        session.commit()
        a, b = session.exec(
            select(KeyResult.id)
            .where(KeyResult.objective_id == objective.id)
            .order_by(col(KeyResult.position))
        ).all()
    assert objective.id is not None and a is not None and b is not None
    return {"objective": objective.id, "a": a, "b": b}


@pytest.fixture
def checkins(engine: sa.Engine) -> CheckinService:
    return CheckinService(engine, clock=lambda: NOW)


def values(engine: sa.Engine) -> dict[int, float | None]:
    with Session(engine) as session:
        return {kr.id: kr.current_value for kr in session.exec(select(KeyResult)).all()}  # type: ignore[misc]


def rows(engine: sa.Engine) -> list[tuple[int, str, float | None]]:
    with Session(engine) as session:
        found = session.exec(select(CheckIn).order_by(col(CheckIn.key_result_id))).all()
        return [(c.key_result_id, c.author_id, c.value) for c in found]


def checkin_form(form_id: str, typed: dict[int, str]) -> CheckinForm:
    """A submitted check-in form with `typed` (KR id -> text) in its value fields."""
    return CheckinForm(form_id, [KRAnswer(kr_id, value=text) for kr_id, text in typed.items()])


def test_the_refusal_says_who_may_check_in() -> None:
    assert CHECKIN_REFUSAL == REFUSAL
    assert issubclass(CheckInDenied, PermissionDenied)


# ----------------------------------------------------------------------- checkin_targets


@pytest.mark.parametrize(
    ("user", "shown", "asked"),
    [
        (OWNER, ["a", "b"], 0),  # the objective's owner: all of it, Slack not asked
        (ADMIN, ["a", "b"], 1),  # an admin: all of it
        (KR_OWNER, ["b"], 1),  # a KR's owner, not an admin: their own KR only
    ],
)
def test_objective_check_in_shows_what_the_user_may_check_in_on(
    checkins: CheckinService, seeded: dict[str, int], user: str, shown: list[str], asked: int
) -> None:
    is_admin = admin_check(user)
    krs = checkins.checkin_targets(
        workspace_id=WS, user_id=user, objective_id=seeded["objective"], is_admin=is_admin
    )
    assert [kr.id for kr, _ in krs] == [seeded[k] for k in shown]
    assert {objective.id for _, objective in krs} == {seeded["objective"]}
    assert is_admin.asked == asked


def test_objective_check_in_by_an_admin_who_owns_a_kr_shows_all(
    checkins: CheckinService, seeded: dict[str, int]
) -> None:
    krs = checkins.checkin_targets(
        workspace_id=WS,
        user_id=KR_OWNER,
        objective_id=seeded["objective"],
        is_admin=AdminCheck(True),
    )
    assert [kr.id for kr, _ in krs] == [seeded["a"], seeded["b"]]


def test_objective_check_in_by_anyone_else_is_refused(
    checkins: CheckinService, seeded: dict[str, int]
) -> None:
    is_admin = admin_check(MEMBER)
    with pytest.raises(PermissionDenied) as refused:
        checkins.checkin_targets(
            workspace_id=WS, user_id=MEMBER, objective_id=seeded["objective"], is_admin=is_admin
        )
    assert str(refused.value) == REFUSAL
    assert is_admin.asked == 1  # once, however many KRs the objective has


@pytest.mark.parametrize(
    ("user", "kr", "asked"),
    [
        (KR_OWNER, "b", 0),  # the KR's owner
        (OWNER, "b", 0),  # the objective's owner, on someone else's KR of it
        (OWNER, "a", 0),
        (ADMIN, "a", 1),
        (ADMIN, "b", 1),
    ],
)
def test_kr_check_in_is_allowed_to_owners_and_admins(
    checkins: CheckinService, seeded: dict[str, int], user: str, kr: str, asked: int
) -> None:
    is_admin = admin_check(user)
    [(found, objective)] = checkins.checkin_targets(
        workspace_id=WS, user_id=user, key_result_id=seeded[kr], is_admin=is_admin
    )
    assert (found.id, objective.id) == (seeded[kr], seeded["objective"])
    assert is_admin.asked == asked


@pytest.mark.parametrize(("user", "kr"), [(MEMBER, "a"), (MEMBER, "b"), (KR_OWNER, "a")])
def test_kr_check_in_by_anyone_else_is_refused(
    checkins: CheckinService, seeded: dict[str, int], user: str, kr: str
) -> None:
    with pytest.raises(PermissionDenied) as refused:
        checkins.checkin_targets(
            workspace_id=WS, user_id=user, key_result_id=seeded[kr], is_admin=admin_check(user)
        )
    assert str(refused.value) == REFUSAL


def test_a_missing_kr_or_objective_is_not_found_before_any_permission_question(
    checkins: CheckinService, seeded: dict[str, int]
) -> None:
    is_admin = admin_check(MEMBER)
    with pytest.raises(NotFound):
        checkins.checkin_targets(
            workspace_id=WS, user_id=MEMBER, key_result_id=999, is_admin=is_admin
        )
    with pytest.raises(NotFound):
        checkins.checkin_targets(
            workspace_id=WS, user_id=MEMBER, objective_id=999, is_admin=is_admin
        )
    assert is_admin.asked == 0


def test_okr_checkin_without_ids_shows_only_my_own_krs(
    checkins: CheckinService, seeded: dict[str, int]
) -> None:
    is_admin = AdminCheck(True)
    mine = checkins.checkin_targets(workspace_id=WS, user_id=KR_OWNER, is_admin=is_admin)
    assert [kr.id for kr, _ in mine] == [seeded["b"]]
    assert checkins.checkin_targets(workspace_id=WS, user_id=ADMIN, is_admin=is_admin) == []
    assert is_admin.asked == 0


# -------------------------------------------------------------------------- save_checkin


def test_a_forged_submission_on_someone_elses_kr_is_refused_and_stores_nothing(
    engine: sa.Engine, checkins: CheckinService, seeded: dict[str, int]
) -> None:
    before = values(engine)
    is_admin = admin_check(MEMBER)
    result = checkins.save_checkin(
        workspace_id=WS,
        user_id=MEMBER,
        form=checkin_form("V0FORGED", {seeded["a"]: "499", seeded["b"]: "7"}),
        is_admin=is_admin,
    )
    assert (result.recorded, result.duplicates, result.answered) == (0, 0, None)
    assert result.errors == {f"value:{seeded['a']}": REFUSAL, f"value:{seeded['b']}": REFUSAL}
    assert is_admin.asked == 1
    assert values(engine) == before
    assert rows(engine) == []


def test_one_refused_kr_refuses_the_whole_form(
    engine: sa.Engine, checkins: CheckinService, seeded: dict[str, int]
) -> None:
    """KR_OWNER's own KR is in the form too: it is not recorded either (all or nothing)."""
    before = values(engine)
    result = checkins.save_checkin(
        workspace_id=WS,
        user_id=KR_OWNER,
        form=checkin_form("V0MIXED", {seeded["a"]: "499", seeded["b"]: "7"}),
        is_admin=admin_check(KR_OWNER),
    )
    assert result.errors == {f"value:{seeded['a']}": REFUSAL}
    assert result.recorded == 0
    assert values(engine) == before
    assert rows(engine) == []


@pytest.mark.parametrize(
    ("user", "kr", "asked"),
    [(KR_OWNER, "b", 0), (OWNER, "b", 0), (OWNER, "a", 0), (ADMIN, "a", 1), (ADMIN, "b", 1)],
)
def test_owners_and_admins_check_in(
    engine: sa.Engine,
    checkins: CheckinService,
    seeded: dict[str, int],
    user: str,
    kr: str,
    asked: int,
) -> None:
    is_admin = admin_check(user)
    result = checkins.save_checkin(
        workspace_id=WS,
        user_id=user,
        form=checkin_form("V0OK", {seeded[kr]: "499"}),
        is_admin=is_admin,
    )
    assert result.errors == {}
    assert result.recorded == 1
    assert values(engine)[seeded[kr]] == 499
    assert rows(engine) == [(seeded[kr], user, 499)]
    assert is_admin.asked == asked


def test_an_admin_checks_in_on_several_krs_asking_slack_once(
    engine: sa.Engine, checkins: CheckinService, seeded: dict[str, int]
) -> None:
    is_admin = admin_check(ADMIN)
    result = checkins.save_checkin(
        workspace_id=WS,
        user_id=ADMIN,
        form=checkin_form("V0ADMIN", {seeded["a"]: "499", seeded["b"]: "12"}),
        is_admin=is_admin,
    )
    assert (result.errors, result.recorded) == ({}, 2)
    assert values(engine) == {seeded["a"]: 499, seeded["b"]: 12}
    assert is_admin.asked == 1


def test_a_missing_kr_is_still_reported_as_gone(
    engine: sa.Engine, checkins: CheckinService, seeded: dict[str, int]
) -> None:
    result = checkins.save_checkin(
        workspace_id=WS,
        user_id=MEMBER,
        form=checkin_form("V0GONE", {seeded["a"]: "499", 999: "1"}),
        is_admin=admin_check(MEMBER),
    )
    assert "no longer exists" in result.errors["note"]
    assert rows(engine) == []


# -------------------------------------------------------------------------------- record


def test_record_refuses_someone_elses_kr_and_stores_nothing(
    engine: sa.Engine, checkins: CheckinService, seeded: dict[str, int]
) -> None:
    before = values(engine)
    is_admin = admin_check(MEMBER)
    with pytest.raises(CheckInDenied) as refused:
        checkins.record(
            workspace_id=WS,
            user_id=MEMBER,
            readings=[(seeded["b"], 499.0, None), (seeded["a"], 499.0, 3)],
            is_admin=is_admin,
        )
    assert isinstance(refused.value, PermissionDenied)
    assert str(refused.value) == REFUSAL
    assert refused.value.key_result_ids == [seeded["b"], seeded["a"]]
    assert is_admin.asked == 1
    assert values(engine) == before
    assert rows(engine) == []


def test_record_without_an_admin_check_gives_admins_no_say(
    engine: sa.Engine, checkins: CheckinService, seeded: dict[str, int]
) -> None:
    with pytest.raises(CheckInDenied):
        checkins.record(workspace_id=WS, user_id=ADMIN, readings=[(seeded["a"], 499.0, None)])
    assert rows(engine) == []
    answered = checkins.record(
        workspace_id=WS,
        user_id=ADMIN,
        readings=[(seeded["a"], 499.0, None)],
        is_admin=AdminCheck(True),
    )
    assert answered.recorded == 1
    assert values(engine)[seeded["a"]] == 499


def test_record_lets_the_objectives_owner_and_the_krs_owner_in(
    engine: sa.Engine, checkins: CheckinService, seeded: dict[str, int]
) -> None:
    is_admin = AdminCheck(False)
    checkins.record(
        workspace_id=WS, user_id=OWNER, readings=[(seeded["b"], 5.0, None)], is_admin=is_admin
    )
    checkins.record(
        workspace_id=WS, user_id=KR_OWNER, readings=[(seeded["b"], 6.0, None)], is_admin=is_admin
    )
    assert is_admin.asked == 0
    assert values(engine)[seeded["b"]] == 6
    assert rows(engine) == [(seeded["b"], KR_OWNER, 6)]  # one row per KR and period


def test_no_change_answers_for_my_own_krs(
    engine: sa.Engine, checkins: CheckinService, seeded: dict[str, int]
) -> None:
    answered = checkins.no_change(workspace_id=WS, user_id=KR_OWNER)
    assert answered.recorded == 1
    assert rows(engine) == [(seeded["b"], KR_OWNER, None)]  # the value is kept
