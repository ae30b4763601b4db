"""From a typed objective draft to validated specs, or to inline errors per field.

Pure: no Slack, no database. Error keys are the draft's field names (`title`, `kr0_target`…);
the listener maps them to the modal's block ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date

from bot.okr.kinds import KRKind, Level, UnitKind
from bot.okr.numbers import NumberInputError, format_input, parse_number_input
from bot.okr.parse import parse_key_result
from bot.okr.units import parse_unit, unit_text
from bot.okr.validate import KRSpec, clean_text, kr_problems, objective_problems


@dataclass
class KRDraft:
    text: str = ""
    kind: str | None = None
    start: str = ""
    target: str = ""
    unit: str = ""
    due: date | None = None
    key_result_id: int | None = None  # set when editing an existing KR
    weight: str = ""  # as typed; empty: 1 (KRs count equally)
    details: bool = False  # its fields are shown (Enter was pressed in the sentence)

    @property
    def has_fields(self) -> bool:
        """Anything typed or chosen beyond the sentence."""
        return any(
            (
                self.kind,
                self.start.strip(),
                self.target.strip(),
                self.unit.strip(),
                self.due,
                self.weight.strip(),
            )
        )


@dataclass
class ObjectiveDraft:
    title: str = ""
    description: str = ""
    owner_id: str | None = None
    team_id: int | None = None
    # company | team (with team_id) | personal; None: not chosen yet.
    level: Level | None = None
    cycle_id: int | None = None
    parent_id: int | None = None
    parent_label: str | None = None
    krs: list[KRDraft] = field(default_factory=lambda: [KRDraft(), KRDraft()])
    committed: bool = False  # committed (1.0 expected) or aspirational (~0.7 is success)
    objective_id: int | None = None  # set when editing
    rev: int = 0
    channel_id: str | None = None  # where `/okr new` was typed, for the confirmation

    def metadata(self) -> str:
        """What the view carries between requests (state itself travels in view.state)."""
        return json.dumps(
            {
                "objective_id": self.objective_id,
                "kr_ids": [kr.key_result_id for kr in self.krs],
                "open": [i for i, kr in enumerate(self.krs) if kr.details],
                "rev": self.rev,
                "channel_id": self.channel_id,
                # The cycle, when the form has no cycle choice (one cycle to offer).
                "cycle_id": self.cycle_id,
            },
            separators=(",", ":"),
        )


_SPEC_FIELD_TO_SLOT = {
    "title": "text",
    "target_value": "target",
    "start_value": "start",
    "current_value": "target",
    "unit_label": "unit",
    "weight": "weight",
}


@dataclass(frozen=True)
class SlotSpec:
    slot: int
    spec: KRSpec
    key_result_id: int | None


@dataclass(frozen=True)
class ReadDraft:
    title: str
    description: str
    key_results: list[SlotSpec]
    removed_key_result_ids: list[int]  # slots of existing KRs that were emptied


def shown(value: float | None) -> str:
    """A number as the form's fields show it; empty for none."""
    return "" if value is None else format_input(value)


def fill_from_sentence(kr: KRDraft, *, today: date) -> KRDraft:
    """Fill the structured fields from the sentence, keeping what the person already set."""
    proposal = parse_key_result(kr.text, today=today)
    if proposal is None:
        return kr
    return replace(
        kr,
        kind=kr.kind or proposal.kind.value,
        start=kr.start or shown(proposal.start),
        target=kr.target or shown(proposal.target),
        unit=kr.unit or unit_text(proposal.unit, proposal.unit_label),
        due=kr.due or proposal.due,
    )


def read_draft(draft: ObjectiveDraft, *, today: date) -> tuple[ReadDraft | None, dict[str, str]]:
    """Validate everything; returns (result, {}) or (None, errors by field name)."""
    errors: dict[str, str] = {}
    title = clean_text(draft.title, single_line=True)
    description = clean_text(draft.description)
    errors.update(objective_problems(title=title, description=description))
    if draft.owner_id is None:
        errors["owner"] = "Choose who owns this objective."
    errors.update(level_problems(draft.level, team_id=draft.team_id, description=description))

    specs: list[SlotSpec] = []
    removed: list[int] = []
    for i, kr in enumerate(draft.krs):
        if not any((kr.text.strip(), kr.start, kr.target, kr.unit, kr.kind, kr.due, kr.weight)):
            if kr.key_result_id is not None:
                removed.append(kr.key_result_id)
            continue
        spec, slot_errors = _read_kr(kr, today=today)
        errors.update({f"kr{i}_{name}": message for name, message in slot_errors.items()})
        if spec is not None and not slot_errors:
            specs.append(SlotSpec(i, spec, kr.key_result_id))
    if not specs and not any(k.startswith("kr") for k in errors):
        errors["kr0_text"] = "Add at least one key result: how will you know you got there?"
    if errors:
        return None, errors
    return ReadDraft(title, description, specs, removed), {}


