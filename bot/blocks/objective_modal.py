"""The objective modal used by `/okr new` and "Edit": objective fields plus KR slots.

Each KR is typed as a sentence; the parser fills kind/start/target/unit/due, which the person
can correct. Block ids carry a revision (text.block_id), so parsed values can replace what was typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from bot.blocks.text import (
    actions,
    block_id,
    button,
    context,
    escape,
    input_block,
    modal,
    objective_picker,
    option,
    plain,
    section,
    select,
    selected_value,
    short_date,
    text_field,
    view_values,
)
from bot.okr.coach import HintCode, KRFacts, coach_objective, facts_from_sentence
from bot.okr.kinds import KRKind, Level
from bot.okr.limits import DESCRIPTION_MAX, KR_TITLE_MAX, OBJECTIVE_TITLE_MAX, UNIT_LABEL_MAX
from bot.okr.numbers import format_input, format_pair, format_value
from bot.okr.suggest import offers
from bot.okr.validate import KRSpec
from bot.services.drafts import KRDraft, KRReading, ObjectiveDraft, read_kr

if TYPE_CHECKING:
    from bot.services.objectives import FormData, ParentChoice

CALLBACK_ID = "objective_modal"
NEW_TITLE = "New objective"
EDIT_TITLE = "Edit objective"
MAX_KEY_RESULTS = 8
ADD_KR_ACTION = "kr_add"
PARSE_KR_ACTION_PREFIX = "kr_text_"
DUE_CYCLE_END_ACTION_PREFIX = "kr_due_end_"
# A KR field changed (kind chosen, Enter in start/target/unit, date picked), or the level
# chosen: re-label (a company objective's why is required) and re-preview without touching
# what is typed.
LEVEL_ACTION = "level"
KR_FIELD_ACTION_RE = rf"^(kr\d+_(kind|start|target|unit|due)|{LEVEL_ACTION})$"
PARENT_ACTION = "parent_objective"
KIND_OPTIONS = [(k.value, k.label) for k in KRKind]
# Review at the end of a cycle: how the grade will be judged (bot.okr.grading.Verdict).
COMMITMENT_OPTIONS = [
    ("aspirational", "Aspirational: a stretch, ~0.7 is success"),
    ("committed", "Committed: we promise 1.0"),
]


def _text_input(
    name: str,
    label: str,
    *,
    rev: int,
    value: str = "",
    optional: bool = False,
    multiline: bool = False,
    max_length: int = 3000,
    placeholder: str = "",
    hint: str | None = None,
    dispatch: bool = False,
    action_id: str | None = None,
) -> dict:
    # Every interactive element gets its own action_id (Slack wants them unique in a view).
    element = text_field(
        action_id or name,
        max_length=max_length,
        value=value,
        placeholder=placeholder,
        multiline=multiline,
    )
    if dispatch:
        element["dispatch_action_config"] = {"trigger_actions_on": ["on_enter_pressed"]}
    return input_block(
        block_id(name, rev), label, element, optional=optional, hint=hint or "", dispatch=dispatch
    )


def _select(
    name: str,
    label: str,
    *,
    rev: int,
    options: list[tuple[str, str]],
    selected: str | None,
    placeholder: str = "Choose…",
    dispatch: bool = False,
    hint: str = "",
) -> dict:
    # dispatch: choosing sends a block action, and the form re-labels what this choice needs
    element = select(
        name, [option(v, lbl) for v, lbl in options[:100]], selected, placeholder=placeholder
    )
    return input_block(
        block_id(name, rev), label, element, optional=False, hint=hint, dispatch=dispatch
    )


def _kr_blocks(
    i: int,
    kr: KRDraft,
    rev: int,
    *,
    today: date | None,
    cycle_end: date | None,
    cycle_name: str = "the cycle",
) -> list[dict]:
    """One KR: its sentence; once read (Enter) or typed into, the fields it needs, each
    labelled required or optional as Create will treat it; then one line saying how it will
    be measured, or what is missing."""
    n = i + 1
    blocks: list[dict] = [
        {"type": "divider"},
        _text_input(
            f"kr{i}_text",
            f"Key result {n}",
            rev=rev,
            value=kr.text,
            # The first KR is the one every objective needs; the others may stay empty.
            optional=i > 0,
            max_length=KR_TITLE_MAX,
            action_id=f"{PARSE_KR_ACTION_PREFIX}{i}",
            dispatch=True,
            placeholder="e.g. Reduce p95 latency from 250 to 100 ms by June",
            hint=None if _shows_fields(kr) else "Type it as a sentence and press Enter.",
        ),
    ]
    if not kr.text.strip() and not _shows_fields(kr):
        return blocks
    # `today` reads "within six months"; callers pass the app's clock (FormData.today).
    reading = read_kr(kr, today=today or date.today())
    if _shows_fields(kr):
        blocks.extend(_kr_fields(i, kr, rev, reading))
    blocks.extend(_kr_summary(i, kr, reading, cycle_end=cycle_end, cycle_name=cycle_name))
    return blocks


def _shows_fields(kr: KRDraft) -> bool:
    return kr.details or kr.key_result_id is not None or kr.has_fields


def _kr_fields(i: int, kr: KRDraft, rev: int, reading: KRReading) -> list[dict]:
    kind = reading.kind
    blocks = [
        _select(
            f"kr{i}_kind",
            "Measured as",
            rev=rev,
            options=KIND_OPTIONS,
            selected=kr.kind,
            placeholder="Choose how it is measured",
            dispatch=True,
        )
    ]
    if kind is not KRKind.MILESTONE:

        def value_input(
            name: str, label: str, value: str, eg: str, needed: bool, said: float | None, blank: str
        ) -> dict:
            """The start or target field: required when the sentence needs it, else what
            leaving it empty means."""
            return _text_input(
                f"kr{i}_{name}",
                label,
                rev=rev,
                value=value,
                optional=not needed,
                max_length=40,
                placeholder=eg,
                hint=_problem(reading, name) or (None if needed else _empty_means(said, blank)),
                dispatch=True,
            )

        if kind is None or not kind.is_threshold:
            blocks.append(
                value_input(
                    "start",
                    "Start value (today)",
                    kr.start,
                    "e.g. 0, 250, 40%",
                    reading.needs_start,
                    reading.said_start,
                    "counts up from 0",
                )
            )
        blocks.append(
            value_input(
                "target",
                "Target",
                kr.target,
                "e.g. 1M, 100, 90%",
                reading.needs_target,
                reading.said_target,
                "worked out from the start value",
            )
        )
        blocks.append(
            _text_input(
                f"kr{i}_unit",
                "Unit",
                rev=rev,
                value=kr.unit,
                optional=True,
                max_length=UNIT_LABEL_MAX,
                placeholder="%, $, ms, active users…",
                dispatch=True,
            )
        )
    blocks.append(_due_input(i, kr, rev))
    blocks.append(_weight_input(i, kr, rev))
    blocks.extend(_connect_data(i, kr, rev))
    return blocks


def _empty_means(said: float | None, otherwise: str) -> str:
    """What an empty optional number field stands for: the sentence's value, or a default."""
    if said is None:
        return f"Empty: {otherwise}."
    return f"Empty: {format_input(said)}, as the sentence says."


