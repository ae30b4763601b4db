"""What an import stores: the document checked against the app's rules, then its rows.

Checked: unknown and looping parents, unknown cycles and teams, duplicate names and keys, and
every objective, KR, check-in, source and setting against the rules of the Slack forms
(bot.okr.validate, /okr settings, /okr data). Owner emails are looked up in Slack, each
distinct one once. Only a document without a problem gets rows, built in a second walk in
which every reference is known to resolve.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError

from bot.okr.kinds import KRKind, Level, UnitKind
from bot.okr.limits import NAME_MAX, NOTE_MAX, STATEMENT_MAX
from bot.okr.pace import StatusRules
from bot.okr.parse import parse_key_result
from bot.okr.validate import KRSpec, confidence_problem, kr_problems, objective_problems
from bot.services.settings import FIELDS as SCHEDULE_FIELDS
from bot.services.settings import SettingsForm, validate_settings
from bot.services.transfer.document import (
    ROW_NAMES,
    Document,
    KeyResultDoc,
    Problem,
    SourceDoc,
    WorkspaceDoc,
    copy_into,
    plain,
    to_flag,
    to_number,
)
from bot.sources.fetch import spec_of, spec_problem
from storage import transfer as store
from storage.models import Workspace
from storage.sources import DATA_SOURCE_AUTHOR, MIN_INTERVAL_MINUTES

SOURCE_MAX = 16  # CheckIn.source
WORKSPACE_NAME_MAX = 200  # Workspace.name
SOURCE_TEXT_MAX = 200  # DataSource.column and .row_key
MAX_SOURCE_INTERVAL = 7 * 24 * 60  # the modal's longest is daily; a week keeps ints small
SETTING_NAMES = (*SCHEDULE_FIELDS, "rollup_include_children", "at_risk_points", "off_track_points")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,31}$")
_WORKSPACE_ID = re.compile(r"^[TE][A-Z0-9]{2,31}$")
T = TypeVar("T")
_DOC_NAMES = {row: doc for doc, row in ROW_NAMES.items()}

EmailLookup = Callable[[str], str | None]
"""Email -> Slack user id, or None when no user has it."""


@dataclass(frozen=True)
class Plan:
    """What import stores: the workspace's changes, and rows whose references are indexes."""

    workspace_changes: dict[str, Any]
    rows: store.NewOkrs
    emails_resolved: int


def plan_import(
    document: Document,
    problems: list[Problem],
    *,
    lookup_email: EmailLookup | None,
    now: datetime,
) -> Plan | None:
    """Check the document; when no problem was found (now or before), the rows to store."""
    people = _People(document, lookup_email)
    refs = _check(document, people, problems, today=now.date())
    changes = workspace_changes(document.workspace, problems)
    if problems:
        return None
    return Plan(changes, _rows(document, refs, people, now=now), len(people.ids))


def _known(value: T | None) -> T:
    """A value the checks made sure of: a document with a problem gets no rows."""
    assert value is not None
    return value


class _People:
    """Owners and authors, as Slack user ids or emails; each distinct email looked up once."""

    def __init__(self, document: Document, lookup: EmailLookup | None) -> None:
        given = [
            p for o in document.objectives for p in (o.owner or o.owner_email, o.reflection_author)
        ]
        given += [kr.owner or kr.owner_email for kr in document.key_results]
        given += [c.author or c.author_email for c in document.check_ins]
        self.ids: dict[str, str] = {}  # casefolded email -> user id
        self.unknown: dict[str, str] = {}  # casefolded email -> why it has no user id
        for email in dict.fromkeys(p.casefold() for p in given if p and _EMAIL.match(p)):
            if lookup is None:
                self.unknown[email] = (
                    f"cannot look up “{email}” without Slack: give the user id (U…)"
                )
                continue
            try:
                user_id = lookup(email)
            except SlackApiError as error:
                self.unknown[email] = f"Slack answered {error.response.get('error')} for “{email}”"
                continue
            if user_id is None:
                self.unknown[email] = f"no Slack user has the email “{email}”"
            else:
                self.ids[email] = user_id

    def problem(self, value: str | None, email: str | None, what: str) -> str | None:
        person = value or email
        if person is None or _USER_ID.match(person) or person == DATA_SOURCE_AUTHOR:
            return None  # DATA_SOURCE_AUTHOR: a value a data source pulled
        if _EMAIL.match(person):
            return self.unknown.get(person.casefold())
        return f"{what} “{person}” is neither a Slack user id (U…) nor an email"

    def id(self, *given: str | None) -> str:
        """The first person given, as a user id."""
        person = _known(next((p for p in given if p), None))
        return self.ids.get(person.casefold(), person)


