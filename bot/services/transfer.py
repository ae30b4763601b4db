"""Import and export of a workspace's OKRs, as YAML or CSV.

Export: storage.transfer.load_snapshot → Document → text. YAML is one nested document
(objectives referenced by key, KRs under their objective, check-ins under their KR); CSV is one
row per record with a `record` column, so it opens in a spreadsheet.

Import: text → records that know the line they start on → Document (problems with a field)
→ checks (references, duplicates, loops, and the app's own rules from bot.okr.validate and
bot.services.settings) → owner emails resolved through Slack, each distinct email once → one
transaction. Any problem and nothing is stored: every problem comes back with its line.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, TypeVar

import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.okr.kinds import KRKind, Level, UnitKind
from bot.okr.limits import NAME_MAX, NOTE_MAX, STATEMENT_MAX
from bot.okr.numbers import NumberInputError, parse_number_input
from bot.okr.pace import StatusRules
from bot.okr.parse import parse_key_result
from bot.okr.validate import (
    KRSpec,
    clean_text,
    confidence_problem,
    kr_problems,
    number_problem,
    objective_problems,
)
from bot.services.settings import FIELDS as SCHEDULE_FIELDS
from bot.services.settings import SettingsForm, validate_settings
from bot.sources.fetch import SourceKind, SourceSpec, spec_problem
from storage import transfer as store
from storage.db import session_scope
from storage.models import CheckIn, DataSource, KeyResult, Objective, Reflection, Workspace
from storage.sources import DATA_SOURCE_AUTHOR, MIN_INTERVAL_MINUTES
from storage.workspaces import ensure_workspace, update_workspace

FORMAT_VERSION = 1
STATUSES = ("active", "closed")
SOURCE_MAX = 16  # CheckIn.source
WORKSPACE_NAME_MAX = 200  # Workspace.name
SOURCE_TEXT_MAX = 200  # DataSource.column and .row_key
DEFAULT_SOURCE_INTERVAL = 60  # minutes, as the Connect data modal starts
MAX_SOURCE_INTERVAL = 7 * 24 * 60  # the modal's longest is daily; a week keeps ints small
SETTING_NAMES = (*SCHEDULE_FIELDS, "rollup_include_children", "at_risk_points", "off_track_points")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,31}$")
_WORKSPACE_ID = re.compile(r"^[TE][A-Z0-9]{2,31}$")

EmailLookup = Callable[[str], str | None]
"""Email → Slack user id, or None when no user has it."""


class Format(StrEnum):
    YAML = "yaml"
    CSV = "csv"

    @classmethod
    def of_path(cls, path: str | Path) -> Format | None:
        suffix = Path(path).suffix.casefold()
        return {".yaml": cls.YAML, ".yml": cls.YAML, ".csv": cls.CSV}.get(suffix)


@dataclass(frozen=True, order=True)
class Problem:
    line: int  # 0: the file as a whole
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class ImportRefused(Exception):
    """Nothing was stored; `problems` says what to fix, by line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


# --- The document ---------------------------------------------------------------------------
# Field names are shared by YAML keys, CSV columns and these dataclasses' attributes.

TOP_FIELDS = ("version", "workspace", "teams", "cycles", "objectives")
WORKSPACE_FIELDS = ("id", "name", "vision", "mission", "settings")
TEAM_FIELDS = ("name", "parent", "channels")
CYCLE_FIELDS = ("name", "start_date", "end_date", "closed_at")
OBJECTIVE_FIELDS = (
    "key",
    "title",
    "description",
    "cycle",
    "team",
    "level",  # company | team | personal; empty: team with a team, else company
    "parent",
    "owner",
    "owner_email",
    "weight",
    "committed",
    "status",
    "grade",
    "created_at",
    "archived_at",
    # The owner's look back once the cycle closed (a Reflection row).
    "reflection_author",
    "reflection_worked",
    "reflection_did_not_work",
    "reflection_carry_over",
)
REFLECTION_TEXTS = ("reflection_worked", "reflection_did_not_work", "reflection_carry_over")
KR_FIELDS = (
    "key",
    "title",
    "kind",
    "unit",
    "unit_label",
    "start",
    "target",
    "current",
    "weight",
    "due",
    "confidence",
    "owner",
    "owner_email",
    "grade",
    "created_at",
    "archived_at",
    "carried_from",  # the key of the KR (of an earlier cycle) this one was carried over from
)
# A KR's data source: its settings only. The credential is a NAME (LADDER_SOURCE_<NAME> on
# the server), never a secret; pull state (failing since, last value) is not carried, and
# push tokens are not exported (a token is a secret, shown once).
SOURCE_FIELDS = (
    "kind",
    "url",
    "expression",
    "column",
    "row_key",
    "multiplier",
    "credential",
    "interval_minutes",
)
CHECKIN_FIELDS = (
    "period",
    "value",
    "previous",
    "confidence",
    "note",
    "blocker",
    "author",
    "author_email",
    "source",
    "created_at",
)


@dataclass
class CheckInDoc:
    line: int
    period: date | None
    author: str | None  # a user id or an email; None: the KR's owner
    author_email: str | None = None
    value: float | None = None
    previous: float | None = None
    confidence: int | None = None
    note: str = ""
    blocker: str = ""
    source: str = "import"
    created_at: datetime | None = None


@dataclass
class SourceDoc:
    line: int
    kind: SourceKind | None  # None: missing or unknown (reported)
    url: str
    expression: str = ""
    column: str = ""
    row_key: str = ""
    multiplier: float | None = 1.0  # None: given, but not a usable number (reported)
    credential: str | None = None
    interval_minutes: int | None = DEFAULT_SOURCE_INTERVAL


@dataclass
class KeyResultDoc:
    line: int
    title: str
    kind: KRKind | None
    target: float | None
    key: str | None = None
    unit: UnitKind | None = UnitKind.NUMBER
    unit_label: str | None = None
    start: float | None = None
    current: float | None = None
    weight: float | None = 1.0  # None: given, but not a number (reported)
    due: date | None = None
    confidence: int | None = None
    owner: str | None = None  # None: the objective's owner
    owner_email: str | None = None
    grade: float | None = None
    created_at: datetime | None = None
    archived_at: datetime | None = None
    check_ins: list[CheckInDoc] = field(default_factory=list)
    carried_from: str | None = None
    from_title: bool = False  # no kind and no target: read them from the title sentence
    source: SourceDoc | None = None  # where its value is pulled from


@dataclass
class ObjectiveDoc:
    line: int
    key: str | None
    title: str
    cycle: str | None
    owner: str | None
    owner_email: str | None = None
    team: str | None = None
    level: str | None = None  # None: as its team says (a team's, else the company's)
    parent: str | None = None  # the key of the objective this one ladders up to
    description: str = ""
    weight: float | None = 1.0
    committed: bool | None = False  # None: given, but not true or false (reported)
    status: str = "active"
    grade: float | None = None
    created_at: datetime | None = None
    archived_at: datetime | None = None
    key_results: list[KeyResultDoc] = field(default_factory=list)
    reflection_author: str | None = None  # None: the objective's owner
    reflection_worked: str = ""
    reflection_did_not_work: str = ""
    reflection_carry_over: str = ""

    @property
    def has_reflection(self) -> bool:
        return any(getattr(self, name) for name in REFLECTION_TEXTS)


@dataclass
class TeamDoc:
    line: int
    name: str
    parent: str | None = None
    channels: list[str] = field(default_factory=list)


