"""The KR coach on real key result sentences, good and bad."""

from __future__ import annotations

from datetime import date

import pytest

from bot.okr.coach import (
    MAX_FOCUSED_KRS,
    HintCode,
    KRFacts,
    coach_key_result,
    coach_objective,
    facts_from_sentence,
)
from bot.okr.kinds import KRKind, UnitKind
from bot.okr.validate import KRSpec
from tests.factories import PLATFORM_KRS, SUPPORT_KRS

CYCLE_START, CYCLE_END = date(2026, 1, 5), date(2026, 7, 5)
TODAY = CYCLE_START


def from_spec(spec: KRSpec) -> KRFacts:
    """A KR as saved through the form (the person filled the baseline in)."""
    return KRFacts(
        sentence=spec.title,
        kind=spec.kind,
        unit=spec.unit,
        unit_label=spec.unit_label,
        metric=None,
        start=spec.start_value,
        target=spec.target_value,
        due=spec.due_date,
    )


def codes(sentence: str) -> list[HintCode]:
    facts = facts_from_sentence(sentence, today=TODAY)
    return [h.code for h in coach_key_result(facts, cycle_start=CYCLE_START, cycle_end=CYCLE_END)]


@pytest.mark.parametrize(
    "objective, specs",
    [
        ("Launch a new communication platform", PLATFORM_KRS),
        ("Enhance customer support", SUPPORT_KRS),
    ],
)
def test_the_reference_company_raises_no_alarm(objective: str, specs: list[KRSpec]) -> None:
    hints = coach_objective(
        title=objective,
        key_results=[from_spec(s) for s in specs],
        cycle_start=CYCLE_START,
        cycle_end=CYCLE_END,
    )
    assert hints == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Grow weekly active users from 10k to 25k",
        "Reduce p95 latency from 250 ms to 100 ms",
        "Achieve a Net Promoter Score (NPS) of 9 or higher",
        "Keep monthly churn below 2%",
        "Increase trial-to-paid conversion from 4% to 7% by Jun 30",
        "Cut cloud spend from $42k to $30k per month",
    ],
)
def test_measurable_key_results_with_a_baseline_get_no_hint(sentence: str) -> None:
    assert codes(sentence) == []


@pytest.mark.parametrize(
    "sentence",
    ["Improve the onboarding", "Make customers happier", "Reduce churn", "Get better at sales"],
)
def test_no_number_is_not_measurable_yet(sentence: str) -> None:
    assert codes(sentence) == [HintCode.NOT_MEASURABLE]


@pytest.mark.parametrize(
    "sentence, verb",
    [
        ("Launch the new website", "Launch"),
        ("Build a data warehouse", "Build"),
        ("Write the onboarding guide", "Write"),
        ("Ship the mobile app", "Ship"),
    ],
)
def test_output_wording_asks_for_the_outcome(sentence: str, verb: str) -> None:
    facts = facts_from_sentence(sentence, today=TODAY)
    [hint] = coach_key_result(facts, index=2)
    assert hint.code is HintCode.OUTPUT and hint.kr == 2 and not hint.blocking
    assert hint.message.startswith(f"“{verb} …”")
    assert "milestone" in hint.message


def test_output_verbs_with_a_number_are_outcomes() -> None:
    # "Ship … to 50% of users" measures adoption: no output hint
    assert HintCode.OUTPUT not in codes("Ship v2 to 50% of users")
    assert codes("Roll out the new checkout to 80% of stores") == [HintCode.NO_BASELINE]
    # a number the parser cannot place is still a number: no alarm
    assert codes("Launch in 12 countries") == []


@pytest.mark.parametrize(
    "sentence",
    ["Reduce latency to under 100 milliseconds", "Increase user engagement by 30%"],
)
def test_an_increase_or_decrease_without_a_baseline_asks_for_it(sentence: str) -> None:
    facts = facts_from_sentence(sentence, today=TODAY)
    [hint] = coach_key_result(facts)
    assert hint.code is HintCode.NO_BASELINE and hint.blocking
    # and the same KR with its baseline filled in is fine
    assert coach_key_result(KRFacts(**{**facts.__dict__, "start": 250.0})) == []


