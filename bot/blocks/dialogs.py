"""Small modals: check in, align to a parent, confirm an archive."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.blocks.checkins import shown_value
from bot.blocks.sources import synced_ago
from bot.blocks.text import (
    context,
    escape,
    input_block,
    kr_values,
    modal,
    objective_picker,
    option,
    section,
    select,
    text_field,
    truncate,
)
from bot.okr.kinds import KRKind, Level, UnitKind
from bot.okr.limits import NOTE_MAX
from bot.okr.numbers import format_input, unit_name
from bot.services.checkins import CheckinForm, KRAnswer

if TYPE_CHECKING:
    from bot.services.sources import SourceState
    from storage.models import Objective
    from storage.tree import KeyResultRow, ObjectiveRow

CHECKIN_TITLE = "Check in"
CHECKIN_CALLBACK = "checkin_modal"
ALIGN_CALLBACK = "align_modal"
ARCHIVE_CALLBACK = "archive_modal"
ALIGN_PARENT_ACTION = "align_parent"
CHECKIN_MAX_KRS = 25
CONFIDENCE_OPTIONS = [
    (str(n), f"{n}/10 · " + ("high" if n >= 7 else "medium" if n >= 4 else "low"))
    for n in range(10, -1, -1)
]


def _now_at(kr: KeyResultRow) -> str:
    """ "Now at (ms)": the unit the value is typed in, as status shows it."""
    unit = unit_name(UnitKind(kr.unit), kr.unit_label)
    return f"Now at ({unit})" if unit and KRKind(kr.kind) is not KRKind.MILESTONE else "Now at"


def build_checkin_modal(
    *,
    krs: Sequence[tuple[KeyResultRow, ObjectiveRow]],
    origin: dict,
    sources: Mapping[int, SourceState] | None = None,
    now: datetime | None = None,
) -> dict:
    """One modal for all the KRs: new value, confidence, then one note and one blocker.

    How to answer is said once, at the top, not under every KR. A KR whose data source
    works (`sources`, by KR id) has no value field: it says the synced value and when it was
    read (`now`), and asks only for confidence."""
    sources = sources or {}
    blocks = [context("Change what moved; leave the rest as it is.", block_id="how_to")]
    for kr, objective in krs[:CHECKIN_MAX_KRS]:
        kind = KRKind(kr.kind)
        values = kr_values(
            kind=kind,
            unit=UnitKind(kr.unit),
            unit_label=kr.unit_label,
            current=kr.current_value,
            target=kr.target_value,
            start=kr.start_value,
        )
        blocks.append(
            section(f"*{escape(kr.title)}*\n{values} · _{escape(truncate(objective.title, 150))}_")
        )
        source = sources.get(kr.id)
        if source is not None and not source.failing:
            blocks.append(_synced_line(kr, source, now=now))
        elif kind is KRKind.MILESTONE:
            done = option("done", "Done")
            element: dict = {"type": "checkboxes", "action_id": f"value:{kr.id}", "options": [done]}
            if (kr.current_value or 0) >= 1:
                element["initial_options"] = [done]
        else:
            # Exact, not "1.2M": an untouched field must save the very same number.
            shown = kr.current_value if kr.current_value is not None else kr.start_value
            element = text_field(f"value:{kr.id}", max_length=40, placeholder="e.g. 1.2M, 42, 87%")
            if shown is not None:
                element["initial_value"] = format_input(shown)
        if source is None or source.failing:  # empty keeps the current value
            blocks.append(input_block(f"value:{kr.id}", _now_at(kr), element, optional=True))
        confidence = select(
            f"confidence:{kr.id}",
            [option(v, label) for v, label in CONFIDENCE_OPTIONS],
            None if kr.confidence is None else str(kr.confidence),
            placeholder="0–10",
        )
        blocks.append(
            input_block(
                f"confidence:{kr.id}",
                "Confidence you'll hit the target",
                confidence,
                optional=True,
            )
        )
    blocks.append({"type": "divider"})
    for name, label, placeholder in (
        ("note", "Note", "What moved, what you learned"),
        (
            "blocker",
            "Blocker",
            "Anything in your way? Your team sees it once in the digest, with your name.",
        ),
    ):
        field = text_field(name, max_length=NOTE_MAX, placeholder=placeholder, multiline=True)
        blocks.append(input_block(name, label, field, optional=True))
    if len(krs) > CHECKIN_MAX_KRS:
        blocks.append(context(f"Showing {CHECKIN_MAX_KRS} of {len(krs)} key results."))
    return modal(
        CHECKIN_TITLE,
        blocks,
        callback_id=CHECKIN_CALLBACK,
        submit="Save check-in",
        metadata=json.dumps(origin, separators=(",", ":")),
    )


def checkin_from_state(view: dict) -> CheckinForm:
    """The check-in modal's submitted fields (build_checkin_modal), as typed. A KR with a
    working data source has only a confidence field: its KRs are those of either field, in
    the form's order."""
    values = {bid: next(iter(a.values())) for bid, a in view["state"]["values"].items()}
    kr_ids = dict.fromkeys(
        int(kr_id)
        for bid in values
        for kind, _, kr_id in [bid.partition(":")]
        if kind in ("value", "confidence") and kr_id.isdigit()
    )
    answers = []
    for kr_id in kr_ids:
        state = values.get(f"value:{kr_id}")
        chosen = (values.get(f"confidence:{kr_id}") or {}).get("selected_option")
        checkbox = state is not None and state.get("type") == "checkboxes"
        answers.append(
            KRAnswer(
                key_result_id=kr_id,
                value=None if state is None or checkbox else state.get("value") or "",
                done=bool(state.get("selected_options")) if checkbox and state else None,
                confidence=str(chosen["value"]) if chosen else None,
            )
        )
    return CheckinForm(
        form_id=view["id"],
        answers=answers,
        note=(values.get("note") or {}).get("value") or "",
        blocker=(values.get("blocker") or {}).get("value") or "",
    )


