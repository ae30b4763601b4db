"""Review at the end of a cycle: the DM asking for reflections, the reflection modal, its
confirmation, and the pieces the grades post adds (verdict against the expectation, the
owner's reflection)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.blocks.text import (
    actions,
    button,
    context,
    escape,
    grade_icon,
    input_block,
    modal,
    option,
    section,
    select,
    selected_value,
    text_field,
    truncate,
    view_values,
)
from bot.okr.grading import Verdict, grade_verdict
from bot.okr.limits import NOTE_MAX
from bot.okr.numbers import format_grade
from bot.services.reviews import (
    CARRY_MAX_OPTIONS,
    ObjectiveReview,
    ReflectionAnswer,
    ReflectionForm,
    ReflectionsSaved,
)

if TYPE_CHECKING:
    from storage.models import Reflection
    from storage.tree import KeyResultRow, ObjectiveRow

REFLECT_ACTION = "reflect_open"
REFLECTION_CALLBACK = "reflection_modal"
INTO_BLOCK = "carry_into"
FIELDS = (
    ("worked", "What worked?"),
    ("did_not_work", "What did not?"),
    ("carry_over", "What carries over?"),
)

# How a grade reads against the objective's expectation (bot.okr.grading).
VERDICT_WORDS: dict[tuple[Verdict, bool], str] = {
    (Verdict.MET, True): "✅ Committed, and delivered",
    (Verdict.SHORT, True): "⚠️ Committed to 1.0: fell short",
    (Verdict.MISSED, True): "❌ Committed to 1.0: missed",
    (Verdict.AIM_HIGHER, False): "🎯 1.0 on an aspirational objective: aim higher next time",
    (Verdict.MET, False): "✅ Aspirational: ~0.7 or more is success",
    (Verdict.SHORT, False): "🔸 Aspirational: below the ~0.7 that counts as success",
    (Verdict.MISSED, False): "🔻 Aspirational: missed",
}


def verdict_text(objective: ObjectiveRow) -> str | None:
    """One line judging the objective's grade against what was expected of it."""
    if objective.grade is None:
        return None
    return VERDICT_WORDS[
        (grade_verdict(objective.grade, committed=objective.committed), objective.committed)
    ]


def reflection_text(reflection: Reflection, *, limit: int = 280) -> str:
    """The reflection as grade lines show it: each answer shortened, user text escaped."""
    parts = [
        f"{label} {escape(truncate(value, limit))}"
        for label, value in (
            ("*Worked:*", reflection.worked),
            ("*Did not:*", reflection.did_not_work),
            ("*Carries over:*", reflection.carry_over),
        )
        if value
    ]
    return "💬 " + " · ".join(parts) if parts else ""


def review_lines(
    objective: ObjectiveRow,
    indent: str,
    *,
    reflection: Reflection | None = None,
    carried: dict[int, list[str]] | None = None,
    krs: Sequence[KeyResultRow] = (),
) -> list[str]:
    """What the grades post adds under an objective: its verdict, its reflection, and which
    of its KRs were carried over where."""
    lines = []
    verdict = verdict_text(objective)
    if verdict:
        lines.append(f"{indent}_{verdict}_")
    if reflection is not None and (text := reflection_text(reflection)):
        lines.append(f"{indent}{text}")
    for kr in krs:
        for name in (carried or {}).get(kr.id, []):
            lines.append(f"{indent}↪ {escape(kr.title)} carried into *{escape(name)}*")
    return lines


def _grade(score: float | None) -> str:
    return f"{grade_icon(score)} {format_grade(score)}"


def _objective_summary(review: ObjectiveReview) -> str:
    o = review.objective
    commitment = "committed" if o.committed else "aspirational"
    line = f"{_grade(o.grade)}  *{escape(o.title)}* · {commitment}"
    verdict = verdict_text(o)
    return f"{line}\n_{verdict}_" if verdict else line


def build_reflection_request(*, form: ReflectionForm, message_id: int) -> dict:
    """The DM: the cycle is closed, your objectives and grades, one button to reflect."""
    n = len(form.objectives) + form.more
    cycle = escape(form.cycle.name)
    heading = (
        f"📝 *{cycle}* is closed. Take two minutes to look back on your "
        f"{'objective' if n == 1 else f'{n} objectives'}: what worked, what did not, "
        "and what carries over."
    )
    blocks = [section(heading), section("\n".join(_objective_summary(r) for r in form.objectives))]
    unfinished = sum(len(r.unfinished) for r in form.objectives)
    note = (
        f"{unfinished} key result{'s' if unfinished != 1 else ''} did not reach 1.0: you can "
        "carry them into the next cycle from the form."
        if unfinished
        else "Every key result reached 1.0."
    )
    blocks.append(context(note))
    blocks.append(_reflect_button(form.cycle.id, message_id, "Write my reflection", primary=True))
    text = f"{form.cycle.name} is closed: how did your objectives go? Write a short reflection."
    return {"text": text, "blocks": blocks}


def _answer_input(objective_id: int, name: str, label: str, value: str) -> dict:
    # action_ids are unique within a view
    element = text_field(f"{name}:{objective_id}", max_length=NOTE_MAX, value=value, multiline=True)
    return input_block(f"r{objective_id}_{name}", label, element, optional=True)


def _carry_block(review: ObjectiveReview) -> dict | None:
    left = [kr for kr in review.unfinished if not review.carried.get(kr.id)]
    if not left:
        return None
    options = [
        option(str(kr.id), f"{kr.title} ({kr.grade if kr.grade is not None else '—'})")
        for kr in left[:CARRY_MAX_OPTIONS]
    ]
    objective_id = review.objective.id
    boxes = select(f"carry:{objective_id}", options, kind="checkboxes")
    return input_block(f"c{objective_id}", "Carry into the next cycle", boxes, optional=True)


