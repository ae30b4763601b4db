"""Slack surfaces of data sources: the owner's failure notice, the Connect data modal, what
a test would record, and the push token shown once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.blocks.text import (
    actions,
    block_id,
    button,
    context,
    escape,
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
from bot.sources.fetch import KIND_LABELS, SourceKind

if TYPE_CHECKING:
    from bot.services.sources import SourceForm, SourceState

FIX_SOURCE_ACTION = "source_fix"
DATA_COMMAND = "data"  # `/okr data`: Connect data for your key results
SOURCE_MODAL_CALLBACK = "source_modal"
SOURCE_TEST_ACTION = "source_test"
SOURCE_KR_ACTION = "source_kr"
SOURCE_KIND_ACTION = "source_kind"
SOURCE_TOKEN_ACTION = "source_token"
SOURCE_REVOKE_ACTION = "source_revoke"
SOURCE_DISCONNECT_ACTION = "source_disconnect"
RESULT_BLOCK = "source_result"
field_block = block_id  # the name the listener knows it by


def failure_notice(*, kr_title: str, key_result_id: int, host: str, reason: str) -> dict:
    """To the KR's owner, once per failure episode."""
    title = escape(truncate(kr_title, 150))
    text = f"⚠️ Ladder could not update “{title}” from {escape(host)}: {escape(reason)}"
    body = (
        f"⚠️ *Ladder could not update “{title}”* from its data source "
        f"`{escape(host)}`.\n>{escape(truncate(reason, 300))}\n"
        "The key result keeps its last value. Ladder keeps trying and tells you "
        "again only if it breaks again after working."
    )
    fix = button("🔧 Fix", FIX_SOURCE_ACTION, str(key_result_id))
    return {"text": truncate(text, 3000), "blocks": [section(body, accessory=fix)]}


def source_status_line(
    *, failing: bool, reason: str | None, host: str, last_ok_at: datetime | None
) -> str:
    """One line for menus and Home: where the value comes from and whether that works."""
    if failing:
        return f"🔌 ⚠️ {escape(host)} failing: {escape(truncate(reason or 'unknown', 200))}"
    when = f", last read {last_ok_at:%b %-d %H:%M} UTC" if last_ok_at else ", not read yet"
    return f"🔌 from {escape(host)}{when}"


