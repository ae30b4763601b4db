"""What charts read and remember: check-in histories, and uploaded chart files by content."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from storage.db import insert_ignoring_conflicts
from storage.models import ChartFile, CheckIn


def check_in_history(
    *, session: Session, workspace_id: str, key_result_ids: Sequence[int]
) -> dict[int, list[CheckIn]]:
    """Every check-in of the given KRs, oldest first, grouped by KR, in one statement."""
    if not key_result_ids:
        return {}
    grouped: dict[int, list[CheckIn]] = defaultdict(list)
    rows = session.exec(
        select(CheckIn)
        .where(
            CheckIn.workspace_id == workspace_id,
            col(CheckIn.key_result_id).in_(list(key_result_ids)),
        )
        .order_by(col(CheckIn.period_start), col(CheckIn.created_at), col(CheckIn.id))
    ).all()
    for row in rows:
        grouped[row.key_result_id].append(row)
    return dict(grouped)


def cached_file(*, session: Session, workspace_id: str, content_key: str) -> str | None:
    """The Slack file id of a chart uploaded before with this content, if any."""
    row = session.get(ChartFile, (workspace_id, content_key))
    return None if row is None else row.file_id


def remember_file(
    *, session: Session, workspace_id: str, content_key: str, file_id: str, now: datetime
) -> None:
    """Keep an upload's file id; of two racing uploads of one chart, the first stays."""
    row = ChartFile(
        workspace_id=workspace_id, content_key=content_key, file_id=file_id, created_at=now
    )
    insert_ignoring_conflicts(session, ChartFile, [row.model_dump()])


def forget_file(*, session: Session, workspace_id: str, file_id: str) -> None:
    """Slack no longer serves this file (deleted): the next chart is uploaded again."""
    for row in session.exec(
        select(ChartFile).where(
            ChartFile.workspace_id == workspace_id, ChartFile.file_id == file_id
        )
    ).all():
        session.delete(row)
