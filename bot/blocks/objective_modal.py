"""The objective modal used by `/okr new` and "Edit": objective fields plus KR slots.

Each KR is typed as a sentence; the parser fills kind/start/target/unit/due, which the person
can correct. Block ids carry a revision (`name@rev`): Slack keeps what was typed in an input
whose block_id is unchanged, so a new revision is how parsed values replace the old ones.
"""

from __future__ import annotations

import json
from datetime import date

from bot.blocks.text import plain, truncate
from bot.okr.kinds import KRKind
from bot.okr.limits import DESCRIPTION_MAX, KR_TITLE_MAX, OBJECTIVE_TITLE_MAX, UNIT_LABEL_MAX
from bot.services.drafts import KRDraft, ObjectiveDraft

CALLBACK_ID = "objective_modal"
MAX_KEY_RESULTS = 8
ADD_KR_ACTION = "kr_add"
PARSE_KR_ACTION_PREFIX = "kr_text_"
PARENT_ACTION = "parent_objective"
KIND_OPTIONS = [(k.value, k.label) for k in KRKind]
# Review at the end of a cycle: how the grade will be judged (bot.okr.grading.Verdict).
COMMITMENT_OPTIONS = [
    ("aspirational", "Aspirational: a stretch, ~0.7 is success"),
    ("committed", "Committed: we promise 1.0"),
]


def block_id(name: str, rev: int) -> str:
    return f"{name}@{rev}"


def _option(value: str, label: str) -> dict:
    return {"text": plain(label, 75), "value": value}


def _text_input(
    name: str,
    label: str,
    *,
    rev: int,
    value: str = "",
    optional: bool = False,
    multiline: bool = False,
    max_length: int = 3000,
    placeholder: str | None = None,
    hint: str | None = None,
    dispatch: bool = False,
    action_id: str | None = None,
) -> dict:
    # Every interactive element gets its own action_id (Slack wants them unique in a view).
    element: dict = {
        "type": "plain_text_input",
        "action_id": action_id or name,
        "max_length": max_length,
    }
    if multiline:
        element["multiline"] = True
    if value:
        element["initial_value"] = truncate(value, max_length)
    if placeholder:
        element["placeholder"] = plain(placeholder, 150)
    if dispatch:
        element["dispatch_action_config"] = {"trigger_actions_on": ["on_enter_pressed"]}
    block: dict = {
        "type": "input",
        "block_id": block_id(name, rev),
        "label": plain(label, 2000),
        "optional": optional,
        "element": element,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    if dispatch:
        block["dispatch_action"] = True
    return block


def _select(
    name: str,
    label: str,
    *,
    rev: int,
    options: list[tuple[str, str]],
    selected: str | None,
    optional: bool = False,
    placeholder: str = "Choose…",
) -> dict:
    element: dict = {
        "type": "static_select",
        "action_id": name,
        "placeholder": plain(placeholder, 150),
        "options": [_option(v, lbl) for v, lbl in options[:100]],
    }
    chosen = next((o for o in element["options"] if o["value"] == selected), None)
    if chosen:
        element["initial_option"] = chosen
    return {
        "type": "input",
        "block_id": block_id(name, rev),
        "label": plain(label),
        "optional": optional,
        "element": element,
    }


def _kr_blocks(i: int, kr: KRDraft, rev: int) -> list[dict]:
    n = i + 1
    due: dict = {"type": "datepicker", "action_id": f"kr{i}_due", "placeholder": plain("Due date")}
    if kr.due:
        due["initial_date"] = kr.due.isoformat()
    return [
        {"type": "divider"},
        _text_input(
            f"kr{i}_text",
            f"Key result {n}",
            rev=rev,
            value=kr.text,
            optional=True,
            max_length=KR_TITLE_MAX,
            action_id=f"{PARSE_KR_ACTION_PREFIX}{i}",
            dispatch=True,
            placeholder="e.g. Achieve 1 million active users within six months",
            hint="Type it as a sentence and press Enter: Ladder fills in the fields below.",
        ),
        _select(
            f"kr{i}_kind",
            "Measured as",
            rev=rev,
            options=KIND_OPTIONS,
            selected=kr.kind,
            optional=True,
            placeholder="Read from the sentence",
        ),
        _text_input(
            f"kr{i}_start",
            "Start value (baseline)",
            rev=rev,
            value=kr.start,
            optional=True,
            max_length=40,
            placeholder="e.g. 0, 250, 40%",
        ),
        _text_input(
            f"kr{i}_target",
            "Target",
            rev=rev,
            value=kr.target,
            optional=True,
            max_length=40,
            placeholder="e.g. 1M, 100, 90%",
        ),
        _text_input(
            f"kr{i}_unit",
            "Unit",
            rev=rev,
            value=kr.unit,
            optional=True,
            max_length=UNIT_LABEL_MAX,
            placeholder="%, $, ms, active users…",
        ),
        {
            "type": "input",
            "block_id": block_id(f"kr{i}_due", rev),
            "label": plain("Due"),
            "optional": True,
            "element": due,
        },
        _weight_input(i, kr, rev),
    ]


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
    block = _select(
        "commitment",
        "Commitment",
        rev=rev,
        options=COMMITMENT_OPTIONS,
        selected="committed" if draft.committed else "aspirational",
    )
    block["hint"] = plain(
        "Graded against it at the end of the cycle: 1.0 on an aspirational objective "
        "means aim higher next time."
    )
    return block


def build_objective_modal(
    *,
    draft: ObjectiveDraft,
    teams: list[tuple[int, str]],
    cycles: list[tuple[int, str]],
) -> dict:
    rev = draft.rev
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
        _text_input(
            "description",
            "Why it matters",
            rev=rev,
            value=draft.description,
            optional=True,
            multiline=True,
            max_length=DESCRIPTION_MAX,
        ),
        {
            "type": "input",
            "block_id": block_id("owner", rev),
            "label": plain("Owner"),
            "element": {
                "type": "users_select",
                "action_id": "owner",
                **({"initial_user": draft.owner_id} if draft.owner_id else {}),
            },
        },
    ]
    if teams:
        blocks.append(
            _select(
                "team",
                "Team",
                rev=rev,
                selected=str(draft.team_id or "company"),
                options=[("company", "Company-wide (no team)")]
                + [(str(i), name) for i, name in teams],
            )
        )
    if cycles:
        blocks.append(
            _select(
                "cycle",
                "Cycle",
                rev=rev,
                selected=str(draft.cycle_id or ""),
                options=[(str(i), name) for i, name in cycles],
            )
        )
    parent: dict = {
        "type": "external_select",
        "action_id": PARENT_ACTION,
        "min_query_length": 0,
        "placeholder": plain("Search objectives…"),
    }
    if draft.parent_id is not None:
        parent["initial_option"] = _option(str(draft.parent_id), draft.parent_label or "")
    blocks.append(
        {
            "type": "input",
            "block_id": block_id("parent", rev),
            "label": plain("Ladders up to"),
            "optional": True,
            "element": parent,
            "hint": plain(
                "The objective this one supports. Leave empty for a top-level "
                "objective: it then serves the vision and mission."
            ),
        }
    )
    for i, kr in enumerate(draft.krs):
        blocks.extend(_kr_blocks(i, kr, rev))
    if len(draft.krs) < MAX_KEY_RESULTS:
        blocks.append(
            {
                "type": "actions",
                "block_id": block_id("kr_actions", rev),
                "elements": [
                    {
                        "type": "button",
                        "action_id": ADD_KR_ACTION,
                        "text": plain("➕ Add another key result"),
                    }
                ],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": (
                        "Good key results are measurable and ambitious: "
                        "hitting 70% of them is a success."
                    ),
                }
            ],
        }
    )
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain("Edit objective" if editing else "New objective", 24),
        "submit": plain("Save" if editing else "Create", 24),
        "close": plain("Cancel", 24),
        "private_metadata": draft.metadata(),
        "notify_on_close": False,
        "blocks": blocks,
    }