class _Names:
    """Unique names (or keys) of one kind of record -> index; case-insensitive unless told."""

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
            message = f"Keep the {self.what} name under {limit} characters."
        elif (first := self.lines.get(self._key(name))) is not None:
            message = f"duplicate {self.what} “{name}” (also on line {first})"
        else:
            self.index[self._key(name)], self.lines[self._key(name)] = i, line
            return
        self.problems.append(Problem(line, message))

    def get(self, name: str | None) -> int | None:
        return None if name is None else self.index.get(self._key(name))

    def find(self, name: str | None, line: int, what: str) -> int | None:
        found = self.get(name)
        if name is not None and found is None:
            self.problems.append(Problem(line, f"unknown {what} “{name}”"))
        return found


@dataclass
class _Refs:
    teams: _Names
    cycles: _Names
    objectives: _Names
    key_results: _Names
    implicit: dict[str, int] = field(default_factory=dict)  # a keyless KR's export key: O1.2

    def carried_from(self, key: str | None) -> int | None:
        return self.implicit.get(key or "", self.key_results.get(key))


def _check(document: Document, people: _People, problems: list[Problem], *, today: date) -> _Refs:
    def problem(line: int, message: str | None) -> None:
        if message:
            problems.append(Problem(line, message))

    refs = _Refs(
        _Names("team", problems),
        _Names("cycle", problems),
        _Names("objective key", problems, fold=False),
        _Names("key result key", problems, fold=False),
    )
    # Teams: unique names, known parents, no loops, each channel linked to one team.
    for i, t in enumerate(document.teams):
        refs.teams.add(t.name, i, t.line, limit=NAME_MAX)
    team_parents = [refs.teams.find(t.parent, t.line, "parent team") for t in document.teams]
    for i in _in_loops(team_parents):
        problem(document.teams[i].line, f"team “{document.teams[i].name}” is under itself")
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

    # Cycles: unique names, ending on or after they start.
    for i, cycle in enumerate(document.cycles):
        refs.cycles.add(cycle.name, i, cycle.line, limit=NAME_MAX)
        if cycle.start_date and cycle.end_date and cycle.end_date < cycle.start_date:
            problem(cycle.line, "A cycle must end on or after the day it starts.")

    # Keys first: parents and carried-over KRs may point forward.
    numbers = iter(range(len(document.key_results)))
    for i, o in enumerate(document.objectives):
        refs.objectives.add(o.key, i, o.line)
        for n, kr in enumerate(o.key_results, start=1):
            j = next(numbers)
            refs.key_results.add(kr.key, j, kr.line)
            if not kr.key and o.key:  # YAML nests KRs without keys: the one an export gives
                refs.implicit.setdefault(f"{o.key}.{n}", j)

    parents: list[int | None] = []
    for o in document.objectives:
        for message in objective_problems(
            title=o.title, description=o.description, weight=o.weight
        ).values():
            problem(o.line, message)
        refs.cycles.find(o.cycle, o.line, "cycle")
        refs.teams.find(o.team, o.line, "team")
        if o.level == Level.TEAM and not o.team:
            problem(o.line, "a team objective needs its team in “team”")
        elif o.level not in (None, Level.TEAM) and o.team:
            problem(o.line, f"a {o.level} objective has no team: leave “team” empty")
        parents.append(refs.objectives.find(o.parent, o.line, "parent objective"))
        problem(o.line, people.problem(o.owner, o.owner_email, "owner"))
        problem(o.line, people.problem(o.reflection_author, None, "reflection author"))
        reflection = (o.reflection_worked, o.reflection_did_not_work, o.reflection_carry_over)
        if any(len(text) > NOTE_MAX for text in reflection):
            problem(o.line, f"Keep each reflection answer under {NOTE_MAX} characters.")
        for kr in o.key_results:
            for message in _kr_spec(kr, today=today)[1]:
                problem(kr.line, message)
            problem(kr.line, people.problem(kr.owner, kr.owner_email, "owner"))
            if kr.carried_from is not None and kr.carried_from not in refs.implicit:
                refs.key_results.find(kr.carried_from, kr.line, "key result it was carried from")
            if kr.source is not None:
                for message in _source_problems(kr.source):
                    problem(kr.source.line, message)
            periods: dict[date, int] = {}
            for c in kr.check_ins:
                if c.period is not None and c.period in periods:
                    first = periods[c.period]
                    problem(
                        c.line,
                        f"a second check-in for the period of {c.period} (first on line {first})",
                    )
                elif c.period is not None:
                    periods[c.period] = c.line
                problem(c.line, confidence_problem(c.confidence))
                if max(len(c.note), len(c.blocker)) > NOTE_MAX:
                    problem(c.line, f"Keep notes under {NOTE_MAX} characters.")
                if len(c.source) > SOURCE_MAX:
                    problem(c.line, f"source “{c.source}” is longer than {SOURCE_MAX} characters")
                if kr.kind is KRKind.MILESTONE and c.value not in (None, 0, 1):
                    problem(c.line, "A milestone is either done (1) or not done (0).")
                problem(c.line, people.problem(c.author, c.author_email, "author"))
    for i in _in_loops(parents):
        o = document.objectives[i]
        problem(o.line, f"objective “{o.key}” ladders up to itself through its parents")
    return refs


