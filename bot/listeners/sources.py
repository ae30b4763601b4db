"""Connect data: the objective menu's "Connect data" and the owner's "Fix" button open one
modal; its Test button fetches once and shows what would be recorded; push tokens are made
(shown once) and revoked there."""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.blocks.messages import build_notice
from bot.blocks.objective_modal import CONNECT_DATA_ACTION
from bot.blocks.sources import (
    FIX_SOURCE_ACTION,
    SOURCE_DISCONNECT_ACTION,
    SOURCE_KIND_ACTION,
    SOURCE_KR_ACTION,
    SOURCE_MODAL_CALLBACK,
    SOURCE_REVOKE_ACTION,
    SOURCE_TEST_ACTION,
    SOURCE_TOKEN_ACTION,
    SourceDraft,
    build_source_modal,
    field_block,
    source_draft_from_state,
    test_result_text,
)
from bot.blocks.text import escape
from bot.listeners import (
    FORM_FAILURES,
    Deps,
    after_ack,
    before_answer,
    deps_of,
    form_failure,
    tell_clicker,
    who,
    workspace_of,
)
from bot.services.sources import SourceDenied, SourceForm, SourceService
from bot.sources.fetch import SourceKind, SourceSpec, credential_names
from storage.errors import NotFound, Refused

log = logging.getLogger(__name__)


def data_command(call: Any) -> None:
    """`/okr data`: Connect data for the KRs you own or whose objective you own (admins:
    every KR of the open cycles), the first connected one chosen."""
    everything = call.is_admin()
    form = _service(call.deps).form(
        workspace_id=call.workspace_id, user_id=call.user_id, everything=everything
    )
    call.open_modal(_view(form))


def _view(form: SourceForm, draft: SourceDraft | None = None, **options: Any) -> dict:
    """The modal with `draft` (default: the chosen KR's source as stored)."""
    return build_source_modal(
        form=form,
        draft=draft or SourceDraft.of(form.key_result_id, form.source),
        credentials=credential_names(),
        **options,
    )


def fix(ack: Ack, body: dict, context: dict, client: WebClient, respond: Respond) -> None:
    """The owner's Fix button, or the objective form's Connect data (the modal on top of the
    form: views.push): Connect data on that KR, among its objective's."""
    ack()
    action = body["actions"][0]
    on_form = action["action_id"].startswith(CONNECT_DATA_ACTION)
    try:
        form = _service(deps_of(context)).form(
            workspace_id=workspace_of(body, context), key_result_id=int(action["value"])
        )
    except NotFound:  # deleted meanwhile: on the form, its save will say so
        if not on_form:
            tell_clicker(body, client, respond, build_notice("That key result no longer exists."))
        return
    (client.views_push if on_form else client.views_open)(
        trigger_id=body["trigger_id"], view=_view(form)
    )


def choose_key_result(body: dict, context: dict, client: WebClient) -> None:
    """Another KR chosen: show its source (a new revision shows new initial values)."""
    draft, rev = source_draft_from_state(body["view"])
    _update(deps_of(context), body, client, draft, rev + 1, reset=True)


def choose_kind(body: dict, context: dict, client: WebClient) -> None:
    """Another kind chosen: show its fields, keeping what was typed."""
    draft, rev = source_draft_from_state(body["view"])
    _update(deps_of(context), body, client, draft, rev + 1)


def test(body: dict, context: dict, client: WebClient) -> None:
    deps = deps_of(context)
    draft, rev = source_draft_from_state(body["view"])
    spec, problem = _spec(draft)
    if spec is None or draft.key_result_id is None:
        text = test_result_text(
            value=None, raw=None, current=None, url=None, reason=problem, would_record=False
        )
    else:
        try:
            result = _service(deps).test(
                **who(body, context, client), key_result_id=draft.key_result_id, spec=spec
            )
            reading = result.reading
            text = test_result_text(
                value=reading.value if reading else None,
                raw=reading.raw if reading else None,
                current=result.current_value,
                url=reading.url if reading else None,
                reason=result.reason,
                would_record=result.would_record,
            )
        except (SourceDenied, NotFound) as error:
            text = _denied(error)
    _update(deps, body, client, draft, rev, result=text)


def new_token(body: dict, context: dict, client: WebClient) -> None:
    deps = deps_of(context)
    draft, rev = source_draft_from_state(body["view"])
    token = text = None
    if draft.key_result_id is not None:
        try:
            token = _service(deps).new_push_token(
                **who(body, context, client), key_result_id=draft.key_result_id
            )
        except (SourceDenied, NotFound) as error:
            text = _denied(error)
    _update(deps, body, client, draft, rev, result=text, token=token)