def _problem(reading: KRReading, field: str) -> str | None:
    """What is wrong with one field, shown right under it."""
    message = reading.errors.get(field)
    return f"⚠️ {message}" if message else None


def _due_input(i: int, kr: KRDraft, rev: int) -> dict:
    due: dict = {"type": "datepicker", "action_id": f"kr{i}_due", "placeholder": plain("Due date")}
    if kr.due:
        due["initial_date"] = kr.due.isoformat()
    return input_block(
        block_id(f"kr{i}_due", rev),
        "Due",
        due,
        optional=True,
        hint="Empty: the end of the cycle.",
        dispatch=True,
    )


def _kr_summary(
    i: int, kr: KRDraft, reading: KRReading, *, cycle_end: date | None, cycle_name: str
) -> list[dict]:
    """The preview line ("📏 Decrease 250 → 100 ms by Mar 31") or what is missing, and a
    warning with the cycle's end on offer when the due date falls after it."""
    spec = reading.spec
    if spec is not None:
        line = f"📏 {escape(kr_preview(spec, cycle_end=cycle_end))}"
    else:
        # Start and target problems already show under those fields when they are shown.
        under_fields = ("start", "target") if _shows_fields(kr) else ()
        missing = [
            reading.errors[f] for f in _FIELD_ORDER if f in reading.errors and f not in under_fields
        ]
        if missing and not _shows_fields(kr):
            missing = [*missing[:1], "Press Enter in the sentence to fill in the details."]
        line = "⚠️ " + " ".join(escape(m) for m in missing[:2]) if missing else ""
    blocks = [context(line, block_id=f"kr{i}_preview")] if line else []
    due = spec.due_date if spec is not None else kr.due
    if due is not None and cycle_end is not None and due > cycle_end:
        end = short_date(cycle_end)
        blocks.append(
            section(
                f"⏰ Due *{short_date(due)}*, after {escape(cycle_name)} ends on "
                f"*{end}*: the cycle is graded before this is due.",
                block_id=f"kr{i}_due_warning",
                accessory=button(
                    f"Use {end}", f"{DUE_CYCLE_END_ACTION_PREFIX}{i}", cycle_end.isoformat()
                ),
            )
        )
    return blocks