@dataclass
class CycleDoc:
    line: int
    name: str
    start_date: date | None
    end_date: date | None
    closed_at: datetime | None = None


@dataclass
class WorkspaceDoc:
    line: int = 0
    id: str | None = None
    # None here and below: not given, so the workspace keeps what it has.
    name: str | None = None
    vision: str | None = None
    mission: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # raw values, checked on import
    lines: dict[str, int] = field(default_factory=dict)  # where each setting/statement is


@dataclass
class Document:
    workspace: WorkspaceDoc
    teams: list[TeamDoc]
    cycles: list[CycleDoc]
    objectives: list[ObjectiveDoc]

    @property
    def key_results(self) -> list[KeyResultDoc]:
        return [kr for o in self.objectives for kr in o.key_results]

    @property
    def check_ins(self) -> list[CheckInDoc]:
        return [c for kr in self.key_results for c in kr.check_ins]

    @property
    def sources(self) -> list[SourceDoc]:
        return [kr.source for kr in self.key_results if kr.source is not None]


def _fields(record: object, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}


# --- Export ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    text: str
    objectives: int
    key_results: int
    check_ins: int


def export_document(engine: Engine, *, workspace_id: str, with_sources: bool = True) -> Document:
    """with_sources=False leaves the KRs' data sources out: in Slack only owners and admins
    see a source's URL (which may name internal hosts or carry a key in its query)."""
    with session_scope(engine) as session:
        snapshot = store.load_snapshot(session=session, workspace_id=workspace_id)
    return _document_of(snapshot, with_sources=with_sources)


def export_text(
    engine: Engine, *, workspace_id: str, fmt: Format, with_sources: bool = True
) -> Exported:
    document = export_document(engine, workspace_id=workspace_id, with_sources=with_sources)
    return Exported(
        encode(document, fmt),
        len(document.objectives),
        len(document.key_results),
        len(document.check_ins),
    )


def encode(document: Document, fmt: Format) -> str:
    return to_yaml(document) if fmt is Format.YAML else to_csv(document)


