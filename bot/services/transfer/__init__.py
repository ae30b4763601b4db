"""Import and export of a workspace's OKRs, as YAML or CSV.

Export: storage.transfer.load_snapshot -> Document (document.py) -> text (yaml.py, csv.py).
Import: text -> mappings that know their lines -> Document (a bad field is a problem on its
line) -> plan.py's checks and rows (references, duplicates, loops, the app's own rules; owner
emails looked up in Slack once each) -> one transaction. Any problem and nothing is stored:
every problem comes back with its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.okr.kinds import Level
from bot.services.transfer import csv, yaml
from bot.services.transfer.document import (
    ROW_NAMES,
    CheckInDoc,
    CycleDoc,
    Document,
    Format,
    ImportRefused,
    KeyResultDoc,
    ObjectiveDoc,
    Problem,
    SourceDoc,
    TeamDoc,
    WorkspaceDoc,
    copy_into,
    read,
)
from bot.services.transfer.plan import SETTING_NAMES, EmailLookup, plan_import
from storage import transfer as store
from storage.db import session_scope
from storage.models import Objective, Reflection
from storage.workspaces import ensure_workspace, update_workspace


@dataclass(frozen=True)
class Exported:
    text: str
    objectives: int
    key_results: int
    check_ins: int


@dataclass(frozen=True)
class ImportReport:
    workspace_id: str
    teams: int
    cycles: int
    objectives: int
    key_results: int
    check_ins: int
    emails_resolved: int
    replaced: store.Contents | None  # what was deleted first (--replace)
    sources: int = 0

    def summary(self) -> str:
        text = (
            f"Imported into {self.workspace_id}: {self.teams} teams, {self.cycles} cycles, "
            f"{self.objectives} objectives, {self.key_results} key results"
            + (f" ({self.sources} connected to data sources)" if self.sources else "")
            + f", {self.check_ins} check-ins ({self.emails_resolved} emails looked up in Slack)."
        )
        if self.replaced is not None:
            text += (
                f" Replaced {self.replaced.objectives} objectives, {self.replaced.cycles} "
                f"cycles and {self.replaced.teams} teams."
            )
        return text


# --- Export ---------------------------------------------------------------------------------


def list_workspaces(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return store.list_workspace_ids(session=session)


def export_text(
    engine: Engine, *, workspace_id: str, fmt: Format, with_sources: bool = True
) -> Exported:
    """with_sources=False leaves the KRs' data sources out: in Slack only owners and admins
    see a source's URL (which may name internal hosts or carry a key in its query)."""
    with session_scope(engine) as session:
        snapshot = store.load_snapshot(session=session, workspace_id=workspace_id)
    document = _document_of(snapshot, with_sources=with_sources)
    return Exported(
        encode(document, fmt),
        len(document.objectives),
        len(document.key_results),
        len(document.check_ins),
    )


def encode(document: Document, fmt: Format) -> str:
    return yaml.dump(document) if fmt is Format.YAML else csv.dump(document)


def _document_of(snap: store.Snapshot, *, with_sources: bool = True) -> Document:
    """Objectives get keys O1, O2… in id order; a KR's key is its objective's plus .1, .2…"""
    team_names: dict[int | None, str] = {t.id: t.name for t in snap.teams}
    cycle_names = {c.id: c.name for c in snap.cycles}
    keys: dict[int | None, str] = {o.id: f"O{n}" for n, o in enumerate(snap.objectives, start=1)}
    check_ins: dict[int | None, list[CheckInDoc]] = {}
    for c in snap.check_ins:
        check_ins.setdefault(c.key_result_id, []).append(copy_into(CheckInDoc, c, ROW_NAMES))
    kr_keys: dict[int | None, str] = {  # the snapshot has KRs by objective, then position
        kr.id: f"{keys[objective_id]}.{n}"
        for objective_id, krs in groupby(snap.key_results, lambda kr: kr.objective_id)
        for n, kr in enumerate(krs, start=1)
    }
    key_results: dict[int | None, list[KeyResultDoc]] = {}
    for kr in snap.key_results:
        source = snap.sources.get(kr.id) if with_sources else None
        key_results.setdefault(kr.objective_id, []).append(
            copy_into(
                KeyResultDoc,
                kr,
                ROW_NAMES,
                key=kr_keys[kr.id],
                carried_from=kr_keys.get(kr.carried_from_id),
                source=None if source is None else copy_into(SourceDoc, source, ROW_NAMES),
                check_ins=check_ins.get(kr.id, []),
            )
        )

    def objective(o: Objective) -> ObjectiveDoc:
        reflection = snap.reflections.get(o.id)
        return copy_into(
            ObjectiveDoc,
            o,
            ROW_NAMES,
            key=keys[o.id],
            cycle=cycle_names[o.cycle_id],
            team=team_names.get(o.team_id),
            # Written only where the team does not say it: a person's own objective.
            level=None if o.level == Level.of(None, team_id=o.team_id) else Level(o.level),
            parent=keys.get(o.parent_id),
            key_results=key_results.get(o.id, []),
            **{} if reflection is None else _reflection(reflection, o.owner_id),
        )

    ws = snap.workspace
    settings = {name: getattr(ws, name) for name in SETTING_NAMES}
    return Document(
        workspace=copy_into(WorkspaceDoc, ws, ROW_NAMES, settings=settings),
        teams=[
            copy_into(
                TeamDoc,
                t,
                ROW_NAMES,
                parent=team_names.get(t.parent_id),
                channels=list(snap.channels.get(t.id, [])),
            )
            for t in snap.teams
        ],
        cycles=[copy_into(CycleDoc, c, ROW_NAMES) for c in snap.cycles],
        objectives=[objective(o) for o in snap.objectives],
    )