_FIELD_ORDER = ("text", "kind", "start", "target", "unit", "due")


def kr_preview(spec: KRSpec, *, cycle_end: date | None) -> str:
    """How a KR will be measured, in one line: "Decrease 250 → 100 ms by Mar 31",
    "Increase 0 / 1M active users by Aug 16", "Stay at least 9 by Mar 31", "Milestone: done by…"."""
    due = spec.due_date or cycle_end
    by = f" by {short_date(due)}" if due else ""
    unit, label = spec.unit, spec.unit_label
    if spec.kind is KRKind.MILESTONE:
        return f"Milestone: done{by}"
    target = format_value(spec.target_value, unit=unit, unit_label=label)
    if spec.kind.is_threshold:
        return f"{spec.kind.label} {target}{by}"
    verb = "Increase" if spec.kind is KRKind.INCREASE else "Decrease"
    start = spec.stored_start
    return f"{verb} {format_pair(start, spec.target_value, unit=unit, unit_label=label, separator=' → ')}{by}"


def _weight_input(i: int, kr: KRDraft, rev: int) -> dict:
    """A KR's weight in its objective's grade (optional; empty counts as 1)."""
    return _text_input(
        f"kr{i}_weight",
        "Weight",
        rev=rev,
        value=kr.weight,
        optional=True,
        max_length=20,
        placeholder="1",
        hint="How much this key result counts in the objective's grade: 2 counts twice as much.",
    )


def _commitment_select(draft: ObjectiveDraft, rev: int) -> dict:
    return _select(
        "commitment",
        "Commitment",
        rev=rev,
        options=COMMITMENT_OPTIONS,
        selected="committed" if draft.committed else "aspirational",
        hint="Graded against it at the end of the cycle: 1.0 on an aspirational objective "
        "means aim higher next time.",
    )


def level_value(level: Level | None, team_id: int | None) -> str | None:
    """The level select's value: "company", "personal", or "team:<id>"."""
    if level is Level.TEAM:
        return f"team:{team_id}" if team_id is not None else None
    return level.value if level else None


def level_choice(value: str | None) -> tuple[Level | None, int | None]:
    """(level, team id) from the level select's value; a bare team id is the team select of
    a form opened before levels."""
    if not value:
        return None, None
    if value in (Level.COMPANY, Level.PERSONAL):
        return Level(value), None
    raw = value.removeprefix("team:")
    if raw.isdigit():
        return Level.TEAM, int(raw)
    return None, None