def _synced_line(kr: KeyResultRow, source: SourceState, *, now: datetime | None) -> dict:
    """In place of the value field: the value is the source's, not typed."""
    value = shown_value(kr, kr.current_value)
    when = f", {synced_ago(source.last_ok_at, now=now)}" if now is not None else ""
    return context(
        f"📡 Synced from the data source: *{escape(value)}*{when}", block_id=f"synced:{kr.id}"
    )


def build_align_modal(*, objective: Objective, parent: Objective | None) -> dict:
    chosen = option(str(parent.id), parent.title) if parent is not None else None
    hint = (
        "Leave empty to make it a top-level objective."
        if Level.of(objective.level, team_id=objective.team_id) is Level.COMPANY
        else "Left empty, it is flagged as aligned to nothing: a team or personal "
        "objective ladders up to the objective it serves."
    )
    blocks = [
        section(f"*{escape(objective.title)}* ladders up to:"),
        input_block(
            "parent",
            "Parent objective",
            objective_picker(ALIGN_PARENT_ACTION, chosen),
            optional=True,
            hint=hint,
        ),
    ]
    return modal(
        "Align objective",
        blocks,
        callback_id=ALIGN_CALLBACK,
        submit="Save",
        metadata=json.dumps({"objective_id": objective.id}),
    )


def build_archive_modal(
    *, objective: Objective, children: list[Objective], parent: Objective | None
) -> dict:
    lines = [
        f"Archive *{escape(objective.title)}*? It disappears from status and check-ins; "
        "its history is kept."
    ]
    if children:
        where = f"*{escape(parent.title)}*" if parent else "the top level"
        names = ", ".join(f"_{escape(truncate(c.title, 60))}_" for c in children[:10])
        more = f" and {len(children) - 10} more" if len(children) > 10 else ""
        lines.append(
            f"Its {len(children)} aligned objective(s) ({names}{more}) move up to {where}."
        )
    return modal(
        "Archive objective",
        [section("\n\n".join(lines))],
        callback_id=ARCHIVE_CALLBACK,
        submit="Archive",
        close="Keep it",
        metadata=json.dumps({"objective_id": objective.id}),
    )
