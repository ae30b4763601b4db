"""`/okr export`: the workspace's OKRs as text (bot.services.transfer writes it)."""

from __future__ import annotations

from bot.services import Service
from bot.services.transfer import Exported, Format, export_text


class ExportService(Service):
    def export(self, *, workspace_id: str, fmt: Format, with_sources: bool) -> Exported:
        """NotFound when Ladder has never stored anything for the workspace."""
        return export_text(
            self.engine, workspace_id=workspace_id, fmt=fmt, with_sources=with_sources
        )