WHY_REQUIRED = (
    "A company objective says which part of the vision or mission it serves: "
    "write that here in a sentence."
)


def level_problems(level: Level | None, *, team_id: int | None, description: str) -> dict[str, str]:
    """What the level choice lacks: a level; a team for a team objective; the why of a company
    objective (its description: which part of the vision or mission it serves)."""
    if level is None:
        return {"level": "Choose a level: the company's, a team's, or the owner's own."}
    if level is Level.TEAM and team_id is None:
        return {"level": "Choose the team this objective belongs to."}
    if level is Level.COMPANY and not description.strip():
        return {"description": WHY_REQUIRED}
    return {}


@dataclass(frozen=True)
class KRReading:
    """What the form can say about one KR slot while it is being typed."""

    spec: KRSpec | None  # complete and valid: what Create would save
    errors: dict[str, str]  # slot field ("start", "target"…) -> what is missing or wrong
    kind: KRKind | None  # as chosen, or as read from the sentence
    said_start: float | None  # the start the sentence gives, used when the field is empty
    said_target: float | None
    needs_start: bool  # the app refuses this KR without a start value
    needs_target: bool  # … without a target (a milestone or "+30%" with a baseline: no)


def read_kr(kr: KRDraft, *, today: date) -> KRReading:
    """Read one slot as Create would: the spec, or what is missing, and which fields are
    required for its kind (so the form can label them truthfully)."""
    text = clean_text(kr.text, single_line=True)
    proposal = parse_key_result(text, today=today) if text else None
    kind = KRKind(kr.kind) if kr.kind else (proposal.kind if proposal else None)
    # "Grow signups by 30%": the target follows from the baseline.
    relative = (
        proposal is not None
        and proposal.target is None
        and proposal.relative_change is not None
        and not kr.target.strip()
    )
    spec, errors = _read_kr(kr, today=today)
    # An empty field takes what the sentence says ("from 250 to 100"): then it is optional.
    said_start = proposal is not None and proposal.start is not None
    said_target = proposal is not None and proposal.target is not None
    return KRReading(
        spec=spec,
        errors=errors,
        kind=kind,
        said_start=proposal.start if proposal is not None else None,
        said_target=proposal.target if proposal is not None else None,
        needs_start=not said_start
        and (kind is KRKind.DECREASE or (relative and kind is not KRKind.MILESTONE)),
        needs_target=not said_target and kind is not KRKind.MILESTONE and not relative,
    )


def _read_kr(kr: KRDraft, *, today: date) -> tuple[KRSpec | None, dict[str, str]]:
    errors: dict[str, str] = {}
    text = clean_text(kr.text, single_line=True)
    proposal = parse_key_result(text, today=today) if text else None
    if not text:
        errors["text"] = "Describe this key result in a sentence."

    def number(field: str, raw: str) -> float | None:
        if not raw.strip():
            return None
        try:
            return parse_number_input(raw)
        except NumberInputError as error:
            errors[field] = error.message
            return None

    start = number("start", kr.start)
    target = number("target", kr.target)
    weight = number("weight", kr.weight)  # checked like import checks it (weight_problem)
    if kr.kind:
        kind = KRKind(kr.kind)
    elif proposal is not None:
        kind = proposal.kind
    else:
        kind = None
        if text:
            errors["kind"] = "Ladder couldn't read this sentence: choose how it is measured."
    if kind is KRKind.MILESTONE:
        target, start = 1.0, 0.0
    if start is None and proposal is not None and not kr.start.strip():
        start = proposal.start
    if target is None and not kr.target.strip() and proposal is not None:
        target = proposal.target
        if target is None and proposal.relative_change is not None:
            if start is None:
                errors["start"] = (
                    f"“{_relative(proposal.relative_change)}” needs a baseline: "
                    "type today's value here."
                )
            else:
                target = round(start * (1 + proposal.relative_change), 6)
    if target is None and kind is not None and "target" not in errors and "start" not in errors:
        errors["target"] = "What is the target? Type a number such as 1M, 100 or 90%."

    if kr.unit.strip():
        unit, label = parse_unit(kr.unit)
    elif proposal is not None:
        unit, label = proposal.unit, proposal.unit_label
    else:
        unit, label = UnitKind.NUMBER, None
    due = kr.due or (proposal.due if proposal else None)
    if errors or kind is None or target is None:
        return None, errors
    spec = KRSpec(
        text,
        kind,
        target,
        start_value=start,
        unit=unit,
        unit_label=label,
        due_date=due,
        weight=1.0 if weight is None else weight,
    )
    for name, message in kr_problems(spec).items():
        errors.setdefault(_SPEC_FIELD_TO_SLOT.get(name, "text"), message)
    return (None, errors) if errors else (spec, {})


def _relative(change: float) -> str:
    return f"{'+' if change >= 0 else '−'}{abs(change) * 100:g}%"
