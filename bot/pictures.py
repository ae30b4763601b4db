"""Charts into Slack: drawn after the ack, uploaded once, shown with image blocks.

Used by the listeners and jobs (never on a request thread: every caller runs after its ack).

- Upload: slack_sdk's `files_upload_v2` without a channel (files.getUploadURLExternal, the
  upload, files.completeUploadExternal). The file stays private to Ladder and is shown by
  image blocks referencing `slack_file: {"id": …}`; no public image host. Scope: `files:write`
  only. `files:read` is not needed: Ladder never calls files.info (slack_sdk >= 3.23 does not
  either), it learns the file id from completeUploadExternal's answer.
- Not yet referenceable: Slack refuses a message referencing a fresh upload for a moment
  ("invalid_blocks: invalid slack file", python-slack-sdk #1521). The post is retried with
  backoff (RETRY_DELAYS, ~7.5 s in all); then it goes out without the pictures and says so.
- Cache: a chart's content key (the hash of the data it shows) maps to its uploaded file
  (storage.charts), so an unchanged chart is neither drawn nor uploaded again.
- Fallbacks: a workspace with pictures off gets none; a failed upload leaves the message's
  text as it is and adds a line saying the chart could not be attached.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

import bot.charts as drawing
from bot.logs import log_event
from bot.okr.trend import KRTrend, ObjectiveTrend, TeamTrend
from bot.services.charts import ChartService

log = logging.getLogger(__name__)

Chart = KRTrend | ObjectiveTrend | TeamTrend
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)  # seconds between posts refused for a fresh file
CHART_TITLE_MAX = 2000
NOT_ATTACHED = "📉 The chart could not be attached this time; the numbers above are current."
FAILURES = (SlackClientError, OSError)


# Each chart's kind (in its content key and file name), drawing and words.
_KINDS: dict[type, tuple[str, Callable[[Any], drawing.Picture], Callable[[Any], str]]] = {
    KRTrend: ("kr", drawing.draw_kr, drawing.kr_alt_text),
    ObjectiveTrend: ("objective", drawing.draw_objective, drawing.objective_alt_text),
    TeamTrend: ("team", drawing.draw_team, drawing.team_alt_text),
}


def draw(chart: Chart) -> tuple[str, drawing.Picture]:
    """(kind, picture) for a chart's data."""
    kind, drawing, _ = _KINDS[type(chart)]
    return kind, drawing(chart)


def alt_text_of(chart: Chart) -> str:
    """What the picture shows, in words: computed from the data, without drawing."""
    return _KINDS[type(chart)][2](chart)


def key_of(chart: Chart) -> str:
    return drawing.content_key(_KINDS[type(chart)][0], chart)


def title_of(chart: Chart) -> str:
    if isinstance(chart, TeamTrend):
        return f"{chart.scope}: objectives this week"
    return f"Trend: {chart.title}"


@dataclass
class Attached:
    """Image blocks ready to append, and how many charts could not be attached."""

    blocks: list[dict] = field(default_factory=list)
    failed: int = 0