def list_workspaces(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return store.list_workspace_ids(session=session)


def _document_of(snap: store.Snapshot, *, with_sources: bool = True) -> Document:
    """Objectives get keys O1, O2… in id order; a KR's key is its objective's plus .1, .2…"""
    team_names = {t.id: t.name for t in snap.teams}
    cycle_names = {c.id: c.name for c in snap.cycles}
    keys = {o.id: f"O{n}" for n, o in enumerate(snap.objectives, start=1)}
    checkins_of: dict[int, list[CheckIn]] = {}
    for c in snap.check_ins:
        checkins_of.setdefault(c.key_result_id, []).append(c)
    krs_of: dict[int, list[KeyResult]] = {}
    for kr in snap.key_results:
        krs_of.setdefault(kr.objective_id, []).append(kr)
    kr_keys = {
        kr.id: f"{keys[o_id]}.{n}"
        for o_id, krs in krs_of.items()
        for n, kr in enumerate(krs, start=1)
    }

    def check_in(c: CheckIn) -> CheckInDoc:
        return CheckInDoc(
            line=0,
            period=c.period_start,
            author=c.author_id,
            value=c.value,
            previous=c.previous_value,
            confidence=c.confidence,
            note=c.note,
            blocker=c.blocker,
            source=c.source,
            created_at=c.created_at,
        )

    def key_result(kr: KeyResult, key: str) -> KeyResultDoc:
        return KeyResultDoc(
            line=0,
            key=key,
            title=kr.title,
            kind=KRKind(kr.kind),
            unit=UnitKind(kr.unit),
            unit_label=kr.unit_label,
            start=kr.start_value,
            target=kr.target_value,
            current=kr.current_value,
            weight=kr.weight,
            due=kr.due_date,
            confidence=kr.confidence,
            owner=kr.owner_id,
            grade=kr.grade,
            created_at=kr.created_at,
            archived_at=kr.archived_at,
            check_ins=[check_in(c) for c in checkins_of.get(kr.id, [])],  # type: ignore[arg-type]
            carried_from=kr_keys.get(kr.carried_from_id),  # type: ignore[arg-type]
            source=_source_doc(snap.sources.get(kr.id)) if with_sources else None,  # type: ignore[arg-type]
        )

    def objective(o: Objective) -> ObjectiveDoc:
        key = keys[o.id]  # type: ignore[index]
        krs = krs_of.get(o.id, [])  # type: ignore[arg-type]
        reflection = snap.reflections.get(o.id)  # type: ignore[arg-type]
        return ObjectiveDoc(
            line=0,
            key=key,
            title=o.title,
            cycle=cycle_names[o.cycle_id],
            owner=o.owner_id,
            team=None if o.team_id is None else team_names[o.team_id],
            # Written only where the team does not say it: a person's own objective.
            level=None if o.level == Level.of(None, team_id=o.team_id) else o.level,
            parent=None if o.parent_id is None else keys[o.parent_id],
            description=o.description,
            weight=o.weight,
            committed=o.committed,
            status=o.status,
            grade=o.grade,
            created_at=o.created_at,
            archived_at=o.archived_at,
            key_results=[key_result(kr, f"{key}.{n}") for n, kr in enumerate(krs, start=1)],
            **(_reflection_fields(reflection, o.owner_id) if reflection is not None else {}),
        )

    ws = snap.workspace
    return Document(
        workspace=WorkspaceDoc(
            id=ws.team_id,
            name=ws.name,
            vision=ws.vision,
            mission=ws.mission,
            settings={name: getattr(ws, name) for name in SETTING_NAMES},
        ),
        teams=[
            TeamDoc(
                0,
                t.name,
                None if t.parent_id is None else team_names[t.parent_id],
                list(snap.channels.get(t.id, [])),  # type: ignore[arg-type]
            )
            for t in snap.teams
        ],
        cycles=[CycleDoc(0, c.name, c.start_date, c.end_date, c.closed_at) for c in snap.cycles],
        objectives=[objective(o) for o in snap.objectives],
    )


def _source_doc(source: DataSource | None) -> SourceDoc | None:
    if source is None:
        return None
    return SourceDoc(
        line=0,
        kind=SourceKind(source.kind),
        url=source.url,
        expression=source.expression,
        column=source.column,
        row_key=source.row_key,
        multiplier=source.multiplier,
        credential=source.credential,
        interval_minutes=source.interval_minutes,
    )


def _reflection_fields(reflection: Reflection, owner_id: str) -> dict[str, Any]:
    return {
        "reflection_author": None if reflection.author_id == owner_id else reflection.author_id,
        "reflection_worked": reflection.worked,
        "reflection_did_not_work": reflection.did_not_work,
        "reflection_carry_over": reflection.carry_over,
    }


# --- YAML -----------------------------------------------------------------------------------

_YAML_HEADER = (
    "# Ladder OKRs. Edit freely: `python -m bot import FILE` checks every entry, then stores\n"
    "# all of it or nothing. An objective ladders up to its `parent` (another one's `key`);\n"
    "# `owner` and `author` take a Slack user id (U…) or an email.\n"
)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _plain(value: Any) -> Any:
    """A value as YAML writes it: enums by value, times as HH:MM, whole floats as ints."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # 1000000, not 1000000.0: the same number, easier to read
    return value


def _set_only(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Only what is set: an absent field reads back as empty (or the default)."""
    return {k: _plain(v) for k, v in fields.items() if v is not None and v != ""}


def to_yaml(document: Document) -> str:
    ws = document.workspace
    workspace = _set_only({"id": ws.id, "name": ws.name})
    # Written even when empty: an absent statement means "keep yours" on import.
    workspace |= {"vision": ws.vision or "", "mission": ws.mission or ""}
    workspace["settings"] = {k: _plain(v) for k, v in ws.settings.items()}

    # Defaults are left out: the file stays short to read, and quick to parse (PyYAML's
    # time grows with the number of scalars). Import fills them back in.
    def check_in(c: CheckInDoc, kr_owner: str | None) -> dict[str, Any]:
        return _set_only(_fields(c, CHECKIN_FIELDS) | _unless(author=(c.author, kr_owner)))

    def key_result(kr: KeyResultDoc, o: ObjectiveDoc) -> dict[str, Any]:
        fields = _fields(kr, KR_FIELDS) | _unless(
            owner=(kr.owner, o.owner),
            created_at=(kr.created_at, o.created_at),
            unit=(kr.unit, UnitKind.NUMBER),
            weight=(kr.weight, 1.0),
        )
        out = _set_only(fields | {"key": None})  # nesting says which objective it is under
        if kr.source is not None:
            out["source"] = _set_only(
                _fields(kr.source, SOURCE_FIELDS)
                | _unless(
                    multiplier=(kr.source.multiplier, 1.0),
                    interval_minutes=(kr.source.interval_minutes, DEFAULT_SOURCE_INTERVAL),
                )
            )
        if kr.check_ins:
            out["check_ins"] = [check_in(c, kr.owner) for c in kr.check_ins]
        return out

    def objective(o: ObjectiveDoc) -> dict[str, Any]:
        fields = _fields(o, OBJECTIVE_FIELDS) | _unless(
            weight=(o.weight, 1.0), status=(o.status, "active"), committed=(o.committed, False)
        )
        return _set_only(fields) | {"key_results": [key_result(kr, o) for kr in o.key_results]}

    data = {
        "version": FORMAT_VERSION,
        "workspace": workspace,
        "teams": [
            _set_only({"name": t.name, "parent": t.parent, "channels": t.channels or None})
            for t in document.teams
        ],
        "cycles": [_set_only(_fields(c, CYCLE_FIELDS)) for c in document.cycles],
        "objectives": [objective(o) for o in document.objectives],
    }
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return _YAML_HEADER + body


def _unless(**pairs: tuple[Any, Any]) -> dict[str, Any]:
    """name=(value, default): None (left out) where the value is the default."""
    return {name: None if value == default else value for name, (value, default) in pairs.items()}


class _Mapping(dict[str, Any]):
    """A YAML mapping or a CSV row that knows the line it starts on, and its fields' lines."""

    def __init__(self, *args: Any, line: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.field_lines: dict[str, int] = {}

    def line_of(self, name: str) -> int:
        return self.field_lines.get(name, self.line)


class _LineLoader(_BaseLoader):  # type: ignore[misc]
    """yaml.safe_load's loader (same safe constructors), plus lines and duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.problems: list[Problem] = []


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Any:
    data = _Mapping(line=node.start_mark.line + 1)
    yield data  # the yield-then-fill shape lets aliases refer to the mapping, as PyYAML's does
    for key_node, _value in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if isinstance(key, str) and key in data.field_lines:
            loader.problems.append(
                Problem(line, f"“{key}” appears twice here (also on line {data.field_lines[key]})")
            )
        elif isinstance(key, str):
            data.field_lines[key] = line
    data.update(loader.construct_mapping(node, deep=True))


def _construct_timestamp(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    # PyYAML raises a bare ValueError (no line) for 2026-13-05; keep the text instead, and
    # the field reader reports it with its record's line.
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _first_alias(text: str) -> yaml.AliasEvent | None:
    """The document's first alias (`*name`), read from the parser's events before anything is
    built: aliases let a few kilobytes stand for gigabytes ("billion laughs"), and an export
    never writes them."""
    for event in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(event, yaml.AliasEvent):
            return event
    return None


def _load_yaml(text: str, problems: list[Problem]) -> _Mapping | None:
    loader = _LineLoader(text)
    try:
        alias = _first_alias(text)
        if alias is not None:
            problems.append(
                Problem(
                    alias.start_mark.line + 1,
                    f"“*{alias.anchor}” repeats an entry by YAML alias: write each entry out "
                    "in full (aliases are not accepted)",
                )
            )
            return None
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problems.append(
            Problem(mark.line + 1 if mark else 0, f"not valid YAML: {error.problem or error}")
        )
        return None
    except yaml.YAMLError as error:
        problems.append(Problem(0, f"not valid YAML: {error}"))
        return None
    finally:
        loader.dispose()
    problems.extend(loader.problems)
    if not isinstance(data, _Mapping):
        problems.append(Problem(1, "the file should be a mapping: version, workspace, teams, …"))
        return None
    return data


# --- CSV ------------------------------------------------------------------------------------

# One header for every record; each row fills the columns its record uses.
CSV_COLUMNS = (
    "record",
    "key",
    "parent",
    "title",
    "description",
    "cycle",
    "team",
    "level",
    "channels",
    "owner",
    "owner_email",
    "kind",
    "unit",
    "unit_label",
    "start",
    "target",
    "current",
    "weight",
    "committed",
    "due",
    "confidence",
    "status",
    "grade",
    "start_date",
    "end_date",
    "closed_at",
    "period",
    "value",
    "previous",
    "note",
    "blocker",
    "author",
    "author_email",
    "source",
    "created_at",
    "archived_at",
    "carried_from",
    "reflection_author",
    "reflection_worked",
    "reflection_did_not_work",
    "reflection_carry_over",
    "url",
    "expression",
    "column",
    "row_key",
    "multiplier",
    "credential",
    "interval_minutes",
)
# The columns each record uses, and the document field each holds. A setting row holds one
# workspace setting (vision and mission too) as key = name, value = value; `parent` is the
# team's parent team, the objective it ladders up to, a KR's objective, a check-in's KR.
_CSV_RECORDS: dict[str, dict[str, str]] = {
    "workspace": {"key": "id", "title": "name"},
    "setting": {"key": "name", "value": "value"},
    "team": {"key": "name", "parent": "parent", "channels": "channels"},
    "cycle": {"key": "name"} | {f: f for f in CYCLE_FIELDS[1:]},
    "objective": {f: f for f in OBJECTIVE_FIELDS},
    "key_result": {"parent": "objective"} | {f: f for f in KR_FIELDS},
    "checkin": {"parent": "key_result"} | {f: f for f in CHECKIN_FIELDS},
    "source": {"parent": "key_result"} | {f: f for f in SOURCE_FIELDS},
}
# Free text a spreadsheet could take for a formula (=, +, -, @) is written with a leading
# apostrophe, which import takes off again (OWASP's advice against CSV injection).
_TEXT_FIELDS = frozenset(
    {
        "id",
        "name",
        "title",
        "description",
        "cycle",
        "team",
        "parent",
        "objective",
        "key",
        "key_result",
        "unit_label",
        "note",
        "blocker",
        "author",
        "author_email",
        "owner",
        "owner_email",
        "carried_from",
        *OBJECTIVE_FIELDS[-4:],  # the reflection's author and texts
        "url",
        "expression",
        "column",
        "row_key",
        "credential",
    }
)
_FORMULA_START = tuple("=+-@\t\r'")


def _csv_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_untext(value: str) -> str:
    quoted = value[:1] == "'" and value[1:].startswith(_FORMULA_START)
    return value[1:] if quoted else value


def _csv_cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def to_csv(document: Document) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)

    def row(record: str, fields: Mapping[str, Any]) -> None:
        cells = dict.fromkeys(CSV_COLUMNS, "")
        cells["record"] = record
        for column, name in _CSV_RECORDS[record].items():
            text = _csv_cell(fields.get(name))
            cells[column] = _csv_text(text) if name in _TEXT_FIELDS else text
        writer.writerow(cells.values())

    ws = document.workspace
    row("workspace", {"id": ws.id, "name": ws.name})
    for name in ("vision", "mission"):
        row("setting", {"name": name, "value": _csv_text(getattr(ws, name) or "")})
    for name, value in ws.settings.items():
        row("setting", {"name": name, "value": value})
    for t in document.teams:
        row("team", _fields(t, TEAM_FIELDS))
    for c in document.cycles:
        row("cycle", _fields(c, CYCLE_FIELDS))
    # Rows point to their parent by key: YAML needs no KR keys (nesting says it), so a
    # document read from YAML gets fresh ones, unlike any key already in it.
    taken = {o.key for o in document.objectives} | {kr.key for kr in document.key_results}
    fresh = (f"#{n}" for n in itertools.count(1) if f"#{n}" not in taken)
    for o in document.objectives:
        okey = o.key or next(fresh)
        row("objective", _fields(o, OBJECTIVE_FIELDS) | {"key": okey})
        for n, kr in enumerate(o.key_results, start=1):
            kkey = kr.key or (f"{okey}.{n}" if f"{okey}.{n}" not in taken else next(fresh))
            row("key_result", _fields(kr, KR_FIELDS) | {"objective": okey, "key": kkey})
            if kr.source is not None:
                row("source", _fields(kr.source, SOURCE_FIELDS) | {"key_result": kkey})
            for c in kr.check_ins:
                row("checkin", _fields(c, CHECKIN_FIELDS) | {"key_result": kkey})
    return buffer.getvalue()


def _load_csv(text: str, problems: list[Problem]) -> _Mapping | None:
    """Rows → the nested shape YAML gives: KRs under objectives, check-ins under KRs."""
    workspace, settings = _Mapping(), _Mapping()
    top = _Mapping(workspace=workspace, teams=[], cycles=[], objectives=[])
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = [h.strip().casefold() for h in next(reader)]
    except StopIteration:
        problems.append(Problem(0, "the file is empty"))
        return None
    except csv.Error as error:
        problems.append(Problem(1, f"not valid CSV: {error}"))
        return None
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        problems.append(Problem(1, f"unknown column(s): {', '.join(unknown)}"))
    if "record" not in header:
        problems.append(Problem(1, "the header needs a “record” column"))
    if len(set(header)) != len(header):
        problems.append(Problem(1, "a column appears twice in the header"))
    if unknown or "record" not in header or len(set(header)) != len(header):
        return None

    objectives: dict[str, _Mapping] = {}
    krs: dict[str, _Mapping] = {}
    children: list[tuple[_Mapping, str, dict[str, _Mapping], str]] = []
    end = 1  # the physical line the previous record ended on (quoted cells span lines)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(Problem(reader.line_num, f"not valid CSV: {error}"))
            return None
        line, end = end + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            problems.append(Problem(line, f"{len(cells)} cells but {len(header)} columns"))
            continue
        values = dict(zip(header, cells, strict=False))
        record = values.pop("record").strip().casefold()
        fields = _CSV_RECORDS.get(record)
        if fields is None:
            names = ", ".join(_CSV_RECORDS)
            problems.append(Problem(line, f"unknown record “{record}”: use one of {names}"))
            continue
        raw = _Mapping(line=line)
        for column, cell in values.items():
            if not cell.strip():
                continue
            if column not in fields:
                problems.append(Problem(line, f"column “{column}” does not apply to {record} rows"))
                continue
            name = fields[column]
            raw[name] = _csv_untext(cell) if name in _TEXT_FIELDS else cell
        if record == "workspace":
            if workspace.line:
                problems.append(
                    Problem(line, f"a second workspace (first on line {workspace.line})")
                )
                continue
            workspace.update(raw)
            workspace.line = line
        elif record == "setting":
            name = str(raw.get("name", ""))
            if name in settings:
                first = settings.line_of(name)
                problems.append(Problem(line, f"setting “{name}” twice (also on line {first})"))
                continue
            # An empty value is a value here: no vision yet, no digest channel.
            value = values.get("value", "")
            settings[name] = _csv_untext(value) if name in ("vision", "mission") else value
            settings.field_lines[name] = line
        elif record in ("team", "cycle"):
            top[f"{record}s"].append(raw)
        elif record == "objective":
            raw["key_results"] = []
            top["objectives"].append(raw)
            if "key" in raw:
                objectives.setdefault(raw["key"], raw)
        elif record == "key_result":
            raw["check_ins"] = []
            if "key" in raw:
                krs.setdefault(raw["key"], raw)
            children.append((raw, "objective", objectives, "key_results"))
        elif record == "source":
            children.append((raw, "key_result", krs, "source"))
        else:
            children.append((raw, "key_result", krs, "check_ins"))
    # Rows may come in any order: attach KRs and check-ins once every row is read.
    for raw, parent_field, parents, into in children:
        parent = raw.pop(parent_field, None)
        if parent is None:
            problems.append(Problem(raw.line, f"give the {parent_field}'s key in “parent”"))
        elif parent not in parents:
            problems.append(Problem(raw.line, f"unknown {parent_field} “{parent}” in “parent”"))
        elif into != "source":
            parents[parent][into].append(raw)
        elif "source" in parents[parent]:
            first = parents[parent]["source"].line
            problems.append(
                Problem(
                    raw.line, f"a second source for key result “{parent}” (first on line {first})"
                )
            )
        else:
            parents[parent]["source"] = raw
    for name in ("vision", "mission"):
        if name in settings:
            workspace[name] = settings.pop(name)
            workspace.field_lines[name] = settings.field_lines[name]
    if settings:
        settings.line = workspace.line
        workspace["settings"] = settings
    return top


# --- Reading records into the document ------------------------------------------------------

_E = TypeVar("_E", bound=Enum)


class _Reader:
    """Typed fields of one record; each bad field is a problem on the record's line."""

    def __init__(
        self, raw: Mapping[str, Any], what: str, fields: Iterable[str], problems: list[Problem]
    ) -> None:
        self.raw, self.what, self.problems = raw, what, problems
        self.line: int = getattr(raw, "line", 0)
        allowed = set(fields)
        for name in raw:
            if name not in allowed:
                self.problem(f"unknown field “{name}” in {what}")

    def problem(self, message: str) -> None:
        self.problems.append(Problem(self.line, message))

    def given(self, name: str) -> bool:
        value = self.raw.get(name)
        return value is not None and not (isinstance(value, str) and not value.strip())

    def need(self, name: str, description: str) -> bool:
        if not self.given(name):
            self.problem(f"{self.what} needs {description}")
            return False
        return True

    def text(self, name: str, *, single_line: bool = True) -> str:
        value = self.raw.get(name) if self.given(name) else None
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(f"{name} should be text (put it in quotes)")
            return ""
        return clean_text(str(value), single_line=single_line)

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def number(self, name: str, *, what: str | None = None) -> float | None:
        if not self.given(name):
            return None
        value = self.raw[name]
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.problem(f"{name} should be a number")
            return None
        if isinstance(value, str):
            try:
                value = float(value.strip())  # exact for what Ladder writes
            except ValueError:
                try:  # "1,000", "1.5k", "30%", as people type them in Slack
                    value = parse_number_input(value)
                except NumberInputError as error:
                    self.problem(f"{name}: {error.message}")
                    return None
        trouble = number_problem(float(value), what=what or name)
        if trouble:
            self.problem(trouble)
            return None
        return float(value) + 0.0  # no negative zero

    def flag(self, name: str) -> bool | None:
        """true/false (yes/no, 1/0 too); absent is false, anything else a problem (None)."""
        if not self.given(name):
            return False
        value = self.raw[name]
        if isinstance(value, bool):
            return value
        word = str(value).strip().casefold()
        if word in ("true", "yes", "1"):
            return True
        if word in ("false", "no", "0"):
            return False
        self.problem(f"{name} should be true or false, not “{value}”")
        return None

    def integer(self, name: str) -> int | None:
        number = self.number(name)
        if number is not None and not number.is_integer():
            self.problem(f"{name} should be a whole number")
            return None
        return None if number is None else int(number)

    def day(self, name: str) -> date | None:
        if not self.given(name):
            return None
        value = self.raw[name]
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.problem(f"{name} “{value}” is not a date (YYYY-MM-DD)")
        return None

    def moment(self, name: str) -> datetime | None:
        if not self.given(name):
            return None
        value = self.raw[name]
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value.strip())
        if not isinstance(value, datetime):
            self.problem(f"{name} “{self.raw[name]}” is not a time like 2026-02-16T09:00:00Z")
            return None
        # A time without a zone is read as UTC, the zone exports write.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def choice(self, name: str, enum: type[_E], *, label: str) -> _E | None:
        if not self.given(name):
            return None
        value = self.raw[name]
        for member in enum:
            if member.value == str(value).strip().casefold():
                return member
        names = [str(m.value) for m in enum]
        self.problem(f"unknown {label} “{value}”: use {', '.join(names[:-1])} or {names[-1]}")
        return None

    def entries(self, name: str, what: str) -> list[_Mapping]:
        value = self.raw.get(name)
        if value is None:
            return []
        items = value if isinstance(value, list) else []
        if not isinstance(value, list) or not all(isinstance(v, _Mapping) for v in items):
            self.problem(f"{name} should be a list of {what}, each a mapping")
        return [v for v in items if isinstance(v, _Mapping)]


def _read_document(top: _Mapping, problems: list[Problem]) -> Document:
    reader = _Reader(top, "the file", TOP_FIELDS, problems)
    version = reader.integer("version")
    if version is not None and version != FORMAT_VERSION:
        reader.problem(f"version {version} is not one this Ladder reads ({FORMAT_VERSION})")
    raw_ws = top.get("workspace")
    if raw_ws is not None and not isinstance(raw_ws, _Mapping):
        reader.problem("workspace should be a mapping: id, name, vision, mission, settings")
    return Document(
        workspace=_read_workspace(raw_ws if isinstance(raw_ws, _Mapping) else _Mapping(), problems),
        teams=[_read_team(t, problems) for t in reader.entries("teams", "teams")],
        cycles=[_read_cycle(c, problems) for c in reader.entries("cycles", "cycles")],
        objectives=[
            _read_objective(o, problems) for o in reader.entries("objectives", "objectives")
        ],
    )


def _read_workspace(raw: _Mapping, problems: list[Problem]) -> WorkspaceDoc:
    r = _Reader(raw, "the workspace", WORKSPACE_FIELDS, problems)
    ws = WorkspaceDoc(line=r.line, id=r.optional("id"))
    for name in ("name", "vision", "mission"):
        if name in raw:
            r.line = raw.line_of(name)  # a CSV setting row of its own
            setattr(ws, name, r.text(name, single_line=name == "name"))
            ws.lines[name] = r.line
    settings = raw.get("settings")
    if settings is None:
        return ws
    if not isinstance(settings, _Mapping):
        problems.append(Problem(raw.line_of("settings"), "settings should be a mapping"))
        return ws
    for name, value in settings.items():
        line = settings.line_of(name)
        if name not in SETTING_NAMES:
            known = ", ".join(SETTING_NAMES)
            problems.append(Problem(line, f"unknown setting “{name}”: use {known}"))
        else:
            ws.settings[name], ws.lines[name] = value, line
    return ws


def _read_team(raw: _Mapping, problems: list[Problem]) -> TeamDoc:
    r = _Reader(raw, "a team", TEAM_FIELDS, problems)
    r.need("name", "a name")
    channels = raw.get("channels") or []
    if isinstance(channels, str):
        channels = channels.replace(",", " ").split()
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        r.problem("channels should be a list of channel ids (C…)")
        channels = []
    return TeamDoc(r.line, r.text("name"), r.optional("parent"), [c.strip() for c in channels])


def _read_cycle(raw: _Mapping, problems: list[Problem]) -> CycleDoc:
    r = _Reader(raw, "a cycle", CYCLE_FIELDS, problems)
    r.need("name", "a name")
    r.need("start_date", "a start_date")
    r.need("end_date", "an end_date")
    return CycleDoc(
        r.line, r.text("name"), r.day("start_date"), r.day("end_date"), r.moment("closed_at")
    )


def _read_objective(raw: _Mapping, problems: list[Problem]) -> ObjectiveDoc:
    r = _Reader(raw, "an objective", (*OBJECTIVE_FIELDS, "key_results"), problems)
    r.need("cycle", "a cycle")
    if not r.given("owner_email"):
        r.need("owner", "an owner (a Slack user id or an email)")
    return ObjectiveDoc(
        line=r.line,
        key=r.optional("key"),
        title=r.text("title"),
        cycle=r.optional("cycle"),
        owner=r.optional("owner"),
        owner_email=r.optional("owner_email"),
        team=r.optional("team"),
        level=_read_level(r),
        parent=r.optional("parent"),
        description=r.text("description", single_line=False),
        weight=r.number("weight") if r.given("weight") else 1.0,
        committed=r.flag("committed"),
        status=(r.optional("status") or "active").casefold(),
        grade=r.number("grade"),
        created_at=r.moment("created_at"),
        archived_at=r.moment("archived_at"),
        key_results=[
            _read_key_result(kr, problems) for kr in r.entries("key_results", "key results")
        ],
        reflection_author=r.optional("reflection_author"),
        **{name: r.text(name, single_line=False) for name in REFLECTION_TEXTS},
    )


def _read_level(r: _Reader) -> str | None:
    """company, team or personal, agreeing with the team: a team's objective names its team,
    a company or personal one has none."""
    raw = r.optional("level")
    if raw is None:
        return None
    word = raw.casefold()
    if word not in {level.value for level in Level}:
        r.problem(f"level “{raw}” should be company, team or personal")
        return None
    has_team = r.given("team")
    if word == Level.TEAM and not has_team:
        r.problem("a team objective needs its team in “team”")
    elif word != Level.TEAM and has_team:
        r.problem(f"a {word} objective has no team: leave “team” empty")
    return word


def _read_key_result(raw: _Mapping, problems: list[Problem]) -> KeyResultDoc:
    r = _Reader(raw, "a key result", (*KR_FIELDS, "check_ins", "source"), problems)
    raw_source = raw.get("source")
    if raw_source is not None and not isinstance(raw_source, _Mapping):
        r.problem("source should be a mapping: kind, url, expression, …")
    from_title = not r.given("kind") and not r.given("target")
    if not from_title:
        r.need("kind", "a kind (increase, decrease, at_least, at_most or milestone)")
        r.need("target", "a target")
    return KeyResultDoc(
        line=r.line,
        key=r.optional("key"),
        title=r.text("title"),
        kind=r.choice("kind", KRKind, label="key result kind"),
        target=r.number("target", what="target"),
        unit=r.choice("unit", UnitKind, label="unit"),
        unit_label=r.optional("unit_label"),
        start=r.number("start", what="start value"),
        current=r.number("current", what="current value"),
        weight=r.number("weight") if r.given("weight") else 1.0,
        due=r.day("due"),
        confidence=r.integer("confidence"),
        owner=r.optional("owner"),
        owner_email=r.optional("owner_email"),
        grade=r.number("grade"),
        created_at=r.moment("created_at"),
        archived_at=r.moment("archived_at"),
        check_ins=[_read_check_in(c, problems) for c in r.entries("check_ins", "check-ins")],
        carried_from=r.optional("carried_from"),
        from_title=from_title,
        source=_read_source(raw_source, problems) if isinstance(raw_source, _Mapping) else None,
    )


def _read_source(raw: _Mapping, problems: list[Problem]) -> SourceDoc:
    """A KR's source, checked as the Connect data modal checks it, problems on its line."""
    r = _Reader(raw, "a source", SOURCE_FIELDS, problems)
    r.need("kind", "a kind (json, prometheus or csv)")
    r.need("url", "a url")
    source = SourceDoc(
        line=r.line,
        kind=r.choice("kind", SourceKind, label="source kind"),
        url=r.text("url"),
        expression=r.text("expression", single_line=False),
        column=r.text("column", single_line=False),
        row_key=r.text("row_key", single_line=False),
        multiplier=r.number("multiplier") if r.given("multiplier") else 1.0,
        credential=r.optional("credential"),
        interval_minutes=(
            r.integer("interval_minutes")
            if r.given("interval_minutes")
            else DEFAULT_SOURCE_INTERVAL
        ),
    )
    if source.interval_minutes is not None and source.interval_minutes < MIN_INTERVAL_MINUTES:
        r.problem(f"interval_minutes: pull at most every {MIN_INTERVAL_MINUTES} minutes")
    elif source.interval_minutes is not None and source.interval_minutes > MAX_SOURCE_INTERVAL:
        r.problem(f"interval_minutes: pull at least once a week ({MAX_SOURCE_INTERVAL} minutes)")
    for name in ("column", "row_key"):
        if len(getattr(source, name)) > SOURCE_TEXT_MAX:
            r.problem(f"Keep the source's {name} under {SOURCE_TEXT_MAX} characters.")
    if source.kind is not None and source.url and source.multiplier is not None:
        trouble = spec_problem(_spec_of(source))
        if trouble:
            r.problem(trouble)
    return source


def _spec_of(source: SourceDoc) -> SourceSpec:
    assert source.kind is not None and source.multiplier is not None
    return SourceSpec(
        kind=source.kind,
        url=source.url,
        expression=source.expression,
        column=source.column,
        row_key=source.row_key,
        multiplier=source.multiplier,
        credential=source.credential,
    )


def _read_check_in(raw: _Mapping, problems: list[Problem]) -> CheckInDoc:
    r = _Reader(raw, "a check-in", CHECKIN_FIELDS, problems)
    r.need("period", "its period (the first day of its check-in week)")
    return CheckInDoc(
        line=r.line,
        period=r.day("period"),
        author=r.optional("author"),
        author_email=r.optional("author_email"),
        value=r.number("value", what="value"),
        previous=r.number("previous", what="previous value"),
        confidence=r.integer("confidence"),
        note=r.text("note", single_line=False),
        blocker=r.text("blocker", single_line=False),
        source=r.optional("source") or "import",
        created_at=r.moment("created_at"),
    )


def decode(text: str, fmt: Format) -> tuple[Document | None, list[Problem]]:
    """The document (None: not YAML/CSV at all) and the problems found reading it."""
    problems: list[Problem] = []
    top = _load_yaml(text, problems) if fmt is Format.YAML else _load_csv(text, problems)
    return (None if top is None else _read_document(top, problems)), problems


def read_document(text: str, fmt: Format) -> Document:
    document, problems = decode(text, fmt)
    if document is None or problems:
        raise ImportRefused(problems)
    return document


# --- Checking the document and planning the rows --------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What import stores: storage rows whose references are list indexes."""

    workspace_changes: dict[str, Any]
    teams: list[store.NewTeam]
    cycles: list[store.NewCycle]
    objectives: list[store.NewObjective]
    key_results: list[store.NewKeyResult]
    check_ins: list[store.NewCheckIn]
    emails_resolved: int
    reflections: list[store.NewReflection] = field(default_factory=list)
    sources: list[store.NewSource] = field(default_factory=list)


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


class _People:
    """Owners and authors given as user ids or emails; each distinct email looked up once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.emails: dict[str, list[int]] = {}  # casefolded email -> lines that use it

    def given(self, line: int, value: str | None, email: str | None, what: str) -> str | None:
        """The user id, or the casefolded email to look up; None when not given or unusable."""
        candidate = value or email
        if candidate is None:
            return None
        if _USER_ID.match(candidate) or candidate == DATA_SOURCE_AUTHOR:  # a synced value's
            return candidate
        if _EMAIL.match(candidate):
            folded = candidate.casefold()
            self.emails.setdefault(folded, []).append(line)
            return folded
        self.problems.append(
            Problem(line, f"{what} “{candidate}” is neither a Slack user id (U…) nor an email")
        )
        return None

    def resolve(self, lookup: EmailLookup | None) -> dict[str, str]:
        found: dict[str, str] = {}
        for email, lines in self.emails.items():
            if lookup is None:
                reason = f"cannot look up “{email}” without Slack: give the user id (U…)"
            else:
                try:
                    user_id = lookup(email)
                except SlackApiError as error:
                    reason = f"Slack answered {error.response.get('error')} for “{email}”"
                else:
                    if user_id is not None:
                        found[email] = user_id
                        continue
                    reason = f"no Slack user has the email “{email}”"
            self.problems.extend(Problem(line, reason) for line in lines)
        return found


class _Names:
    """Unique names (or keys) of one kind of record; case-insensitive unless told otherwise."""

    def __init__(self, what: str, problems: list[Problem], *, fold: bool = True) -> None:
        self.what, self.problems, self.fold = what, problems, fold
        self.index: dict[str, int] = {}
        self.lines: dict[str, int] = {}

    def _key(self, name: str) -> str:
        return name.casefold() if self.fold else name

    def add(self, name: str | None, i: int, line: int, *, limit: int | None = None) -> None:
        if not name:
            return
        if limit is not None and len(name) > limit:
            self.problems.append(
                Problem(line, f"Keep the {self.what} name under {limit} characters.")
            )
        elif self._key(name) in self.index:
            first = self.lines[self._key(name)]
            self.problems.append(
                Problem(line, f"duplicate {self.what} “{name}” (also on line {first})")
            )
        else:
            self.index[self._key(name)], self.lines[self._key(name)] = i, line

    def find(self, name: str | None, line: int, what: str) -> int | None:
        if name is None:
            return None
        found = self.index.get(self._key(name))
        if found is None:
            self.problems.append(Problem(line, f"unknown {what} “{name}”"))
        return found


def plan_import(
    document: Document,
    problems: list[Problem],
    *,
    lookup_email: EmailLookup | None,
    now: datetime,
) -> Plan | None:
    """Check the document; when no problem was found (now or before), the rows to store."""
    people = _People(problems)

    def problem(line: int, message: str) -> None:
        problems.append(Problem(line, message))

    changes = _workspace_changes(document.workspace, problems)

    # Teams: unique names, known parents, no loops, each channel linked to one team.
    teams = _Names("team", problems)
    for i, t in enumerate(document.teams):
        teams.add(t.name, i, t.line, limit=NAME_MAX)
    team_parents = [teams.find(t.parent, t.line, "parent team") for t in document.teams]
    channel_lines: dict[str, int] = {}
    for t in document.teams:
        for channel in t.channels:
            if not _CHANNEL_ID.match(channel):
                problem(t.line, f"“{channel}” is not a channel id (C…)")
            elif channel in channel_lines:
                first = channel_lines[channel]
                problem(t.line, f"channel {channel} is linked twice (also on line {first})")
            else:
                channel_lines[channel] = t.line
    for i in _in_loops(team_parents):
        problem(document.teams[i].line, f"team “{document.teams[i].name}” is under itself")

    # Cycles: unique names, ending on or after they start.
    cycles = _Names("cycle", problems)
    for i, c in enumerate(document.cycles):
        cycles.add(c.name, i, c.line, limit=NAME_MAX)
        if c.start_date and c.end_date and c.end_date < c.start_date:
            problem(c.line, "A cycle must end on or after the day it starts.")

    # Objectives: unique keys, known cycle/team/parent, no alignment loops, the app's rules.
    keys = _Names("objective key", problems, fold=False)
    for i, o in enumerate(document.objectives):
        keys.add(o.key, i, o.line)
    parents: list[int | None] = []
    cycle_ix: list[int | None] = []
    team_ix: list[int | None] = []
    owners: list[str | None] = []
    reflection_authors: list[str | None] = []
    for o in document.objectives:
        weight = 1.0 if o.weight is None else o.weight
        for message in objective_problems(
            title=o.title, description=o.description, weight=weight
        ).values():
            problem(o.line, message)
        cycle_ix.append(cycles.find(o.cycle, o.line, "cycle"))
        team_ix.append(teams.find(o.team, o.line, "team"))
        parents.append(keys.find(o.parent, o.line, "parent objective"))
        if o.status not in STATUSES:
            problem(o.line, f"unknown status “{o.status}”: use active or closed")
        if (trouble := number_problem(o.grade, what="grade")) is not None:
            problem(o.line, trouble)
        owners.append(people.given(o.line, o.owner, o.owner_email, "owner"))
        reflection_authors.append(
            people.given(o.line, o.reflection_author, None, "reflection author")
        )
        if any(len(getattr(o, name)) > NOTE_MAX for name in REFLECTION_TEXTS):
            problem(o.line, f"Keep each reflection answer under {NOTE_MAX} characters.")
    for i in _in_loops(parents):
        o = document.objectives[i]
        problem(o.line, f"objective “{o.key}” ladders up to itself through its parents")

    # Key results and their check-ins.
    kr_keys = _Names("key result key", problems, fold=False)
    implicit_kr_keys: dict[str, int] = {}
    specs: list[KRSpec | None] = []
    kr_owners: list[str | None] = []
    authors: list[str | None] = []
    for o, objective_owner in zip(document.objectives, owners, strict=True):
        for n, kr in enumerate(o.key_results, start=1):
            kr_keys.add(kr.key, len(specs), kr.line)
            if not kr.key and o.key:  # YAML nests KRs without keys: the one an export gives
                implicit_kr_keys.setdefault(f"{o.key}.{n}", len(specs))
            specs.append(_kr_spec(kr, problems, today=now.date()))
            owner = people.given(kr.line, kr.owner, kr.owner_email, "owner")
            kr_owners.append(owner or objective_owner)
            periods: dict[date, int] = {}
            for c in kr.check_ins:
                authors.append(_check_check_in(c, kr, people, periods, problems))

    carried_from: list[int | None] = []
    for o in document.objectives:
        for kr in o.key_results:
            source = implicit_kr_keys.get(kr.carried_from or "")
            if source is None:
                source = kr_keys.find(kr.carried_from, kr.line, "key result it was carried from")
            carried_from.append(source)
    emails = people.resolve(lookup_email)
    if problems:
        return None

    def person(given: str | None) -> str:
        assert given is not None  # a missing person was reported above
        return emails.get(given, given)

    objectives: list[store.NewObjective] = []
    key_results: list[store.NewKeyResult] = []
    check_ins: list[store.NewCheckIn] = []
    reflections: list[store.NewReflection] = []
    sources: list[store.NewSource] = []
    kr_rows = iter(zip(specs, kr_owners, strict=True))
    author_rows = iter(authors)
    for i, o in enumerate(document.objectives):
        objectives.append(
            store.NewObjective(
                cycle=cycle_ix[i],  # type: ignore[arg-type]
                owner_id=person(owners[i]),
                title=o.title,
                created_at=o.created_at or now,
                team=team_ix[i],
                level=o.level,
                parent=parents[i],
                description=o.description,
                weight=1.0 if o.weight is None else o.weight,
                committed=bool(o.committed),
                status=o.status,
                grade=o.grade,
                archived_at=o.archived_at,
            )
        )
        if o.has_reflection:
            reflections.append(
                store.NewReflection(
                    objective=i,
                    author_id=person(reflection_authors[i] or owners[i]),
                    worked=o.reflection_worked,
                    did_not_work=o.reflection_did_not_work,
                    carry_over=o.reflection_carry_over,
                    created_at=now,
                )
            )
        for position, kr in enumerate(o.key_results):
            spec, owner = next(kr_rows)
            assert spec is not None
            times = [c.created_at or now for c in kr.check_ins]
            for c, at in zip(kr.check_ins, times, strict=True):
                author = next(author_rows)
                check_ins.append(
                    store.NewCheckIn(
                        key_result=len(key_results),
                        author_id=person(author or owner),  # by default, the KR's owner
                        period_start=c.period,  # type: ignore[arg-type]
                        created_at=at,
                        value=c.value,
                        previous_value=c.previous,
                        confidence=c.confidence,
                        note=c.note,
                        blocker=c.blocker,
                        source=c.source,
                    )
                )
            if kr.source is not None:
                sources.append(_new_source(kr.source, len(key_results), person(owner)))
            key_results.append(
                store.NewKeyResult(
                    objective=i,
                    owner_id=person(owner),
                    title=spec.title,
                    kind=spec.kind.value,
                    unit=spec.unit.value,
                    target_value=spec.target_value,
                    created_at=kr.created_at or o.created_at or now,  # made with it
                    position=position,
                    unit_label=spec.unit_label,
                    start_value=spec.stored_start,  # as KRs made in Slack
                    current_value=spec.current_value,
                    weight=spec.weight,
                    due_date=spec.due_date,
                    confidence=kr.confidence,
                    grade=kr.grade,
                    # What record_check_in keeps on the KR: when it was last checked in.
                    last_checkin_at=max(times, default=None),
                    archived_at=kr.archived_at,
                    carried_from=carried_from[len(key_results)],
                )
            )
    return Plan(
        changes,
        [
            store.NewTeam(t.name, team_parents[i], tuple(t.channels))
            for i, t in enumerate(document.teams)
        ],
        [
            store.NewCycle(c.name, c.start_date, c.end_date, c.closed_at)  # type: ignore[arg-type]
            for c in document.cycles
        ],
        objectives,
        key_results,
        check_ins,
        emails_resolved=len(emails),
        reflections=reflections,
        sources=sources,
    )


def _new_source(source: SourceDoc, key_result: int, owner_id: str) -> store.NewSource:
    """Stored as the Connect data modal stores it; connected in the KR owner's name (the
    one told when it fails)."""
    spec = _spec_of(source)
    assert source.interval_minutes is not None  # a bad one was reported
    return store.NewSource(
        key_result=key_result,
        kind=spec.kind.value,
        url=spec.url.strip(),
        expression=spec.expression.strip(),
        column=spec.column.strip(),
        row_key=spec.row_key.strip(),
        multiplier=spec.multiplier,
        credential=spec.credential,
        interval_minutes=source.interval_minutes,
        created_by=owner_id,
    )


def _kr_spec(kr: KeyResultDoc, problems: list[Problem], *, today: date) -> KRSpec | None:
    """The KR as the app's own validation sees it; its problems go on its line."""

    def problem(message: str) -> None:
        problems.append(Problem(kr.line, message))

    kind, target, start, due = kr.kind, kr.target, kr.start, kr.due
    unit, label = kr.unit, kr.unit_label
    if kr.from_title and kr.title:
        # Only a sentence, as typed in /okr new: read it the way the form does.
        proposal = parse_key_result(kr.title, today=today)
        if proposal is None or proposal.target is None:
            problem("give a kind and a target: the title alone does not say how it is measured")
            return None
        kind, target = proposal.kind, proposal.target
        start = proposal.start if start is None else start
        if unit is None:
            unit, label = proposal.unit, label or proposal.unit_label
        due = due or proposal.due
    if kind is None or target is None or kr.weight is None:
        # Missing or unreadable: reported when the record was read.
        if not kr.title:
            problem("Give the key result a title.")
        return None
    spec = KRSpec(
        title=kr.title,
        kind=kind,
        target_value=target,
        start_value=start,
        unit=unit or UnitKind.NUMBER,
        unit_label=label,
        weight=kr.weight,
        due_date=due,
        current_value=kr.current,
    )
    for message in kr_problems(spec).values():
        problem(message)
    for trouble in (confidence_problem(kr.confidence), number_problem(kr.grade, what="grade")):
        if trouble is not None:
            problem(trouble)
    if kind is KRKind.MILESTONE and kr.current not in (None, 0, 1):
        problem("A milestone is either done (1) or not done (0).")
    return spec


