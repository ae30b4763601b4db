"""The review screens as Slack receives them: within Block Kit's limits, and saying the right
thing for committed and aspirational objectives, for one, several or no cycles to carry into."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bot.blocks.reviews import (
    build_reflection_modal,
    build_reflection_request,
    review_lines,
    verdict_text,
)
from bot.okr.kinds import KRKind
from bot.services.reviews import (
    CARRY_MAX_OPTIONS,
    MODAL_MAX_OBJECTIVES,
    ObjectiveReview,
    ReflectionForm,
)
from storage.models import Cycle, KeyResult, Objective, Reflection
from tests.support.blockkit import validate_message, validate_view

H1 = Cycle(
    id=1, workspace_id="T0", name="H1 2026", start_date=date(2026, 1, 5), end_date=date(2026, 7, 5)
)
H2 = Cycle(
    id=2,
    workspace_id="T0",
    name="H2 2026",
    start_date=date(2026, 7, 6),
    end_date=date(2026, 12, 31),
)
Q3 = Cycle(
    id=3, workspace_id="T0", name="Q3 2026", start_date=date(2026, 7, 6), end_date=date(2026, 9, 30)
)


def _objective(i: int, grade: float, *, committed: bool = False) -> Objective:
    return Objective(
        id=i,
        workspace_id="T0",
        cycle_id=1,
        owner_id="U0DEV",
        title=f"Objective {i} <b>",
        grade=grade,
        committed=committed,
    )


def _krs(objective_id: int, grades: list[float]) -> list[KeyResult]:
    return [
        KeyResult(
            id=objective_id * 100 + n,
            workspace_id="T0",
            objective_id=objective_id,
            owner_id="U0DEV",
            title=f"KR {n} of {objective_id} — a long title that goes on " * 3,
            kind=KRKind.INCREASE,
            target_value=10,
            grade=g,
        )
        for n, g in enumerate(grades)
    ]


def _form(n: int, *, targets: list[Cycle], krs_each: int = 3) -> ReflectionForm:
    reviews = [
        ObjectiveReview(_objective(i, 0.5), _krs(i, [0.5] * krs_each), None, {})
        for i in range(1, n + 1)
    ]
    shown = reviews[:MODAL_MAX_OBJECTIVES]
    return ReflectionForm(H1, shown, len(reviews) - len(shown), targets)


@pytest.mark.parametrize(
    ("grade", "committed", "words"),
    [
        (1.0, False, "1.0 on an aspirational objective: aim higher next time"),
        (0.75, False, "Aspirational: ~0.7 or more is success"),
        (0.75, True, "Committed to 1.0: fell short"),
        (1.0, True, "Committed, and delivered"),
        (0.5, False, "below the ~0.7"),
        (0.2, True, "Committed to 1.0: missed"),
    ],
)
def test_the_verdict_reads_the_grade_against_the_expectation(grade, committed, words) -> None:
    assert words in (verdict_text(_objective(1, grade, committed=committed)) or "")


def test_an_ungraded_objective_has_no_verdict() -> None:
    objective = _objective(1, 0.0)
    objective.grade = None
    assert verdict_text(objective) is None


def test_review_lines_escape_the_reflection_and_name_where_krs_went() -> None:
    objective = _objective(7, 0.6)
    reflection = Reflection(
        workspace_id="T0",
        objective_id=7,
        author_id="U0DEV",
        worked="<!channel> & co",
        carry_over="x" * 500,
    )
    [kr] = _krs(7, [0.6])
    lines = review_lines(
        objective, "  ", reflection=reflection, carried={kr.id: ["H2 2026"]}, krs=[kr]
    )  # type: ignore[dict-item]
    text = "\n".join(lines)
    assert "&lt;!channel&gt; &amp; co" in text and "<!channel>" not in text
    assert "carried into *H2 2026*" in text
    assert len(text) < 1500  # each answer shortened for the grades post


def test_the_modal_stays_within_slack_s_limits_at_its_largest() -> None:
    form = _form(MODAL_MAX_OBJECTIVES + 5, targets=[H2, Q3], krs_each=15)
    view = build_reflection_modal(form=form, origin={"dm": ["D0DEV", "1.000001"]})
    assert validate_view(view) == []
    assert len(view["blocks"]) <= 100
    assert len(view["private_metadata"]) <= 3000
    boxes = [b for b in view["blocks"] if b.get("element", {}).get("type") == "checkboxes"]
    assert len(boxes) == MODAL_MAX_OBJECTIVES
    assert all(len(b["element"]["options"]) == CARRY_MAX_OPTIONS for b in boxes)
    assert "5 more objectives after these" in json.dumps(view)
    # Several open cycles: the person picks one, the soonest first.
    [into] = [b for b in view["blocks"] if b.get("block_id") == "carry_into"]
    assert into["element"]["initial_option"]["value"] == str(H2.id)


def test_one_open_cycle_is_named_and_none_says_how_to_make_one() -> None:
    one = build_reflection_modal(form=_form(1, targets=[H2]))
    assert "Ticked key results move to *H2 2026*" in json.dumps(one)
    assert json.loads(one["private_metadata"])["into"] == H2.id
    none = build_reflection_modal(form=_form(1, targets=[]))
    assert "/okr cycle new" in json.dumps(none)
    assert not any(b.get("element", {}).get("type") == "checkboxes" for b in none["blocks"])
    assert validate_view(one) == [] and validate_view(none) == []


def test_the_dm_names_the_cycle_and_escapes_titles() -> None:
    message = build_reflection_request(form=_form(2, targets=[H2]), message_id=42)
    assert validate_message(message) == []
    assert message["text"].startswith("H1 2026 is closed")
    text = json.dumps(message)
    assert "Objective 1 &lt;b&gt;" in text and "<b>" not in text
    [button] = message["blocks"][-1]["elements"]
    assert json.loads(button["value"]) == {"cycle": 1, "message": 42}