def _kr_spec(kr: KeyResultDoc, *, today: date) -> tuple[KRSpec | None, list[str]]:
    """The KR as the app's own validation sees it, and what is wrong with it."""
    kind, target, start, due = kr.kind, kr.target, kr.start, kr.due
    unit, label = kr.unit, kr.unit_label
    if kr.from_title and kr.title:
        # Only a sentence, as typed in /okr new: read it the way the form does.
        proposal = parse_key_result(kr.title, today=today)
        if proposal is None or proposal.target is None:
            return None, [
                "give a kind and a target: the title alone does not say how it is measured"
            ]
        kind, target = proposal.kind, proposal.target
        start = proposal.start if start is None else start
        if unit is None:
            unit, label = proposal.unit, label or proposal.unit_label
        due = due or proposal.due
    if kind is None or target is None:  # missing or unreadable: reported when it was read
        return None, [] if kr.title else ["Give the key result a title."]
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
    problems = [*kr_problems(spec).values(), confidence_problem(kr.confidence)]
    if kind is KRKind.MILESTONE and kr.current not in (None, 0, 1):
        problems.append("A milestone is either done (1) or not done (0).")
    return spec, [p for p in problems if p]


def _source_problems(source: SourceDoc) -> Iterator[str]:
    """The rules of the Connect data modal."""
    if source.interval_minutes < MIN_INTERVAL_MINUTES:
        yield f"interval_minutes: pull at most every {MIN_INTERVAL_MINUTES} minutes"
    elif source.interval_minutes > MAX_SOURCE_INTERVAL:
        yield f"interval_minutes: pull at least once a week ({MAX_SOURCE_INTERVAL} minutes)"
    for name, text in (("column", source.column), ("row_key", source.row_key)):
        if len(text) > SOURCE_TEXT_MAX:
            yield f"Keep the source's {name} under {SOURCE_TEXT_MAX} characters."
    if source.kind is not None and source.url and (trouble := spec_problem(spec_of(source))):
        yield trouble


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


