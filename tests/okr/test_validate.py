"""Validation: each bad input names the field to fix; good input passes untouched."""

from __future__ import annotations

import math

import pytest

from bot.okr.kinds import KRKind, UnitKind
from bot.okr.limits import KR_TITLE_MAX, OBJECTIVE_TITLE_MAX, VALUE_MAX_ABS
from bot.okr.validate import (
    KRSpec,
    clean_text,
    confidence_problem,
    kr_problems,
    objective_problems,
)


def spec(**changes: object) -> KRSpec:
    base: dict[str, object] = {
        "title": "Reduce latency to 100 ms",
        "kind": KRKind.DECREASE,
        "target_value": 100.0,
        "start_value": 250.0,
        "unit": UnitKind.DURATION,
    }
    base.update(changes)
    return KRSpec(**base)  # type: ignore[arg-type]


def test_a_sound_key_result_has_no_problems() -> None:
    assert kr_problems(spec()) == {}
    assert kr_problems(spec(kind=KRKind.INCREASE, start_value=None, target_value=1e6)) == {}
    assert kr_problems(spec(kind=KRKind.AT_LEAST, start_value=None, target_value=9)) == {}
    assert kr_problems(spec(kind=KRKind.MILESTONE, start_value=None, target_value=1)) == {}


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"target_value": math.nan}, "target_value", "real number"),
        ({"target_value": math.inf}, "target_value", "real number"),
        ({"start_value": -math.inf}, "start_value", "real number"),
        ({"target_value": VALUE_MAX_ABS * 10}, "target_value", "too large"),
        ({"target_value": 250.0}, "target_value", "equals the start"),
        ({"target_value": 300.0}, "target_value", "below the start"),
        ({"kind": KRKind.INCREASE, "target_value": 200.0}, "target_value", "above the start"),
        ({"start_value": None}, "start_value", "needs a start value"),
        ({"title": ""}, "title", "Give the key result a title"),
        ({"title": "x" * (KR_TITLE_MAX + 1)}, "title", "under"),
        ({"weight": 0.0}, "weight", "above 0"),
        ({"weight": math.nan}, "weight", "above 0"),
        ({"unit_label": "u" * 41}, "unit_label", "unit"),
        ({"kind": KRKind.MILESTONE, "start_value": None, "target_value": 3}, "target_value", "1"),
    ],
)
def test_each_bad_input_is_named_on_its_field(changes: dict, field: str, fragment: str) -> None:
    problems = kr_problems(spec(**changes))
    assert list(problems) == [field]
    assert fragment in problems[field]


def test_objective_title_and_description_limits() -> None:
    assert objective_problems(title="Ship it") == {}
    assert "title" in objective_problems(title="")
    assert "title" in objective_problems(title="t" * (OBJECTIVE_TITLE_MAX + 1))
    assert "description" in objective_problems(title="ok", description="d" * 2001)


@pytest.mark.parametrize(
    ("value", "ok"), [(None, True), (0, True), (10, True), (-1, False), (11, False)]
)
def test_confidence_range(value: int | None, ok: bool) -> None:
    assert (confidence_problem(value) is None) is ok


def test_clean_text_drops_control_characters_and_folds_lines() -> None:
    assert clean_text("  a\x00b\r\nc  ") == "ab\nc"
    assert clean_text("a \n  b", single_line=True) == "a b"
    assert clean_text(None) == ""
    # NFC: a composed and a decomposed é compare equal after cleaning.
    assert clean_text("e\u0301") == "\u00e9"