@dataclass
class Pictures:
    charts: ChartService

    def enabled(self, workspace_id: str) -> bool:
        return self.charts.enabled(workspace_id=workspace_id)

    def prepare(
        self,
        client: WebClient,
        workspace_id: str,
        charts: Callable[[], Sequence[Chart]],
        *,
        titled: bool = True,
    ) -> Attached:
        """The pictures of `charts()` if the workspace has them on. Whatever goes wrong here
        costs the pictures only: the message still goes out, saying they are missing."""
        try:
            if not self.enabled(workspace_id):
                return Attached()
            return self.attach(client, workspace_id, charts(), titled=titled)
        except Exception:
            log.exception("event=chart_prepare status=failed workspace=%s", workspace_id)
            return Attached(failed=1)

    def attach(
        self, client: WebClient, workspace_id: str, charts: Sequence[Chart], *, titled: bool = True
    ) -> Attached:
        """Each chart as an image block: its cached upload, or drawn and uploaded now.
        `titled`: with a title over the picture (not under a heading that names it)."""
        blocks = [self._image_block(client, workspace_id, c, titled=titled) for c in charts]
        drawn = [block for block in blocks if block is not None]
        return Attached(drawn, failed=len(blocks) - len(drawn))

    def _image_block(
        self, client: WebClient, workspace_id: str, chart: Chart, *, titled: bool
    ) -> dict | None:
        key = key_of(chart)
        file_id = self.charts.cached_file(workspace_id=workspace_id, content_key=key)
        if file_id is None:  # not uploaded before with this content: draw it now
            kind, picture = draw(chart)
            try:
                response = client.files_upload_v2(
                    filename=f"ladder-{kind}-{key[:12]}.png",
                    content=picture.png,
                    title=title_of(chart)[:250],
                    alt_txt=picture.alt_text[:1000],
                )
                file_id = str(response["file"]["id"])
            except FAILURES as error:
                log_event(
                    log,
                    "chart_upload",
                    level=logging.WARNING,
                    workspace=workspace_id,
                    kind=kind,
                    status="failed",
                    error=_reason(error),
                )
                return None
            self.charts.remember_file(workspace_id=workspace_id, content_key=key, file_id=file_id)
            log_event(
                log,
                "chart_upload",
                workspace=workspace_id,
                kind=kind,
                status="ok",
                bytes=len(picture.png),
            )
        block = {"type": "image", "slack_file": {"id": file_id}, "alt_text": alt_text_of(chart)}
        if titled:
            block["title"] = {
                "type": "plain_text",
                "text": title_of(chart)[:CHART_TITLE_MAX],
                "emoji": True,
            }
        return block

    def send(
        self,
        post: Callable[..., Any],
        message: dict,
        attached: Attached,
        *,
        workspace_id: str,
        max_blocks: int = 50,
        **kwargs: Any,
    ) -> Any:
        """`post(**message, **kwargs)` with the pictures appended (chat.postMessage,
        chat.update, respond, views.publish…). A post Slack refuses for a fresh file is
        retried with backoff; after that, or when a chart failed, it goes without them and
        says so. Other refusals are raised as they are."""
        blocks = list(message.get("blocks") or [])
        room = max(max_blocks - len(blocks) - 1, 0)  # one block kept for the note
        if len(attached.blocks) > room:
            dropped = len(attached.blocks) - room
            attached = Attached(attached.blocks[:room], attached.failed + dropped)
        if attached.blocks:
            for delay in (*RETRY_DELAYS, None):
                try:
                    return post(**{**message, "blocks": blocks + attached.blocks}, **kwargs)
                except SlackApiError as error:
                    if not _file_not_ready(error):
                        raise
                    if delay is None:
                        break
                    time.sleep(delay)
            # Never became referenceable (deleted since it was cached?): upload it afresh next time.
            for block in attached.blocks:
                self.charts.forget_file(
                    workspace_id=workspace_id, file_id=block["slack_file"]["id"]
                )
            log_event(
                log,
                "chart_post",
                level=logging.WARNING,
                workspace=workspace_id,
                status="without_pictures",
            )
            attached = Attached(failed=attached.failed + len(attached.blocks))
        if attached.failed:
            blocks.append(not_attached_block())
        return post(**{**message, "blocks": blocks}, **kwargs)


def digest_post(
    pictures: Pictures | None,
    client: WebClient,
    *,
    workspace_id: str,
    channel_id: str,
    period: Any,
    body: dict,
    **kwargs: Any,
) -> Any:
    """A team digest with its picture (the team's objectives) under it, if pictures are on."""
    if pictures is None:
        return client.chat_postMessage(**body, **kwargs)

    def team() -> list[Chart]:
        trend = pictures.charts.team_trend(
            workspace_id=workspace_id, channel_id=channel_id, period=period
        )
        return [trend] if trend is not None and trend.bars else []

    attached = pictures.prepare(client, workspace_id, team)
    return pictures.send(
        client.chat_postMessage, body, attached, workspace_id=workspace_id, **kwargs
    )


def not_attached_block() -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": NOT_ATTACHED}]}


def _file_not_ready(error: SlackApiError) -> bool:
    response = error.response
    if response.get("error") not in ("invalid_blocks", "invalid_arguments"):
        return False
    said = [
        *(response.get("errors") or []),
        *((response.get("response_metadata") or {}).get("messages") or []),
    ]
    return any("slack_file" in str(m) or "slack file" in str(m) for m in said)


def _reason(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    return type(error).__name__