def _level_select(draft: ObjectiveDraft, teams: list[tuple[int, str]], rev: int) -> dict:
    return _select(
        LEVEL_ACTION,
        "Level",
        rev=rev,
        selected=level_value(draft.level, draft.team_id),
        options=[
            (Level.COMPANY.value, "🏢 Company: serves the vision and mission"),
            (Level.PERSONAL.value, "👤 Personal: the owner's own"),
        ]
        + [(f"team:{i}", f"👥 Team: {name}") for i, name in teams],
        placeholder="Company, a team, or personal",
        dispatch=True,
        hint=LEVEL_HINT.get(draft.level, LEVEL_HINT[None]),
    )


LEVEL_HINT: dict[Level | None, str] = {
    Level.COMPANY: "The company's: say below which part of the vision or mission it serves.",
    Level.TEAM: "The team's: ladder it up to the company objective it serves.",
    Level.PERSONAL: "The owner's own, with no team: ladder it up to a team or company objective.",
    None: "Company, a team's, or the owner's own (personal).",
}
PARENT_HINT = {
    True: "Usually empty: a company objective serves the vision and mission directly.",
    False: "The objective this one supports. Left empty, it is flagged as aligned to nothing.",
}


def _why_input(draft: ObjectiveDraft, rev: int) -> dict:
    """The description; for a company objective, its required "why": which part of the
    vision or mission it serves."""
    company = draft.level is Level.COMPANY
    return _text_input(
        "description",
        "Why: the part of the vision or mission it serves" if company else "Why it matters",
        rev=rev,
        value=draft.description,
        optional=not company,
        multiline=True,
        max_length=DESCRIPTION_MAX,
        placeholder="e.g. Our mission says every team ships weekly: this makes it possible."
        if company
        else "",
        hint="Required for company objectives." if company else None,
    )


def build_objective_modal(
    *,
    draft: ObjectiveDraft,
    teams: list[tuple[int, str]],
    cycles: list[tuple[int, str]],
    cycle_ends: dict[int, date] | None = None,
    today: date | None = None,
    suggest: SuggestPanel | None = None,
) -> dict:
    """The form. `cycle_ends` (cycle id -> last day) lets it warn of a due date past the cycle;
    `today` reads relative dates in KR sentences ("within six months"); `suggest`: KRs a
    language model suggested, and its button (None: suggestions are off)."""
    rev = draft.rev
    cycle_end = (cycle_ends or {}).get(draft.cycle_id) if draft.cycle_id is not None else None
    cycle_name = dict(cycles).get(draft.cycle_id or -1, "the cycle")
    editing = draft.objective_id is not None
    blocks: list[dict] = [
        _text_input(
            "title",
            "Objective",
            rev=rev,
            value=draft.title,
            max_length=OBJECTIVE_TITLE_MAX,
            placeholder="An ambitious, qualitative goal: Launch a new platform",
        ),
        _commitment_select(draft, rev),
        _level_select(draft, teams, rev),
        _why_input(draft, rev),
        input_block(
            block_id("owner", rev),
            "Owner",
            {
                "type": "users_select",
                "action_id": "owner",
                **({"initial_user": draft.owner_id} if draft.owner_id else {}),
            },
        ),
    ]
    if len(cycles) > 1:  # one cycle: no choice to offer (the metadata carries it)
        blocks.append(
            _select(
                "cycle",
                "Cycle",
                rev=rev,
                selected=str(draft.cycle_id or ""),
                options=[(str(i), name) for i, name in cycles],
            )
        )
    chosen = None
    if draft.parent_id is not None:
        chosen = option(str(draft.parent_id), draft.parent_label or "")
    blocks.append(
        input_block(
            block_id("parent", rev),
            "Ladders up to",
            objective_picker(PARENT_ACTION, chosen),
            optional=True,
            hint=PARENT_HINT[draft.level is Level.COMPANY],
        )
    )
    objective_hints, kr_hints = coach_hints(draft, today=today or date.today())
    if objective_hints:
        blocks.insert(1, _hint_block(objective_hints))  # under the title it is about
    for i, kr in enumerate(draft.krs):
        blocks.extend(
            _kr_blocks(i, kr, rev, today=today, cycle_end=cycle_end, cycle_name=cycle_name)
        )
        if kr_hints.get(i):
            blocks.append(_hint_block(kr_hints[i]))
    kr_actions: list[dict] = []
    if len(draft.krs) < MAX_KEY_RESULTS:
        kr_actions.append(button("➕ Add another key result", ADD_KR_ACTION))
    if suggest is not None:  # the suggestions, then their button next to "Add another"
        room = VIEW_BLOCKS_MAX - len(blocks) - 2  # the actions and the footer follow
        blocks.extend(
            suggestion_blocks(
                suggest, draft, today=today or date.today(), cycle_end=cycle_end, room=room
            )
        )
        kr_actions.extend(suggest_button(suggest))
    if kr_actions:
        blocks.append(actions(*kr_actions, block_id=block_id("kr_actions", rev)))
    blocks.append(
        context("Good key results are measurable and ambitious: hitting 70% of them is a success.")
    )
    view = modal(
        EDIT_TITLE if editing else NEW_TITLE,
        blocks,
        callback_id=CALLBACK_ID,
        submit="Save" if editing else "Create",
        metadata=draft.metadata(),
    )
    return {**view, "notify_on_close": False}


