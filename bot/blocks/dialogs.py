"""Small modals: check in, align to a parent, confirm an archive."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.blocks.sources import synced_ago
from bot.blocks.text import escape, kr_values, mrkdwn, plain, truncate
from bot.okr.kinds import KRKind, Level, UnitKind
from bot.okr.limits import NOTE_MAX
from bot.okr.numbers import format_input, format_value, unit_name
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


def _option(value: str, label: str) -> dict:
    return {"text": plain(label, 75), "value": value}


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
    blocks: list[dict] = [
        {
            "type": "context",
            "block_id": "how_to",
            "elements": [mrkdwn("Change what moved; leave the rest as it is.")],
        }
    ]
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
            {
                "type": "section",
                "text": mrkdwn(
                    f"*{escape(kr.title)}*\n{values} · _{escape(truncate(objective.title, 150))}_"
                ),
            }
        )
        source = sources.get(kr.id)
        if source is not None and not source.failing:
            blocks.append(_synced_line(kr, source, now=now))
        elif kind is KRKind.MILESTONE:
            done = {"text": plain("Done", 75), "value": "done"}
            element: dict = {"type": "checkboxes", "action_id": f"value:{kr.id}", "options": [done]}
            if (kr.current_value or 0) >= 1:
                element["initial_options"] = [done]
        else:
            element = {
                "type": "plain_text_input",
                "action_id": f"value:{kr.id}",
                "max_length": 40,
                "placeholder": plain("e.g. 1.2M, 42, 87%"),
            }
            # Exact, not "1.2M": an untouched field must save the very same number.
            shown = kr.current_value if kr.current_value is not None else kr.start_value
            if shown is not None:
                element["initial_value"] = format_input(shown)
        if source is None or source.failing:
            blocks.append(
                {
                    "type": "input",
                    "block_id": f"value:{kr.id}",
                    "label": plain(_now_at(kr)),
                    "optional": True,  # empty keeps the current value
                    "element": element,
                }
            )
        confidence: dict = {
            "type": "static_select",
            "action_id": f"confidence:{kr.id}",
            "placeholder": plain("0–10"),
            "options": [_option(v, label) for v, label in CONFIDENCE_OPTIONS],
        }
        if kr.confidence is not None:
            confidence["initial_option"] = _option(*CONFIDENCE_OPTIONS[10 - kr.confidence])
        blocks.append(
            {
                "type": "input",
                "block_id": f"confidence:{kr.id}",
                "optional": True,
                "label": plain("Confidence you'll hit the target"),
                "element": confidence,
            }
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
        blocks.append(
            {
                "type": "input",
                "block_id": name,
                "optional": True,
                "label": plain(label),
                "element": {
                    "type": "plain_text_input",
                    "action_id": name,
                    "multiline": True,
                    "max_length": NOTE_MAX,
                    "placeholder": plain(placeholder),
                },
            }
        )
    if len(krs) > CHECKIN_MAX_KRS:
        blocks.append(
            {
                "type": "context",
                "elements": [mrkdwn(f"Showing {CHECKIN_MAX_KRS} of {len(krs)} key results.")],
            }
        )
    return {
        "type": "modal",
        "callback_id": CHECKIN_CALLBACK,
        "title": plain(CHECKIN_TITLE, 24),
        "submit": plain("Save check-in", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps(origin, separators=(",", ":")),
        "blocks": blocks,
    }


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
    if KRKind(kr.kind) is KRKind.MILESTONE:
        value = "done" if (kr.current_value or 0) >= 1 else "not done"
    else:
        value = format_value(kr.current_value, unit=UnitKind(kr.unit), unit_label=kr.unit_label)
    when = f", {synced_ago(source.last_ok_at, now=now)}" if now is not None else ""
    return {
        "type": "context",
        "block_id": f"synced:{kr.id}",
        "elements": [mrkdwn(f"📡 Synced from the data source: *{escape(value)}*{when}")],
    }


def build_align_modal(*, objective: Objective, parent: Objective | None) -> dict:
    element: dict = {
        "type": "external_select",
        "action_id": ALIGN_PARENT_ACTION,
        "min_query_length": 0,
        "placeholder": plain("Search objectives…"),
    }
    if parent is not None:
        element["initial_option"] = _option(str(parent.id), truncate(parent.title, 75))
    return {
        "type": "modal",
        "callback_id": ALIGN_CALLBACK,
        "title": plain("Align objective", 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"objective_id": objective.id}),
        "blocks": [
            {"type": "section", "text": mrkdwn(f"*{escape(objective.title)}* ladders up to:")},
            {
                "type": "input",
                "block_id": "parent",
                "optional": True,
                "element": element,
                "label": plain("Parent objective"),
                "hint": plain(
                    "Leave empty to make it a top-level objective."
                    if Level.of(objective.level, team_id=objective.team_id) is Level.COMPANY
                    else "Left empty, it is flagged as aligned to nothing: a team or personal "
                    "objective ladders up to the objective it serves."
                ),
            },
        ],
    }


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
    return {
        "type": "modal",
        "callback_id": ARCHIVE_CALLBACK,
        "title": plain("Archive objective", 24),
        "submit": plain("Archive", 24),
        "close": plain("Keep it", 24),
        "private_metadata": json.dumps({"objective_id": objective.id}),
        "blocks": [{"type": "section", "text": mrkdwn("\n\n".join(lines))}],
    }