def _check_check_in(
    c: CheckInDoc,
    kr: KeyResultDoc,
    people: _People,
    periods: dict[date, int],
    problems: list[Problem],
) -> str | None:
    """The same rules as storage.checkins.record_check_in; returns the author as given."""

    def problem(message: str) -> None:
        problems.append(Problem(c.line, message))

    if c.period is not None and c.period in periods:
        problem(
            f"a second check-in for the period of {c.period} (first on line {periods[c.period]})"
        )
    elif c.period is not None:
        periods[c.period] = c.line
    if (trouble := confidence_problem(c.confidence)) is not None:
        problem(trouble)
    if max(len(c.note), len(c.blocker)) > NOTE_MAX:
        problem(f"Keep notes under {NOTE_MAX} characters.")
    if len(c.source) > SOURCE_MAX:
        problem(f"source “{c.source}” is longer than {SOURCE_MAX} characters")
    if kr.kind is KRKind.MILESTONE and c.value not in (None, 0, 1):
        problem("A milestone is either done (1) or not done (0).")
    return people.given(c.line, c.author, c.author_email, "author")


def _in_loops(parents: list[int | None]) -> list[int]:
    """Indexes whose chain of parents comes back to themselves."""
    done: set[int] = set()
    looped: set[int] = set()
    for start in range(len(parents)):
        path: list[int] = []
        on_path: set[int] = set()
        node: int | None = start
        while node is not None and node not in done and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = parents[node]
        if node is not None and node in on_path:
            looped.update(path[path.index(node) :])
        done.update(path)
    return sorted(looped)