def _reflection(reflection: Reflection, owner_id: str) -> dict[str, Any]:
    return {
        "reflection_author": None if reflection.author_id == owner_id else reflection.author_id,
        "reflection_worked": reflection.worked,
        "reflection_did_not_work": reflection.did_not_work,
        "reflection_carry_over": reflection.carry_over,
    }


# --- Import ---------------------------------------------------------------------------------


def decode(text: str, fmt: Format) -> tuple[Document | None, list[Problem]]:
    """The document (None: not YAML/CSV at all) and the problems found reading it."""
    problems: list[Problem] = []
    top = yaml.load(text, problems) if fmt is Format.YAML else csv.load(text, problems)
    document = None if top is None else read(top, problems)
    return document, list(dict.fromkeys(problems))  # a record read twice reports once


def import_text(
    engine: Engine,
    text: str,
    *,
    fmt: Format,
    now: datetime,
    workspace_id: str | None = None,
    replace: bool = False,
    lookup_email: EmailLookup | None = None,
) -> ImportReport:
    """Check everything, then store everything in one transaction; else ImportRefused.

    workspace_id: where to import (default: the file's workspace). replace: delete the
    workspace's objectives, KRs, check-ins, teams and cycles first; without it a workspace
    that has any is refused.
    """
    document, problems = decode(text, fmt)
    if document is None:
        raise ImportRefused(problems)
    target = workspace_id or document.workspace.id
    if target is None:
        problems.append(Problem(0, "the file names no workspace: say which one (T…)"))
    plan = plan_import(document, problems, lookup_email=lookup_email, now=now)
    if plan is None or target is None:
        raise ImportRefused(problems)
    with session_scope(engine) as session:
        contents = store.workspace_contents(session=session, workspace_id=target)
        if not contents.empty and not replace:
            raise ImportRefused(
                [
                    Problem(
                        0,
                        f"{target} already has {contents.objectives} objectives, "
                        f"{contents.cycles} cycles and {contents.teams} teams: import with "
                        "--replace to delete them (and their check-ins) first, or into "
                        "another workspace",
                    )
                ]
            )
        if not contents.empty:
            store.clear_okrs(session=session, workspace_id=target)
        workspace = ensure_workspace(
            session=session, workspace_id=target, name=document.workspace.name or ""
        )
        changes = dict(plan.workspace_changes)
        if target != document.workspace.id and workspace.name:
            changes.pop("name", None)  # a copy into another workspace keeps its Slack name
        if changes:
            update_workspace(session=session, workspace_id=target, **changes)
        store.insert_okrs(
            session=session,
            workspace_id=target,
            now=now,
            okrs=plan.rows,
        )
    return ImportReport(
        workspace_id=target,
        teams=len(plan.rows.teams),
        cycles=len(plan.rows.cycles),
        objectives=len(plan.rows.objectives),
        key_results=len(plan.rows.key_results),
        check_ins=len(plan.rows.check_ins),
        emails_resolved=plan.emails_resolved,
        replaced=None if contents.empty else contents,
        sources=len(plan.rows.sources),
    )


def slack_email_lookup(client: WebClient) -> EmailLookup:
    """users.lookupByEmail (scope users:read.email); None when no user has the email."""

    def lookup(email: str) -> str | None:
        try:
            response = client.users_lookupByEmail(email=email)
        except SlackApiError as error:
            if error.response.get("error") == "users_not_found":
                return None
            raise
        return str(response["user"]["id"])

    return lookup