def synced_ago(moment: datetime | None, *, now: datetime) -> str:
    """How long ago a source was last read: "just now", "12 min ago", "2 h ago", "3 days ago"."""
    if moment is None:
        return "not read yet"
    seconds = max(0.0, (now - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return "yesterday" if days == 1 else f"{days} days ago"


def source_badge(state: SourceState, *, now: datetime) -> str:
    """The short line under a KR its owner sees (Home, `/okr mine`): synced, or failing and why."""
    if state.failing:
        return f"⚠️ data source failing: {escape(truncate(state.failure_reason or 'unknown', 150))}"
    return f"📡 synced {synced_ago(state.last_ok_at, now=now)}"


# -- the Connect data modal ---------------------------------------------------------------

INTERVALS: list[tuple[int, str]] = [
    (15, "every 15 minutes"),
    (30, "every 30 minutes"),
    (60, "hourly"),
    (360, "every 6 hours"),
    (1440, "daily"),
]


@dataclass(frozen=True)
class SourceDraft:
    """The modal's fields as typed (strings), and which KR they are for."""

    key_result_id: int | None = None
    kind: str = SourceKind.JSON.value
    url: str = ""
    expression: str = ""
    column: str = ""
    row_key: str = ""
    multiplier: str = "1"
    credential: str | None = None
    interval: int = 60

    @classmethod
    def of(cls, key_result_id: int | None, state: SourceState | None) -> SourceDraft:
        if state is None:
            return cls(key_result_id=key_result_id)
        spec = state.spec
        return cls(
            key_result_id=key_result_id,
            kind=spec.kind.value,
            url=spec.url,
            expression=spec.expression,
            column=spec.column,
            row_key=spec.row_key,
            multiplier=f"{spec.multiplier:g}",
            credential=spec.credential,
            interval=state.interval_minutes,
        )


def _text_input(
    name: str,
    rev: int,
    label: str,
    value: str,
    *,
    placeholder: str,
    optional: bool,
    hint: str = "",
    max_length: int = 2000,
) -> dict:
    # Typed text is kept as it is: a value longer than max_length is Slack's to refuse.
    element = text_field(name, max_length=max_length, placeholder=placeholder)
    if value:
        element["initial_value"] = value
    return input_block(block_id(name, rev), label, element, optional=optional, hint=hint)


def build_source_modal(
    *,
    form: SourceForm,
    draft: SourceDraft,
    credentials: list[str],
    rev: int = 0,
    result: str | None = None,
    token: str | None = None,
) -> dict:
    """Connect a KR of the objective to a data source: the KR, the kind, where and how to
    read the number, units, credential, schedule; Test shows what a pull would record."""
    kr_options = [
        option(
            str(kr_id),
            ("⚠️ " if kr_id in form.failing else "🔌 " if kr_id in form.connected else "")
            + truncate(title, 70),
        )
        for kr_id, title in form.key_results
    ]
    blocks = [context(f"*{escape(truncate(form.heading, 200))}*")]
    metadata = json.dumps({"scope": form.scope, "rev": rev})
    if not kr_options:
        blocks.append(section("There are no key results to connect here yet."))
        return modal("Connect data", blocks, callback_id=SOURCE_MODAL_CALLBACK, metadata=metadata)
    chosen = next((o for o in kr_options if o["value"] == str(draft.key_result_id)), kr_options[0])
    kr_select = {**select(SOURCE_KR_ACTION, kr_options[:100]), "initial_option": chosen}
    # Choosing another KR shows its source; another kind, its own fields.
    blocks.append(input_block(block_id("kr", rev), "Key result", kr_select, dispatch=True))
    if form.source is not None:
        state = form.source
        status = source_status_line(
            failing=state.failing,
            reason=state.failure_reason,
            host=state.host,
            last_ok_at=state.last_ok_at,
        )
        blocks.append(context(status))
    kind_options = [option(kind.value, KIND_LABELS[kind]) for kind in SourceKind]
    kind_select = {
        **select(SOURCE_KIND_ACTION, kind_options),
        "initial_option": next(o for o in kind_options if o["value"] == draft.kind),
    }
    blocks.append(input_block(block_id("kind", rev), "Kind", kind_select, dispatch=True))
    # Only the fields of the chosen kind: changing the kind shows its own (dispatch_action).
    kind = SourceKind(draft.kind) if draft.kind in set(SourceKind) else SourceKind.JSON
    url_help = {
        SourceKind.JSON: ("https://metrics.internal/api/users", "An address that answers JSON."),
        SourceKind.PROMETHEUS: (
            "https://prometheus.internal:9090",
            "The Prometheus server; Ladder asks its /api/v1/query.",
        ),
        SourceKind.CSV: (
            "https://reports.internal/nps.csv",
            "An address that answers a CSV file with a header row.",
        ),
    }[kind]
    blocks.append(
        _text_input(
            "url", rev, "URL", draft.url, placeholder=url_help[0], optional=False, hint=url_help[1]
        )
    )
    if kind is SourceKind.JSON:
        blocks.append(
            _text_input(
                "expression",
                rev,
                "JMESPath expression",
                draft.expression,
                placeholder="data.active_users",
                optional=False,
                hint="Picks one number from the answer (jmespath.org), e.g. sum(items[].count) "
                "or to_number(stats.nps).",
                max_length=1000,
            )
        )
    elif kind is SourceKind.PROMETHEUS:
        blocks.append(
            _text_input(
                "expression",
                rev,
                "Query",
                draft.expression,
                placeholder='sum(rate(http_requests_total{job="api"}[5m]))',
                optional=False,
                hint="An instant query that returns exactly one sample (aggregate with sum, "
                "avg, max…).",
                max_length=1000,
            )
        )
    else:
        blocks += [
            _text_input(
                "column",
                rev,
                "Column",
                draft.column,
                placeholder="nps",
                optional=False,
                hint="The header of the column that holds the number.",
                max_length=200,
            ),
            _text_input(
                "row_key",
                rev,
                "Row",
                draft.row_key,
                placeholder="empty: the last row",
                optional=True,
                hint="The row whose first cell is this, e.g. 2026-W10; empty takes the last row.",
                max_length=200,
            ),
        ]
    blocks += [
        _text_input(
            "multiplier",
            rev,
            "Multiplier",
            draft.multiplier,
            placeholder="1",
            optional=True,
            hint="Scales the number: 1000 turns seconds into ms, 100 a ratio into percent.",
            max_length=40,
        ),
    ]
    if credentials:
        options = [option(name, f"LADDER_SOURCE_{name}") for name in credentials[:100]]
        credential = select("credential", options, draft.credential, placeholder="none")
        hint = (
            "Set on the server as LADDER_SOURCE_<NAME>: a bearer token, or "
            "“Header-Name: value”. Never stored in Ladder's database."
        )
        blocks.append(
            input_block(
                block_id("credential", rev), "Credential", credential, optional=True, hint=hint
            )
        )
    else:
        blocks.append(
            context(
                "No credentials are set on the server. Whoever runs Ladder can add "
                "one as `LADDER_SOURCE_<NAME>` (a bearer token, or `Header-Name: value`)."
            )
        )
    interval_options = [option(str(minutes), label) for minutes, label in INTERVALS]
    interval = str(draft.interval)
    if interval not in {o["value"] for o in interval_options}:
        interval = interval_options[2]["value"]
    blocks.append(
        input_block(
            block_id("interval", rev), "Update", select("interval", interval_options, interval)
        )
    )
    buttons = [
        button("🧪 Test", SOURCE_TEST_ACTION, "test"),
        button("🔑 New push token", SOURCE_TOKEN_ACTION, "token"),
        button("Revoke push token", SOURCE_REVOKE_ACTION, "revoke"),
    ]
    if form.source is not None:
        buttons.append(button("Disconnect", SOURCE_DISCONNECT_ACTION, "disconnect", style="danger"))
    blocks.append(actions(*buttons, block_id="source_buttons"))
    if result:
        blocks.append(section(result, block_id=RESULT_BLOCK))
    if token:
        blocks.append(
            section(
                "🔑 *Push token* (shown this once; Ladder keeps only a hash):\n"
                f"```{token}```\n"
                f'`curl -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: '
                f'application/json" -d \'{{"value": 123}}\' '
                f"<ladder>/api/key-results/{draft.key_result_id}/value`",
                block_id="source_token_shown",
            )
        )
    return modal(
        "Connect data",
        blocks[:100],
        callback_id=SOURCE_MODAL_CALLBACK,
        submit="Connect",
        metadata=metadata,
    )


def source_draft_from_state(view: dict) -> tuple[SourceDraft, int]:
    """The fields as typed, and the form's revision."""
    meta = json.loads(view.get("private_metadata") or "{}")
    values = {
        name: selected_value(element)
        if element.get("type") == "static_select"
        else (element.get("value") or "").strip()
        for name, element in view_values(view).items()
    }
    kr = values.get("kr")
    interval = values.get("interval") or "60"
    return (
        SourceDraft(
            key_result_id=int(kr) if kr and kr.isdigit() else None,
            kind=values.get("kind") or SourceKind.JSON.value,
            url=values.get("url") or "",
            expression=values.get("expression") or "",
            column=values.get("column") or "",
            row_key=values.get("row_key") or "",
            multiplier=values.get("multiplier") or "1",
            credential=values.get("credential"),
            interval=int(interval) if interval.isdigit() else 60,
        ),
        int(meta.get("rev", 0)),
    )


def test_result_text(
    *,
    value: float | None,
    raw: float | None,
    current: float | None,
    url: str | None,
    reason: str | None,
    would_record: bool,
) -> str:
    """What the Test button found, in the modal."""
    if reason is not None or value is None:
        return f"🧪 *Test:* ⚠️ {escape(truncate(reason or 'no value', 400))}\nNothing would be recorded."
    shown = f"{value:,.6g}"
    scaled = f" (read {raw:,.6g}, scaled)" if raw is not None and raw != value else ""
    now = "none yet" if current is None else f"{current:,.6g}"
    verdict = (
        f"would record *{shown}*{scaled}"
        if would_record
        else f"reads *{shown}*{scaled}: unchanged, nothing to record"
    )
    where = f"\n_from {escape(truncate(url or '', 200))}_" if url else ""
    return f"🧪 *Test:* {verdict}. The key result is at {now}.{where}"
