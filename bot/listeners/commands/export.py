"""`/okr export`: the workspace's OKRs as a CSV file in the caller's DM.

Any member may export: every member already sees all OKRs with `/okr status all`. The file
is the same CSV as `python -m bot export --format csv`, so it imports back as it is, less the
KRs' data sources: in Slack only a KR's owners and admins see its source (a URL may name an
internal host or carry a key in its query); `python -m bot export` carries them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.blocks.messages import build_error, build_notice
from bot.blocks.text import escape
from bot.listeners import SLACK_FAILURES, slack_failure
from bot.services.transfer import Format
from storage.errors import NotFound

if TYPE_CHECKING:
    from bot.listeners.commands import Call

log = logging.getLogger(__name__)


def export_okrs(call: Call) -> dict:
    """After the ack: the file is written, then uploaded to the caller's DM."""
    try:
        exported = call.deps.export(
            workspace_id=call.workspace_id,
            fmt=Format.CSV,
            with_sources=False,  # members may not see sources: see the module's docstring
        )
    except NotFound:  # Ladder has never stored anything for this workspace
        exported = None
    if exported is None or exported.objectives == 0:
        return build_notice("Nothing to export yet: `/okr new` drafts an objective.")
    counts = (
        f"{exported.objectives} objectives, {exported.key_results} key results, "
        f"{exported.check_ins} check-ins"
    )
    now = call.deps.clock()
    filename = f"ladder-okrs-{now:%Y-%m-%d}.csv"
    try:
        dm = call.client.conversations_open(users=call.user_id)["channel"]["id"]
        call.client.files_upload_v2(
            channel=dm,
            filename=filename,
            title=f"Ladder OKRs, {now:%B} {now.day}",
            content=exported.text,
            initial_comment=(
                f"Here are your workspace's OKRs: {counts}. The file opens in any "
                "spreadsheet, and `python -m bot import` reads it back."
            ),
        )
    except SLACK_FAILURES as error:
        reason = slack_failure(error)
        log.warning(
            "export upload failed: workspace=%s user=%s command=/okr export error=%s",
            call.workspace_id,
            call.user_id,
            reason,
        )
        return build_error(
            f"I could not send the file to your DM ({escape(str(reason))}). Try again soon."
        )
    log.info(
        "exported: workspace=%s user=%s command=/okr export %s",
        call.workspace_id,
        call.user_id,
        counts,
    )
    return build_notice(f"Sent `{filename}` to your DM: {counts}.", icon="📤")