def test_thresholds_and_milestones_need_no_baseline() -> None:
    assert codes("Keep uptime at least 99.9%") == []
    facts = KRFacts("Pass the SOC 2 audit", KRKind.MILESTONE, target=1.0, start=0.0)
    assert coach_key_result(facts) == []


def test_a_due_date_after_the_cycle_offers_the_cycle_end() -> None:
    facts = facts_from_sentence("Grow MRR from $50k to $120k by Q3", today=TODAY)
    assert facts.due == date(2026, 9, 30)
    [hint] = coach_key_result(facts, cycle_start=CYCLE_START, cycle_end=CYCLE_END)
    assert hint.code is HintCode.DUE_AFTER_CYCLE and not hint.blocking
    assert hint.suggested_due == CYCLE_END
    assert "Jul 5, 2026" in hint.message and "Sep 30, 2026" in hint.message
    # on the last day of the cycle: fine
    on_time = KRFacts(**{**facts.__dict__, "due": CYCLE_END})
    assert coach_key_result(on_time, cycle_start=CYCLE_START, cycle_end=CYCLE_END) == []


def test_a_due_date_before_the_cycle_is_flagged() -> None:
    facts = KRFacts("Hire 5 engineers", KRKind.INCREASE, start=0, target=5, due=date(2025, 12, 1))
    [hint] = coach_key_result(facts, cycle_start=CYCLE_START, cycle_end=CYCLE_END)
    assert hint.code is HintCode.DUE_BEFORE_CYCLE and hint.suggested_due == CYCLE_END


@pytest.mark.parametrize(
    "title, flagged",
    [
        ("Grow revenue to $2M", True),
        ("Reach 40% market share in Europe", True),
        ("Cut latency by 30%", True),
        ("Delight our customers", False),
        ("Q3: make onboarding effortless", False),
        ("Become the reference platform in 2027", False),
        ("H1 reliability push", False),
    ],
)
def test_an_objective_with_a_number_is_told_to_move_it_to_a_kr(title: str, flagged: bool) -> None:
    hints = coach_objective(title=title, key_results=[])
    assert [h.code for h in hints] == ([HintCode.QUANTITATIVE_OBJECTIVE] if flagged else [])
    assert all(h.kr is None for h in hints)


def test_two_krs_measuring_the_same_way_are_flagged_on_the_second() -> None:
    krs = [
        KRFacts(
            "Grow WAU from 10k to 20k", KRKind.INCREASE, UnitKind.NUMBER, None, "WAU", 1e4, 2e4
        ),
        KRFacts(
            "Reduce churn from 5% to 3%", KRKind.DECREASE, UnitKind.PERCENT, None, "churn", 5, 3
        ),
        KRFacts(
            "Grow wau from 20k to 30k", KRKind.INCREASE, UnitKind.NUMBER, None, "wau", 2e4, 3e4
        ),
        # the same metric the other way is a guard rail, not a duplicate
        KRFacts("Keep WAU at least 9k", KRKind.AT_LEAST, UnitKind.NUMBER, None, "WAU", None, 9e3),
    ]
    hints = coach_objective(title="Grow the community", key_results=krs)
    assert [(h.code, h.kr) for h in hints] == [(HintCode.SAME_MEASURE, 2)]
    assert "key result 1" in hints[0].message


def test_more_than_five_krs_is_flagged_once_on_the_objective() -> None:
    krs = [
        KRFacts(f"Grow metric {i} from 1 to 2", KRKind.INCREASE, metric=f"m{i}", start=1, target=2)
        for i in range(MAX_FOCUSED_KRS + 1)
    ]
    hints = coach_objective(title="Grow", key_results=krs)
    assert [(h.code, h.kr) for h in hints] == [(HintCode.TOO_MANY_KRS, None)]
    assert coach_objective(title="Grow", key_results=krs[:MAX_FOCUSED_KRS]) == []