def draft_from_state(view: dict) -> ObjectiveDraft:
    """Rebuild the draft from a modal's metadata and its current state (what was typed)."""
    meta = json.loads(view.get("private_metadata") or "{}")
    values: dict = {}
    for bid, actions in (view.get("state") or {}).get("values", {}).items():
        (state,) = actions.values()
        values[bid.split("@", 1)[0]] = state

    def text(name: str) -> str:
        return (values.get(name) or {}).get("value") or ""

    def selected(name: str) -> str | None:
        option = (values.get(name) or {}).get("selected_option")
        return option["value"] if option else None

    def picked_date(name: str) -> date | None:
        raw = (values.get(name) or {}).get("selected_date")
        try:
            return date.fromisoformat(raw) if raw else None
        except (TypeError, ValueError):  # a datepicker sends YYYY-MM-DD; anything else: none
            return None

    kr_ids = meta.get("kr_ids") or []
    krs = [
        KRDraft(
            text=text(f"kr{i}_text"),
            kind=selected(f"kr{i}_kind"),
            start=text(f"kr{i}_start"),
            target=text(f"kr{i}_target"),
            unit=text(f"kr{i}_unit"),
            due=picked_date(f"kr{i}_due"),
            key_result_id=kr_ids[i] if i < len(kr_ids) else None,
            weight=text(f"kr{i}_weight"),
        )
        for i in range(len(kr_ids))
    ]
    team = selected("team")
    cycle = selected("cycle")
    parent_option = (values.get("parent") or {}).get("selected_option")
    return ObjectiveDraft(
        title=text("title"),
        description=text("description"),
        owner_id=(values.get("owner") or {}).get("selected_user"),
        team_id=int(team) if team and team != "company" else None,
        cycle_id=int(cycle) if cycle else None,
        parent_id=int(parent_option["value"]) if parent_option else None,
        parent_label=parent_option["text"]["text"] if parent_option else None,
        krs=krs,
        committed=selected("commitment") == "committed",
        objective_id=meta.get("objective_id"),
        rev=int(meta.get("rev", 0)),
        channel_id=meta.get("channel_id"),
    )
