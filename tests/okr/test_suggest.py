"""Suggested KRs, the pure part: the question sent, reading answers, what is offered."""

from __future__ import annotations

import json
from datetime import date

import pytest

from bot.okr.suggest import (
    SUGGESTIONS_MAX,
    AnswerError,
    Offer,
    SuggestRequest,
    chat_messages,
    offers,
    read_answer,
    sentences_in,
)

TODAY = date(2026, 2, 16)
GOOD = [
    "Grow weekly active teams from 120 to 300 by Jun 30",
    "Reduce p95 checkout latency from 800 ms to 300 ms by Mar 31",
    "Keep uptime at or above 99.9%",
]


def completion(content: object) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def test_the_question_carries_the_objective_as_typed_and_asks_for_json() -> None:
    request = SuggestRequest(
        title="Delight   our customers",
        why="Churn doubled last quarter",
        parent="Win the mid-market",
        key_results=("Raise NPS from 30 to 45", "", "x" * 500),
        cycle="Q1 2026",
        cycle_end=date(2026, 3, 31),
    )
    system, user = chat_messages(request, today=TODAY)
    assert system["role"] == "system" and '{"key_results"' in system["content"]
    assert user["role"] == "user"
    lines = user["content"].splitlines()
    assert lines[0] == "Objective: Delight our customers"  # whitespace collapsed
    assert "Why it matters: Churn doubled last quarter" in lines
    assert "It supports the objective: Win the mid-market" in lines
    assert "Cycle: Q1 2026, which ends on Mar 31, 2026" in lines
    assert "- Raise NPS from 30 to 45" in lines
    assert "- " + "x" * 199 + "…" in lines  # each typed KR cut; the empty slot left out
    assert lines[-1] == "Today is Feb 16, 2026."


def test_the_question_leaves_out_what_is_not_typed() -> None:
    [_, user] = chat_messages(SuggestRequest(title="Delight our customers"), today=TODAY)
    assert user["content"] == "Objective: Delight our customers\nToday is Feb 16, 2026."


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"key_results": GOOD}),
        json.dumps(GOOD),
        json.dumps({"krs": [{"text": s} for s in GOOD]}),
        "Here you go:\n```json\n" + json.dumps({"key_results": GOOD}) + "\n```\nGood luck!",
        "<think>The user wants KRs… [maybe]</think>\n" + json.dumps({"key_results": GOOD}),
        "Key results:\n" + "\n".join(f"{n}. {s}" for n, s in enumerate(GOOD, 1)),
        "\n".join(f"- “{s}”" for s in GOOD),
        "\n".join(f"KR{n}: {s}" for n, s in enumerate(GOOD, 1)),
    ],
    ids=["object", "list", "dicts", "fenced", "thinking", "numbered", "bullets", "kr-labels"],
)
def test_answers_in_the_shapes_models_give_are_read(content: str) -> None:
    assert read_answer(completion(content)) == GOOD


def test_an_answer_repeating_itself_is_read_once_and_capped() -> None:
    many = [f"Reach {n} paying customers by Jun 30" for n in range(1, 40)]
    found = sentences_in(json.dumps([GOOD[0], GOOD[0].upper(), *many]))
    assert found[0] == GOOD[0] and GOOD[0].upper() not in found
    assert len(found) == 20


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"error": {"message": "model not found"}}, "not a chat completion"),
        ([1, 2], "not a chat completion"),
        ({"choices": []}, "not a chat completion"),
        (completion(None), "no text"),
        (completion("   "), "no text"),
        (completion("{}"), "holds no key results"),
        (completion("```\n```"), "holds no key results"),
    ],
)
def test_what_is_not_an_answer_says_why(answer: object, reason: str) -> None:
    with pytest.raises(AnswerError, match=reason):
        read_answer(answer)


def test_only_what_the_parser_reads_is_offered_with_the_coach_hints() -> None:
    found, unreadable = offers(
        [
            "Launch the partner portal by Mar 31",  # a milestone worded as work: coached
            "Improve team morale",  # no number: the parser cannot read it
            "Raise NPS to 45",  # counts up from 0, as the form reads it: nothing to say
            *GOOD,  # the first measures the same as typed KR 1
            "Grow weekly active teams from 100 to 250",  # so does this one
            "y" * 250,  # longer than a KR may be
        ],
        title="Delight our customers",
        typed=["Grow weekly active teams from 100 to 200", ""],
        today=TODAY,
        cycle_end=date(2026, 6, 30),
    )
    assert unreadable == 2
    assert len(found) == SUGGESTIONS_MAX
    # those with nothing to say first, in the model's order; then the coached ones
    assert [o.sentence for o in found] == [
        "Raise NPS to 45",
        *GOOD[1:],
        "Launch the partner portal by Mar 31",
        GOOD[0],
    ]
    assert [o.hints for o in found[:3]] == [(), (), ()]
    assert "“Launch …” names work to do" in found[3].hints[0]
    assert found[4].hints == (
        "Measures the same as key result 1: merge them, or measure a different outcome.",
    )


def test_a_suggestion_already_typed_or_due_after_the_cycle() -> None:
    found, unreadable = offers(
        [GOOD[1].lower(), "Reach 1,000 paying customers by Aug 31", GOOD[1]],
        title="Delight our customers",
        typed=[GOOD[1]],
        today=TODAY,
        cycle_end=date(2026, 6, 30),
    )
    assert unreadable == 0
    [late] = found
    assert late == Offer(
        "Reach 1,000 paying customers by Aug 31",
        ("Due Aug 31, 2026, after the cycle ends (Jun 30, 2026).",),
    )