def _workspace_changes(ws: WorkspaceDoc, problems: list[Problem]) -> dict[str, Any]:
    """Statements and settings to store, checked with the rules of /okr settings."""

    def line(name: str) -> int:
        return ws.lines.get(name, ws.line)

    changes: dict[str, Any] = {}
    if ws.id is not None and not _WORKSPACE_ID.match(ws.id):
        problems.append(Problem(ws.line, f"“{ws.id}” is not a workspace id (T…)"))
    if ws.name is not None:
        if len(ws.name) > WORKSPACE_NAME_MAX:
            problems.append(Problem(line("name"), "the workspace name is too long"))
        changes["name"] = ws.name
    for name in ("vision", "mission"):
        statement = getattr(ws, name)
        if statement is not None and len(statement) > STATEMENT_MAX:
            problems.append(
                Problem(line(name), f"Keep the {name} under {STATEMENT_MAX} characters.")
            )
        if statement is not None:
            changes[name] = statement
    if not ws.settings:
        return changes

    # The modal's validation wants every field: fill the ones not given with the defaults,
    # then store only the given ones.
    defaults = Workspace(team_id="T0")
    form: dict[str, Any] = {}
    for name in SCHEDULE_FIELDS:
        value = ws.settings.get(name, getattr(defaults, name))
        if name == "digest_mentions":
            form[name] = _boolean(value, name, line(name), problems)
        elif value is None or value == "":
            form[name] = None
        elif name == "checkin_time" and isinstance(value, int) and not isinstance(value, bool):
            form[name] = f"{value // 60:02d}:{value % 60:02d}"  # YAML 1.1 reads 10:00 as 600
        else:
            form[name] = _plain(value) if isinstance(value, time) else str(value).strip()
    schedule, errors = validate_settings(SettingsForm(**form))
    for name, message in errors.items():
        problems.append(Problem(line(name), f"{name}: {message}"))
    changes |= {k: v for k, v in schedule.items() if k in ws.settings}

    if "rollup_include_children" in ws.settings:
        name = "rollup_include_children"
        changes[name] = _boolean(ws.settings[name], name, line(name), problems)
    points: dict[str, float] = {}
    for name in ("at_risk_points", "off_track_points"):
        if name in ws.settings:
            raw = _Mapping({name: ws.settings[name]}, line=line(name))
            value = _Reader(raw, "the settings", [name], problems).number(name)
            if value is not None:
                points[name] = value
    if points:
        rules = {
            "at_risk_points": defaults.at_risk_points,
            "off_track_points": defaults.off_track_points,
        }
        try:
            StatusRules(**(rules | points))
        except ValueError as error:
            problems.append(Problem(line(next(iter(points))), str(error)))
        else:
            changes |= points
    return changes


def _boolean(value: Any, name: str, line: int, problems: list[Problem]) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in ("true", "yes", "1", "on"):
        return True
    if text not in ("false", "no", "0", "off", ""):
        problems.append(Problem(line, f"{name} should be true or false, not “{value}”"))
    return False


# --- Import ---------------------------------------------------------------------------------


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
            teams=plan.teams,
            cycles=plan.cycles,
            objectives=plan.objectives,
            key_results=plan.key_results,
            check_ins=plan.check_ins,
            reflections=plan.reflections,
            sources=plan.sources,
        )
    return ImportReport(
        workspace_id=target,
        teams=len(plan.teams),
        cycles=len(plan.cycles),
        objectives=len(plan.objectives),
        key_results=len(plan.key_results),
        check_ins=len(plan.check_ins),
        emails_resolved=plan.emails_resolved,
        replaced=None if contents.empty else contents,
        sources=len(plan.sources),
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