def build_objective_form(
    form: FormData, draft: ObjectiveDraft | None = None, *, suggest: SuggestPanel | None = None
) -> dict:
    """The modal for what the service loaded; `draft` replaces the loaded draft."""
    return build_objective_modal(
        draft=draft or form.draft,
        teams=form.teams,
        cycles=form.cycles,
        cycle_ends=form.cycle_ends,
        today=form.today,
        suggest=suggest,
    )


COMPANY_GROUP = "🏢 Company"
PERSONAL_GROUP = "👤 Personal"


def parent_option_groups(choices: list[ParentChoice]) -> list[dict]:
    """The parent picker's options, grouped by level and team (company first, then teams in
    their hierarchy: "Engineering › Platform", then people's own), top-level objectives before
    those that ladder up to another ("↳ Ship the API"), so people find the right parent by
    where it sits."""
    groups: dict[tuple[int, tuple[str, ...]], list[ParentChoice]] = {}
    for choice in choices:
        rank = {Level.COMPANY: 0, Level.TEAM: 1, Level.PERSONAL: 2}[choice.level]
        groups.setdefault((rank, choice.team_path if rank == 1 else ()), []).append(choice)
    out = []
    for key in sorted(groups, key=lambda k: (k[0], [n.casefold() for n in k[1]])):
        rank, team_path = key
        members = sorted(groups[key], key=lambda c: (c.depth, c.title.casefold()))
        label = (COMPANY_GROUP, f"👥 {' › '.join(team_path) or 'No team'}", PERSONAL_GROUP)[rank]
        out.append(
            {
                "label": plain(_clip_left(label, 75), 75),
                "options": [
                    option(str(c.objective_id), ("↳ " if c.depth else "") + c.title)
                    for c in members
                ],
            }
        )
    return out


