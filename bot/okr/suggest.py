"""Key results suggested by a language model: the question, reading its answer, and which
suggestions are worth offering.

Only when an admin configures a model (LADDER_LLM_URL): the form's "✨ Suggest KRs" sends
the objective to an OpenAI-compatible chat completions endpoint (bot/services/suggestions.py)
and offers what comes back. Nothing the model says is trusted: every suggestion goes through
the KR parser, and only those it can read are offered, each with the KR coach's hints.

Pure: no HTTP, no Slack, no database; `today` is a parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.okr.coach import HintCode, coach_objective, facts_from_sentence
from bot.okr.limits import KR_TITLE_MAX
from bot.okr.parse import parse_key_result

SUGGESTIONS_MAX = 5  # offered at once: more than five KRs is itself a coach's warning
READ_MAX = 20  # suggestions read from one answer; the rest are ignored
# What the question carries, each cut to this many characters.
TITLE_MAX = 200
WHY_MAX = 1000
KR_MAX = 200
TYPED_MAX = 8


@dataclass(frozen=True)
class SuggestRequest:
    """The objective as it is typed, which is everything the model is told."""

    title: str
    why: str = ""
    parent: str | None = None  # the objective it ladders up to
    key_results: tuple[str, ...] = ()  # the KR sentences already typed
    cycle: str | None = None  # the cycle's name, e.g. "Q1 2027"
    cycle_end: date | None = None


@dataclass(frozen=True)
class Offer:
    """A suggestion the parser can read, with what the coach says about it."""

    sentence: str
    hints: tuple[str, ...] = ()


class AnswerError(ValueError):
    """An answer that is not a chat completion with suggestions in it; the message says why."""


SYSTEM_PROMPT = (
    "You help a team write OKRs. Given one objective, suggest up to "
    f"{SUGGESTIONS_MAX} key results that would show it was achieved. Each key result is one "
    "sentence under 150 characters that measures an outcome, not a task, with a number: "
    "from today's value to a target, with its unit and a due date, for example "
    '"Reduce p95 checkout latency from 800 ms to 300 ms by Mar 31" or '
    '"Grow weekly active teams from 120 to 300 by end of June". '
    "Where today's value is unknown, give the target only. "
    'Answer with JSON only, in this shape: {"key_results": ["…", "…"]}'
)


def chat_messages(request: SuggestRequest, *, today: date) -> list[dict[str, str]]:
    """The chat messages to send: the instructions, then the objective as typed."""
    lines = [f"Objective: {_clip(request.title, TITLE_MAX)}"]
    if request.why.strip():
        lines.append(f"Why it matters: {_clip(request.why, WHY_MAX)}")
    if request.parent and request.parent.strip():
        lines.append(f"It supports the objective: {_clip(request.parent, TITLE_MAX)}")
    if request.cycle or request.cycle_end:
        ends = f", which ends on {request.cycle_end:%b %-d, %Y}" if request.cycle_end else ""
        lines.append(f"Cycle: {_clip(request.cycle or 'this cycle', 100)}{ends}")
    typed = [_clip(kr, KR_MAX) for kr in request.key_results if kr.strip()][:TYPED_MAX]
    if typed:
        lines.append("Key results already written (suggest different ones):")
        lines.extend(f"- {kr}" for kr in typed)
    lines.append(f"Today is {today:%b %-d, %Y}.")
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n".join(lines)},
    ]


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- reading the answer ----------------------------------------------------------------------

_THINKING_RE = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)  # reasoning models
_FENCE_RE = re.compile(r"```[a-z]*\s*\n?(.*?)```", re.S | re.I)
# "1. ", "2) ", "- ", "* ", "• ", "KR1: " in front of a line of a list.
_LIST_MARKER_RE = re.compile(r"^\s*(?:[-*•·]+\s*|\d{1,2}[.)]\s*|kr\s*\d*\s*[:.)-]\s*)", re.I)
_ITEM_KEYS = ("text", "sentence", "key_result", "title", "kr", "description")
_LIST_KEYS = ("key_results", "keyResults", "krs", "suggestions", "results")


def read_answer(completion: object) -> list[str]:
    """The suggested sentences in a chat completion (the decoded JSON of the response), in the
    model's order, at most READ_MAX; AnswerError when it is not a completion or says nothing."""
    try:
        content = completion["choices"][0]["message"]["content"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        raise AnswerError(
            "the answer is not a chat completion (no choices[0].message.content)"
        ) from None
    if not isinstance(content, str) or not content.strip():
        raise AnswerError("the model answered with no text")
    sentences = sentences_in(content)
    if not sentences:
        raise AnswerError("the model's answer holds no key results")
    return sentences


def sentences_in(content: str) -> list[str]:
    """The sentences of a model's text: its JSON (an object with a list, or a list, maybe in a
    code fence), else its lines without list markers."""
    text = _THINKING_RE.sub("", content).strip()
    fenced = _FENCE_RE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    found = _from_json(text)
    if found is None:
        found = [_LIST_MARKER_RE.sub("", line) for line in text.splitlines()]
    out: list[str] = []
    seen: set[str] = set()
    for item in found:
        sentence = " ".join(item.split()).strip().strip('"“”').strip()
        key = sentence.casefold()
        if sentence and not sentence.endswith(":") and key not in seen:
            seen.add(key)
            out.append(sentence)
    return out[:READ_MAX]


def _from_json(text: str) -> list[str] | None:
    """The strings of the JSON the text holds (None: it holds no JSON)."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    if isinstance(data, dict):
        lists = [data[k] for k in _LIST_KEYS if isinstance(data.get(k), list)]
        lists = lists or [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if lists else []
    if not isinstance(data, list):
        return []  # JSON, but no list of key results in it
    items: list[str] = []
    for item in data:
        if isinstance(item, dict):
            item = next((item[k] for k in _ITEM_KEYS if isinstance(item.get(k), str)), None)
        if isinstance(item, str):
            items.append(item)
    return items


# -- what to offer ---------------------------------------------------------------------------

# The coach's hints shown with a suggestion: what would make it a better KR. Too many KRs
# and a number in the objective's title are about the form, which shows them itself; so is a
# missing baseline, which the form asks for only where it needs one: a decrease, "+20%".
OFFER_HINTS = frozenset(HintCode) - {
    HintCode.TOO_MANY_KRS,
    HintCode.QUANTITATIVE_OBJECTIVE,
    HintCode.NO_BASELINE,
}


def offers(
    sentences: Sequence[str],
    *,
    title: str,
    typed: Sequence[str],
    today: date,
    cycle_start: date | None = None,
    cycle_end: date | None = None,
) -> tuple[list[Offer], int]:
    """The suggestions worth offering, and how many were left out because the KR parser could
    not read them. A suggestion already typed (or offered twice) is dropped; the rest come
    with the coach's hints as if added after `typed` (its slot texts, empty ones included),
    those with no hint first, at most SUGGESTIONS_MAX."""
    typed_keys = {" ".join(t.split()).casefold() for t in typed if t.strip()}
    facts = [facts_from_sentence(t, today=today) for t in typed]
    found: list[Offer] = []
    unreadable = 0
    for raw in sentences:
        sentence = " ".join(raw.split())
        key = sentence.casefold()
        if not sentence or key in typed_keys:
            continue
        if len(sentence) > KR_TITLE_MAX or parse_key_result(sentence, today=today) is None:
            unreadable += 1
            continue
        typed_keys.add(key)
        at = len(facts)
        hints = coach_objective(
            title=title,
            key_results=[*facts, facts_from_sentence(sentence, today=today)],
            cycle_start=cycle_start,
            cycle_end=cycle_end,
        )
        found.append(
            Offer(
                sentence,
                tuple(h.message for h in hints if h.kr == at and h.code in OFFER_HINTS),
            )
        )
    found.sort(key=lambda o: len(o.hints) > 0)  # stable: the model's order otherwise
    return found[:SUGGESTIONS_MAX], unreadable