def workspace_changes(ws: WorkspaceDoc, problems: list[Problem]) -> dict[str, Any]:
    """Statements and settings to store, checked with the rules of /okr settings."""

    def problem(name: str, message: str) -> None:
        problems.append(Problem(ws.lines.get(name, ws.line), message))

    if ws.id is not None and not _WORKSPACE_ID.match(ws.id):
        problems.append(Problem(ws.line, f"“{ws.id}” is not a workspace id (T…)"))
    if ws.name is not None and len(ws.name) > WORKSPACE_NAME_MAX:
        problem("name", "the workspace name is too long")
    for name, statement in (("vision", ws.vision), ("mission", ws.mission)):
        if statement is not None and len(statement) > STATEMENT_MAX:
            problem(name, f"Keep the {name} under {STATEMENT_MAX} characters.")
    changes: dict[str, Any] = {
        name: value
        for name, value in (("name", ws.name), ("vision", ws.vision), ("mission", ws.mission))
        if value is not None
    }
    for name in ws.settings:
        if name not in SETTING_NAMES:
            problem(name, f"unknown setting “{name}”: use {', '.join(SETTING_NAMES)}")
    settings = {k: v for k, v in ws.settings.items() if k in SETTING_NAMES}
    if not settings:
        return changes

    def flag(name: str) -> bool:
        try:
            return to_flag(settings[name], name)
        except ValueError as error:
            problem(name, str(error))
            return False

    # The modal's validation wants every field: fill the ones not given with the defaults,
    # then store only the given ones.
    defaults = Workspace(team_id="T0")
    form: dict[str, Any] = {}
    for name in SCHEDULE_FIELDS:
        value = settings.get(name, getattr(defaults, name))
        if name == "digest_mentions":
            form[name] = flag(name) if name in settings else value
        elif value is None or value == "":
            form[name] = None
        elif name == "checkin_time" and isinstance(value, int) and not isinstance(value, bool):
            form[name] = f"{value // 60:02d}:{value % 60:02d}"  # YAML 1.1 reads 10:00 as 600
        else:
            form[name] = plain(value) if isinstance(value, time) else str(value).strip()
    schedule, errors = validate_settings(SettingsForm(**form))
    for name, message in errors.items():
        problem(name, f"{name}: {message}")
    changes |= {k: v for k, v in schedule.items() if k in settings}
    if "rollup_include_children" in settings:
        changes["rollup_include_children"] = flag("rollup_include_children")

    points: dict[str, float] = {}
    for name in ("at_risk_points", "off_track_points"):
        try:
            if name in settings:
                points[name] = to_number(settings[name], name)
        except ValueError as error:
            problem(name, str(error))
    if points:
        try:
            StatusRules(
                at_risk_points=points.get("at_risk_points", defaults.at_risk_points),
                off_track_points=points.get("off_track_points", defaults.off_track_points),
            )
        except ValueError as error:
            problem(next(iter(points)), str(error))
        else:
            changes |= points
    return changes


def _rows(document: Document, refs: _Refs, people: _People, *, now: datetime) -> store.NewOkrs:
    """The rows of a checked document, parents before children."""
    rows = store.NewOkrs(
        [
            store.NewTeam(t.name, refs.teams.get(t.parent), tuple(t.channels))
            for t in document.teams
        ],
        [
            store.NewCycle(c.name, _known(c.start_date), _known(c.end_date), c.closed_at)
            for c in document.cycles
        ],
    )
    for i, o in enumerate(document.objectives):
        owner = people.id(o.owner, o.owner_email)
        rows.objectives.append(
            copy_into(
                store.NewObjective,
                o,
                cycle=_known(refs.cycles.get(o.cycle)),
                owner_id=owner,
                created_at=o.created_at or now,
                team=refs.teams.get(o.team),
                parent=refs.objectives.get(o.parent),
            )
        )
        if o.has_reflection:
            rows.reflections.append(
                store.NewReflection(
                    objective=i,
                    author_id=people.id(o.reflection_author, owner),
                    worked=o.reflection_worked,
                    did_not_work=o.reflection_did_not_work,
                    carry_over=o.reflection_carry_over,
                    created_at=now,
                )
            )
        for position, kr in enumerate(o.key_results):
            spec = _known(_kr_spec(kr, today=now.date())[0])
            kr_owner = people.id(kr.owner, kr.owner_email, owner)  # by default, the objective's
            rows.check_ins.extend(
                copy_into(
                    store.NewCheckIn,
                    c,
                    _DOC_NAMES,
                    key_result=len(rows.key_results),
                    author_id=people.id(c.author, c.author_email, kr_owner),
                    created_at=c.created_at or now,
                )
                for c in kr.check_ins
            )
            if kr.source is not None:
                # Stored as the Connect data modal stores it; connected in the KR owner's
                # name (the one told when it fails).
                rows.sources.append(
                    copy_into(
                        store.NewSource,
                        kr.source,
                        key_result=len(rows.key_results),
                        kind=_known(kr.source.kind).value,
                        created_by=kr_owner,
                    )
                )
            rows.key_results.append(
                copy_into(
                    store.NewKeyResult,
                    spec,
                    objective=i,
                    owner_id=kr_owner,
                    kind=spec.kind.value,
                    unit=spec.unit.value,
                    created_at=kr.created_at or o.created_at or now,  # made with it
                    position=position,
                    start_value=spec.stored_start,  # as KRs made in Slack
                    confidence=kr.confidence,
                    grade=kr.grade,
                    # What record_check_in keeps on the KR: when it was last checked in.
                    last_checkin_at=max((c.created_at or now for c in kr.check_ins), default=None),
                    archived_at=kr.archived_at,
                    carried_from=refs.carried_from(kr.carried_from),
                )
            )
    return rows
