"""Where charts show: `/okr chart`, the objective menu's "Trend", the "checked in" summary and
App Home. Each runs after its ack (lazy listeners); bot/pictures.py draws, uploads and posts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.charts import CHART_HELP, CHARTS_OFF, build_chart_message, build_no_match
from bot.blocks.messages import build_notice
from bot.pictures import Pictures, alt_text_of

if TYPE_CHECKING:
    from bot.listeners import Deps
    from bot.listeners.commands import Call

log = logging.getLogger(__name__)

HOME_BLOCKS = 100
SUMMARY_CHARTS_MAX = 3  # KR charts under a "checked in" summary; the rest: `/okr chart`
TREND_VERB = "trend"  # the objective menu's option value: "trend:<objective id>"


def raising(respond: Callable[..., Any]) -> Callable[..., Any]:
    """Bolt's `respond` (response_url) as a post that raises what Slack refused, like the
    Web API client does, so a refusal of a fresh file can be retried."""

    def post(**message: Any) -> Any:
        answer = respond(**message)
        if getattr(answer, "status_code", 200) != 200:
            try:
                body = json.loads(answer.body or "{}")
            except ValueError:
                body = {"ok": False, "error": str(answer.body)}
            raise SlackApiError(f"response_url refused: {body.get('error')}", body)
        return answer

    return post


def chart_command(call: Call) -> dict | None:
    """`/okr chart <objective or KR title>`: its chart, in the channel, like `/okr status`."""
    pictures = call.deps.pictures
    words = call.rest.strip()
    if not words:
        return build_notice(CHART_HELP, icon="📈")
    if pictures is None or not pictures.enabled(call.workspace_id):
        return build_notice(CHARTS_OFF)
    found = pictures.charts.find(workspace_id=call.workspace_id, words=words)
    if found is None:
        return build_no_match(words)
    message = build_chart_message(found.trend, alt_text=alt_text_of(found.trend))
    attached = pictures.prepare(call.client, call.workspace_id, lambda: [found.trend], titled=False)
    pictures.send(
        raising(call.respond),
        message,
        attached,
        workspace_id=call.workspace_id,
        response_type="in_channel",
    )
    return None


def objective_trend(
    deps: Deps, body: dict, client: WebClient, respond: Callable[..., Any], *, workspace_id: str
) -> None:
    """The objective menu's "Trend": the chart to the person who picked it (ephemeral on a
    message; a DM from App Home, which has no response_url)."""
    raw_id = body["actions"][0]["selected_option"]["value"].partition(":")[2]
    user_id = body["user"]["id"]
    pictures = deps.pictures
    on_message = bool(body.get("response_url"))

    deliver: Callable[..., Any] = (
        raising(respond)
        if on_message
        else lambda **message: client.chat_postMessage(channel=user_id, **message)  # a DM
    )
    extra: dict[str, Any] = (
        {"response_type": "ephemeral", "replace_original": False} if on_message else {}
    )
    if pictures is None or not pictures.enabled(workspace_id):
        deliver(**build_notice(CHARTS_OFF), **extra)
        return
    trend = pictures.charts.objective_trend(workspace_id=workspace_id, objective_id=int(raw_id))
    message = build_chart_message(trend, alt_text=alt_text_of(trend))
    attached = pictures.prepare(client, workspace_id, lambda: [trend], titled=False)
    pictures.send(deliver, message, attached, workspace_id=workspace_id, **extra)


def summary_with_charts(
    pictures: Pictures | None,
    client: WebClient,
    *,
    workspace_id: str,
    changed_kr_ids: Sequence[int],
    done: dict,
    targets: Sequence[Sequence[str]],
) -> None:
    """The "checked in" summary replacing each prompt, with the charts of the KRs that moved."""
    if pictures is None or not changed_kr_ids:
        for channel_id, ts in targets:
            client.chat_update(channel=channel_id, ts=ts, **done)
        return
    attached = pictures.prepare(
        client,
        workspace_id,
        lambda: pictures.charts.kr_trends(
            workspace_id=workspace_id, key_result_ids=list(changed_kr_ids)[:SUMMARY_CHARTS_MAX]
        ),
    )
    for channel_id, ts in targets:
        pictures.send(
            client.chat_update, done, attached, workspace_id=workspace_id, channel=channel_id, ts=ts
        )


def publish_home_with_chart(
    deps: Deps, client: WebClient, *, workspace_id: str, user_id: str, view: dict
) -> None:
    """App Home with the chart of the objective the person owns, under the top buttons."""
    pictures = deps.pictures
    assert pictures is not None
    attached = pictures.prepare(
        client,
        workspace_id,
        lambda: [
            t
            for t in [pictures.charts.home_trend(workspace_id=workspace_id, user_id=user_id)]
            if t is not None
        ],
    )
    blocks = list(view["blocks"])
    at = next(
        (i + 1 for i, b in enumerate(blocks) if b.get("block_id") == "home_actions"), len(blocks)
    )

    def publish(**message: Any) -> Any:
        # The pictures (and any note) go under the top buttons rather than at the bottom.
        added = message["blocks"][len(blocks) :]
        shown = blocks[:at] + added + blocks[at:]
        return client.views_publish(user_id=user_id, view={**view, "blocks": shown})

    pictures.send(
        publish,
        {"blocks": blocks},
        attached,
        workspace_id=workspace_id,
        max_blocks=HOME_BLOCKS,
    )