def build_reflection_modal(*, form: ReflectionForm, origin: dict | None = None) -> dict:
    """One modal for all the person's graded objectives of the cycle (up to
    MODAL_MAX_OBJECTIVES): three short answers each, and the unfinished KRs to carry over."""
    blocks = [
        section(
            f"*{escape(form.cycle.name)}* is closed. A few lines per objective are enough; "
            "leave an objective empty to answer later."
        )
    ]
    carryable = False
    for review in form.objectives:
        o = review.objective
        blocks.append({"type": "divider"})
        blocks.append(section(_objective_summary(review)))
        if review.key_results:
            blocks.append(
                context(
                    "\n".join(
                        f"{_grade(kr.grade)} · {escape(kr.title)}" for kr in review.key_results[:20]
                    )
                )
            )
        existing = review.reflection
        for name, label in FIELDS:
            value = getattr(existing, name) if existing is not None else ""
            blocks.append(_answer_input(o.id, name, label, value))
        carry = _carry_block(review) if form.targets else None
        if carry is not None:
            carryable = True
            blocks.append(carry)
    if any(r.unfinished for r in form.objectives):
        blocks.extend(_carry_target_blocks(form, carryable))
    if form.more:
        blocks.append(
            context(
                f"{form.more} more objective{'s' if form.more != 1 else ''} after "
                "these: save, then press the button in the message again."
            )
        )
    metadata = {
        "cycle": form.cycle.id,
        "objectives": [r.objective.id for r in form.objectives],
        **({"into": form.targets[0].id} if len(form.targets) == 1 else {}),
        **(origin or {}),
    }
    return modal(
        f"Reflect: {form.cycle.name}",
        blocks,
        callback_id=REFLECTION_CALLBACK,
        submit="Save",
        close="Later",
        metadata=json.dumps(metadata, separators=(",", ":")),
    )


def _carry_target_blocks(form: ReflectionForm, carryable: bool) -> list[dict]:
    """Where ticked KRs go: said when there is one open cycle, asked when there are several,
    and how to make one when there is none."""
    if not form.targets:
        return [
            context(
                "To carry unfinished key results over, an admin first creates the next "
                "cycle: `/okr cycle new Q2 2027`. Then open this form again."
            )
        ]
    if not carryable:
        return []
    if len(form.targets) == 1:
        name = escape(form.targets[0].name)
        return [context(f"Ticked key results move to *{name}*, under a copy of their objective.")]
    options = [option(str(c.id), c.name) for c in form.targets[:100]]
    into = select("into", options, options[0]["value"])
    return [input_block(INTO_BLOCK, "Carry ticked key results into", into, optional=True)]


def answers_from_state(view: dict) -> tuple[int, list[ReflectionAnswer], int | None, dict]:
    """(cycle id, the answers per objective, the cycle to carry into, the metadata) from a
    submitted reflection modal. Objective ids are read from the submitted blocks: the
    service checks each against its owner before storing anything."""
    meta = json.loads(view.get("private_metadata") or "{}")
    values = view_values(view)
    by_objective: dict[int, dict] = {}
    for block_id, state in values.items():
        if block_id.startswith("r") and "_" in block_id:
            raw_id, _, name = block_id[1:].partition("_")
            if raw_id.isdigit() and name in {n for n, _ in FIELDS}:
                by_objective.setdefault(int(raw_id), {})[name] = state.get("value") or ""
        elif block_id.startswith("c") and block_id[1:].isdigit():
            picked = [int(o["value"]) for o in state.get("selected_options") or []]
            by_objective.setdefault(int(block_id[1:]), {})["carry"] = picked
    into: int | None = meta.get("into")
    if INTO_BLOCK in values:
        chosen = selected_value(values[INTO_BLOCK])
        into = int(chosen) if chosen else None
    answers = [
        ReflectionAnswer(
            objective_id=objective_id,
            worked=fields.get("worked", ""),
            did_not_work=fields.get("did_not_work", ""),
            carry_over=fields.get("carry_over", ""),
            carry_key_result_ids=fields.get("carry", []),
        )
        for objective_id, fields in sorted(by_objective.items())
    ]
    return int(meta["cycle"]), answers, into, meta


def build_reflections_done(*, saved: ReflectionsSaved) -> dict:
    """Replaces the DM once answered."""
    cycle_name = escape(saved.cycle_name)
    n = saved.saved
    where = f"`/okr cycle grades {cycle_name}`"
    if n == 0:
        heading = (
            f"✅ Saved. Your reflection on *{cycle_name}* can wait: the button opens it again."
        )
    elif n == 1:
        heading = (
            f"✅ Thank you: your reflection on *{cycle_name}* is saved. Anyone can read it "
            f"with {where}."
        )
    else:
        heading = (
            f"✅ Thank you: your {n} reflections on *{cycle_name}* are saved. Anyone can read "
            f"them with {where}."
        )
    blocks = [section(heading)]
    if saved.carried:
        lines = [
            f"↪ {escape(kr.title)} → *{escape(cycle.name)}*" for kr, cycle in saved.carried[:40]
        ]
        blocks.append(section("\n".join(lines)))
    # The DM keeps its button: to answer what was left for later, or to change an answer.
    blocks.append(_reflect_button(saved.cycle_id, 0, "Write or edit my reflections", primary=False))
    return {"text": f"Reflections on {saved.cycle_name} saved.", "blocks": blocks}


def _reflect_button(cycle_id: int, message_id: int, label: str, *, primary: bool) -> dict:
    value = json.dumps({"cycle": cycle_id, "message": message_id})
    reflect = button(label, REFLECT_ACTION, value, style="primary" if primary else "")
    return actions(reflect, block_id="reflect_actions")