def _clip_left(text: str, limit: int) -> str:
    """A long team path keeps its end (the team itself): "…Platform › API"."""
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def draft_from_state(view: dict) -> ObjectiveDraft:
    """Rebuild the draft from a modal's metadata and its current state (what was typed)."""
    meta = json.loads(view.get("private_metadata") or "{}")
    values = view_values(view)

    def text(name: str) -> str:
        return (values.get(name) or {}).get("value") or ""

    def selected(name: str) -> str | None:
        return selected_value(values.get(name))

    def picked_date(name: str) -> date | None:
        raw = (values.get(name) or {}).get("selected_date")
        try:
            return date.fromisoformat(raw) if raw else None
        except (TypeError, ValueError):  # a datepicker sends YYYY-MM-DD; anything else: none
            return None

    kr_ids = meta.get("kr_ids") or []
    opened = {i for i in meta.get("open") or [] if isinstance(i, int)}
    krs = [
        KRDraft(
            text=text(f"kr{i}_text"),
            kind=selected(f"kr{i}_kind"),
            start=text(f"kr{i}_start"),
            target=text(f"kr{i}_target"),
            unit=text(f"kr{i}_unit"),
            due=picked_date(f"kr{i}_due"),
            key_result_id=kr_ids[i] if i < len(kr_ids) else None,
            details=i in opened,
            weight=text(f"kr{i}_weight"),
        )
        for i in range(len(kr_ids))
    ]
    if "level" in values:
        level, team_id = level_choice(selected("level"))
    else:  # a form opened before levels: a team, or "company" for none
        team = selected("team")
        level, team_id = level_choice(f"team:{team}" if team and team.isdigit() else team)
    cycle = selected("cycle") or meta.get("cycle_id")
    parent_option = (values.get("parent") or {}).get("selected_option")
    return ObjectiveDraft(
        title=text("title"),
        description=text("description"),
        owner_id=(values.get("owner") or {}).get("selected_user"),
        team_id=team_id,
        level=level,
        cycle_id=int(cycle) if cycle else None,
        parent_id=int(parent_option["value"]) if parent_option else None,
        parent_label=parent_option["text"]["text"] if parent_option else None,
        krs=krs,
        committed=selected("commitment") == "committed",
        objective_id=meta.get("objective_id"),
        rev=int(meta.get("rev", 0)),
        channel_id=meta.get("channel_id"),
    )


# The KR coach's hints the form shows (bot/okr/coach.py). A missing baseline and a due date
# after the cycle are the form's own messages, under their fields; these never block a save.
COACHED = {
    HintCode.NOT_MEASURABLE,
    HintCode.OUTPUT,
    HintCode.SAME_MEASURE,
    HintCode.TOO_MANY_KRS,
    HintCode.QUANTITATIVE_OBJECTIVE,
}


def coach_hints(draft: ObjectiveDraft, *, today: date) -> tuple[list[str], dict[int, list[str]]]:
    """The coach's hints on the objective, and per KR slot (by position), for what is typed."""
    typed = [(i, kr) for i, kr in enumerate(draft.krs) if kr.text.strip()]
    facts = [_coach_facts(kr, today=today) for _, kr in typed]
    objective: list[str] = []
    per_kr: dict[int, list[str]] = {}
    for hint in coach_objective(title=draft.title, key_results=facts):
        if hint.code not in COACHED:
            continue
        if hint.kr is None:
            objective.append(hint.message)
        else:
            per_kr.setdefault(typed[hint.kr][0], []).append(hint.message)
    return objective, per_kr


def _coach_facts(kr: KRDraft, *, today: date) -> KRFacts:
    """The KR as Create would read it when it is complete; else as the sentence reads, with
    the kind the person chose."""
    read = facts_from_sentence(kr.text, today=today)
    spec = read_kr(kr, today=today).spec
    if spec is None:
        return read if not kr.kind else replace(read, kind=KRKind(kr.kind))
    return replace(
        read,
        kind=spec.kind,
        unit=spec.unit,
        unit_label=spec.unit_label,
        start=spec.start_value,
        target=spec.target_value,
        due=spec.due_date,
    )


def _hint_block(messages: list[str]) -> dict:
    return context("\n".join(f"💡 {escape(m)}" for m in messages))


# A saved KR can be fed by a data source: the edit form opens the Connect data modal on top
# of itself (views.push; bot/listeners/sources.py), and closing that returns here.
CONNECT_DATA_ACTION = "kr_connect_data"