def revoke_or_disconnect(body: dict, context: dict, client: WebClient) -> None:
    deps = deps_of(context)
    draft, rev = source_draft_from_state(body["view"])
    if draft.key_result_id is None:
        return
    disconnect = body["actions"][0]["action_id"] == SOURCE_DISCONNECT_ACTION
    sources = _service(deps)
    asker = who(body, context, client)
    try:
        if disconnect:
            gone = sources.disconnect(**asker, key_result_id=draft.key_result_id)
            text = "🔌 Disconnected: the value is typed by hand again." if gone else None
        else:
            n = sources.revoke_push_token(**asker, key_result_id=draft.key_result_id)
            text = "🔑 Push token revoked." if n else "🔑 There was no push token to revoke."
    except (SourceDenied, NotFound) as error:
        text = _denied(error)
    _update(deps, body, client, draft, rev + disconnect, result=text, reset=disconnect)


def save(ack: Ack, body: dict, context: BoltContext, client: WebClient) -> None:
    draft, rev = source_draft_from_state(body["view"])
    spec, problem = _spec(draft)
    if spec is None or draft.key_result_id is None:
        ack(response_action="errors", errors={field_block(_field_of(problem), rev): problem})
        return
    try:
        _service(deps_of(context)).connect(
            **who(body, context, client),
            key_result_id=draft.key_result_id,
            spec=spec,
            interval_minutes=draft.interval,
        )
    except (SourceDenied, *FORM_FAILURES) as error:  # SourceDenied first: it is a Refused
        ack(response_action="errors", errors={field_block("url", rev): form_failure(error)})
        return
    except (Refused, NotFound) as error:
        message = str(error)
        ack(response_action="errors", errors={field_block(_field_of(message), rev): message})
        return
    ack()


def register(app: App) -> None:
    before_answer(
        app.action(FIX_SOURCE_ACTION),
        app.action(re.compile(f"^{re.escape(CONNECT_DATA_ACTION)}:\\d+$")),
    )(fix)
    after_ack(app.action(SOURCE_KR_ACTION))(choose_key_result)
    after_ack(app.action(SOURCE_KIND_ACTION))(choose_kind)
    after_ack(app.action(SOURCE_TEST_ACTION))(test)
    after_ack(app.action(SOURCE_TOKEN_ACTION))(new_token)
    after_ack(app.action(SOURCE_REVOKE_ACTION), app.action(SOURCE_DISCONNECT_ACTION))(
        revoke_or_disconnect
    )
    app.view(SOURCE_MODAL_CALLBACK)(save)


def _service(deps: Deps) -> SourceService:
    assert deps.sources is not None
    return deps.sources


def _spec(draft: SourceDraft) -> tuple[SourceSpec | None, str]:
    try:
        multiplier = float(draft.multiplier.replace(",", "").replace("_", "") or "1")
    except ValueError:
        return None, "The multiplier must be a number, like 1000 or 0.01."
    if not math.isfinite(multiplier) or multiplier == 0:
        return None, "The multiplier must be a number other than 0 (1 keeps the value as it is)."
    if draft.key_result_id is None:
        return None, "Choose the key result."
    try:
        kind = SourceKind(draft.kind)
    except ValueError:
        return None, "Choose a kind of source."
    return (
        SourceSpec(
            kind=kind,
            url=draft.url,
            expression=draft.expression,
            column=draft.column,
            row_key=draft.row_key,
            multiplier=multiplier,
            credential=draft.credential,
        ),
        "",
    )


def _field_of(message: str) -> str:
    """Which field a refusal belongs under."""
    lowered = message.lower()
    for word, field in (
        ("multiplier", "multiplier"),
        ("jmespath", "expression"),
        ("prometheus query", "expression"),
        ("expression", "expression"),
        ("column", "column"),
        ("credential", "credential"),
        ("key result", "kr"),
        ("every", "interval"),
    ):
        if word in lowered:
            return field
    return "url"


def _denied(error: Exception) -> str:
    return f"🚫 {escape(str(error))}"


def _update(
    deps: Deps,
    body: dict,
    client: WebClient,
    draft: SourceDraft,
    rev: int,
    *,
    reset: bool = False,
    **shown: Any,
) -> None:
    """Show the modal again with what was typed (`reset`: the KR's source as stored), and
    what is `shown` (a test's result, a new token)."""
    view = body["view"]
    form = _form(deps, body, draft.key_result_id)
    updated = _view(form, None if reset else draft, rev=rev, **shown)
    client.views_update(view_id=view["id"], hash=view["hash"], view=updated)


def _form(deps: Deps, body: dict, key_result_id: int | None) -> SourceForm:
    """The modal's KRs again (its scope is in private_metadata), with this one chosen."""
    scope = json.loads(body["view"].get("private_metadata") or "{}").get("scope") or {}
    return _service(deps).form(
        workspace_id=str(body["view"].get("team_id") or body["team"]["id"]),
        key_result_id=key_result_id,
        objective_id=scope.get("objective_id"),
        user_id=scope.get("user_id"),
        everything=bool(scope.get("everything")),
    )
