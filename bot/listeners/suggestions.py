"""The objective form's "✨ Suggest KRs" and each suggestion's "Add" (only when an admin
configured a model: bot/services/suggestions.py).

Suggest: the form says it is asking (views.update at the same revision, so Slack keeps every
input as typed, also what is typed while the model thinks), the model is asked on the
service's own threads, and the form is updated again with the suggestions, or with a note
saying why there are none. That second update carries the hash of the first: if the form was
re-rendered meanwhile (Enter in a KR, another slot), Slack refuses it rather than let an
older form replace a newer one, and the person can ask again.

Add: the sentence goes into the first empty KR slot (a new one if there is room), read as
Enter reads it, under a new revision; the other suggestions stay on offer.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

from slack_bolt import App
from slack_sdk import WebClient

from bot.blocks.objective_modal import (
    ADD_SUGGESTION_ACTION_PREFIX,
    MAX_KEY_RESULTS,
    SUGGEST_KRS_ACTION,
    SuggestPanel,
    build_objective_form,
    draft_from_state,
    suggestions_in,
)
from bot.listeners import SLACK_FAILURES, after_ack, deps_of, slack_failure, workspace_of
from bot.listeners.actions import show
from bot.logs import log_event
from bot.okr.limits import KR_TITLE_MAX
from bot.okr.suggest import SuggestRequest
from bot.okr.validate import clean_text
from bot.services.drafts import KRDraft, ObjectiveDraft, fill_from_sentence
from bot.services.objectives import FormData
from bot.services.suggestions import SuggestionError, SuggestionService

log = logging.getLogger("ladder.suggestions")

NEEDS_TITLE = "✏️ Type the objective first: the suggestions start from it."
BUSY = "⏳ Ladder is waiting on {source} for other forms just now: try again in a minute."
FAILED = "⚠️ No suggestions this time: {reason}. Your form is as you left it; try again later."
LEFT_OUT = (
    "{n} more suggestion{s} could not be read as a key result with a number, so {it} left out."
)
NONE_READABLE = (
    "⚠️ {source} suggested nothing Ladder could read as a key result with a number. Try again, "
    "or say more in Why it matters."
)
FORM_FULL = f"All {MAX_KEY_RESULTS} key results are in use: empty one, then add the suggestion."


def suggest_key_results(body: dict, context: dict, client: WebClient) -> None:
    deps = deps_of(context)
    service = deps.suggestions
    if service is None:  # a form opened while suggestions were on
        return
    view = body["view"]
    draft = draft_from_state(view)
    form = deps.objectives.form_options(workspace_id=workspace_of(body, context), draft=draft)
    offered = suggestions_in(view)

    def panel(
        *,
        sentences: tuple[str, ...] | None = None,
        note: str | None = None,
        asking: bool = False,
    ) -> dict:
        """The form as it was at the click, with these suggestions (default: those offered
        then) and note."""
        shown = SuggestPanel(
            source=service.label,
            sentences=offered if sentences is None else sentences,
            note=note,
            asking=asking,
        )
        return build_objective_form(form, suggest=shown)

    if not clean_text(draft.title, single_line=True):
        client.views_update(view_id=view["id"], hash=view["hash"], view=panel(note=NEEDS_TITLE))
        return
    # Same revision: Slack keeps what is typed in every input, whatever the form says.
    asking = client.views_update(view_id=view["id"], hash=view["hash"], view=panel(asking=True))
    shown = asking["view"]["hash"]

    def answer() -> None:
        sentences, note = _answer(service, draft, form)
        try:
            client.views_update(
                view_id=view["id"], hash=shown, view=panel(sentences=sentences, note=note)
            )
        except SLACK_FAILURES as error:  # hash_conflict: the form changed meanwhile
            log_event(
                log,
                "not_shown",
                level=logging.WARNING,
                workspace=context.get("team_id"),
                user=body["user"]["id"],
                error=slack_failure(error),
            )

    if not service.later(answer):
        busy = panel(note=BUSY.format(source=service.label))
        client.views_update(view_id=view["id"], hash=shown, view=busy)


def add_suggestion(body: dict, context: dict, client: WebClient) -> None:
    deps = deps_of(context)
    view = body["view"]
    sentence = clean_text(body["actions"][0].get("value") or "", single_line=True)
    sentence = sentence[:KR_TITLE_MAX]
    draft = draft_from_state(view)
    offered = tuple(s for s in suggestions_in(view) if s != sentence)
    slot = _free_slot(draft)
    if not sentence or slot is None:
        full = SuggestPanel(
            source=deps.suggestions.label if deps.suggestions else "the model",
            sentences=suggestions_in(view),
            note=FORM_FULL if sentence else None,
        )
        show(body, context, client, draft, full)
        return
    krs = [*draft.krs]
    if slot == len(krs):
        krs.append(KRDraft())
    # As Enter in the sentence reads it: the fields filled in and shown, to check.
    filled = fill_from_sentence(KRDraft(text=sentence), today=deps.clock().date())
    krs[slot] = replace(filled, details=True)
    # A new revision: the new sentence and fields replace the empty slot's inputs.
    panel = deps.suggest_panel()
    suggest = replace(panel, sentences=offered) if panel is not None else None
    show(body, context, client, replace(draft, krs=krs, rev=draft.rev + 1), suggest)


def register(app: App) -> None:
    after_ack(app.action(SUGGEST_KRS_ACTION))(suggest_key_results)
    after_ack(app.action(re.compile(f"^{re.escape(ADD_SUGGESTION_ACTION_PREFIX)}\\d+$")))(
        add_suggestion
    )


def _answer(
    service: SuggestionService, draft: ObjectiveDraft, form: FormData
) -> tuple[tuple[str, ...] | None, str | None]:
    """What the form shows once the model answered: its suggestions (None: those offered
    before stay), and a note: why there are none, or what was left out."""
    cycle = draft.cycle_id
    request = SuggestRequest(
        title=draft.title.strip(),
        why=draft.description.strip(),
        # "↳ " marks an aligned parent in the picker
        parent=draft.parent_label.removeprefix("↳ ").strip() if draft.parent_label else None,
        key_results=tuple(kr.text for kr in draft.krs if kr.text.strip()),
        cycle=dict(form.cycles).get(cycle) if cycle is not None else None,
        cycle_end=form.cycle_ends.get(cycle) if cycle is not None else None,
    )
    try:
        found = service.suggest(request, typed=[kr.text for kr in draft.krs])
    except SuggestionError as error:
        return None, FAILED.format(reason=error.reason)
    if not found.sentences:
        return None, NONE_READABLE.format(source=service.label)
    note = None
    if found.left_out:
        n = found.left_out
        note = LEFT_OUT.format(n=n, s="" if n == 1 else "s", it="it was" if n == 1 else "they were")
    return tuple(found.sentences), note


def _free_slot(draft: ObjectiveDraft) -> int | None:
    """Where a suggestion goes: the first slot with nothing in it that is not a saved KR (an
    emptied saved KR is one being removed), else a new slot while there is room."""
    for i, kr in enumerate(draft.krs):
        if kr.key_result_id is None and not kr.text.strip() and not kr.has_fields:
            return i
    return len(draft.krs) if len(draft.krs) < MAX_KEY_RESULTS else None