def _connect_data(i: int, kr: KRDraft, rev: int) -> list[dict]:
    if kr.key_result_id is None:  # not saved yet: nothing to connect
        return []
    kr_id = kr.key_result_id
    connect = button("📡 Connect data", f"{CONNECT_DATA_ACTION}:{kr_id}", str(kr_id))
    return [actions(connect, block_id=block_id(f"kr{i}_data", rev))]


# Key results suggested by a language model (only when an admin configured one:
# bot/services/suggestions.py). "✨ Suggest KRs" sits next to "Add another key result"; each
# suggestion the KR parser could read is a line with its preview, the coach's hints and an
# Add button that puts it in the first empty slot. The suggestions travel in the view itself
# (each Add button's value), so any re-render of the form keeps them.
SUGGEST_KRS_ACTION = "kr_suggest"
ADD_SUGGESTION_ACTION_PREFIX = "kr_suggestion_add:"
VIEW_BLOCKS_MAX = 100


@dataclass(frozen=True)
class SuggestPanel:
    source: str  # who suggests: the model's name (the admin's setting)
    sentences: tuple[str, ...] = ()  # suggestions on offer
    note: str | None = None  # plain text: why there are none, or what was left out
    asking: bool = False  # the model is being asked: no button, a note saying so


def suggest_button(panel: SuggestPanel) -> list[dict]:
    if panel.asking:
        return []
    label = "✨ Suggest again" if panel.sentences else "✨ Suggest KRs"
    return [button(label, SUGGEST_KRS_ACTION)]


def suggestion_blocks(
    panel: SuggestPanel,
    draft: ObjectiveDraft,
    *,
    today: date,
    cycle_end: date | None,
    room: int,
) -> list[dict]:
    """The suggestions on offer (those the parser still reads, not typed since), within
    `room` blocks, and the panel's note."""
    found, _ = offers(
        panel.sentences,
        title=draft.title,
        typed=[kr.text for kr in draft.krs],
        today=today,
        cycle_end=cycle_end,
    )
    note = panel.note
    if panel.asking:
        note = f"⏳ Asking {panel.source} for key results… what you type meanwhile is kept."
    # A long form may leave little of Slack's 100 blocks: the note first, then what fits.
    fits = max(room - (1 if note else 0) - 2, 0)
    blocks: list[dict] = []
    if found[:fits]:
        blocks.append({"type": "divider"})  # apart from the last KR above
        blocks.append(
            context(
                f"✨ *Suggested by {escape(panel.source)}*: check each one. *Add* puts "
                "it in the first empty key result, where you can change it.",
                block_id="kr_suggestions",
            )
        )
    for n, offer in enumerate(found[:fits]):
        reading = read_kr(KRDraft(text=offer.sentence), today=today)
        lines = [f"*{escape(offer.sentence)}*"]
        if reading.spec is not None:
            lines.append(f"📏 {escape(kr_preview(reading.spec, cycle_end=cycle_end))}")
        else:  # what Create will ask for once it is added (a decrease's start value…)
            lines.extend(f"⚠️ {escape(m)}" for m in list(reading.errors.values())[:1])
        lines.extend(f"💡 {escape(hint)}" for hint in offer.hints)
        add = button("➕ Add", f"{ADD_SUGGESTION_ACTION_PREFIX}{n}", offer.sentence)
        blocks.append(section("\n".join(lines), block_id=f"kr_suggestion_{n}", accessory=add))
    if note and room > 0:
        blocks.append(context(escape(note), block_id="kr_suggest_note"))
    return blocks


def suggestions_in(view: dict) -> tuple[str, ...]:
    """The suggestions a form offers (its Add buttons' values), to keep them on re-render."""
    found = []
    for block in view.get("blocks") or []:
        accessory = block.get("accessory") or {}
        if str(accessory.get("action_id", "")).startswith(ADD_SUGGESTION_ACTION_PREFIX):
            value = accessory.get("value")
            if isinstance(value, str) and value.strip():
                found.append(value)
    return tuple(found)
