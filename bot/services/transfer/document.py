"""The document an export writes and an import reads: one pydantic dataclass per record.

Field names are YAML keys and CSV columns (the CSV module renames a few). Reading is lenient
on purpose: a bad field is a Problem on its record's line and the record is kept without it,
so one pass reports every problem, and the plan's checks (references, duplicates, the app's
rules) still see every name and key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass as plain_dataclass
from dataclasses import field, fields
from datetime import UTC, date, datetime, time
from enum import Enum, StrEnum
from inspect import signature
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, TypeVar, get_args, get_origin, get_type_hints

from pydantic import (
    ConfigDict,
    ModelWrapValidatorHandler,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import ErrorDetails

from bot.okr.kinds import KRKind, Level, UnitKind
from bot.okr.numbers import NumberInputError, parse_number_input
from bot.okr.validate import clean_text, number_problem
from bot.sources.fetch import SourceKind

FORMAT_VERSION = 1
DEFAULT_SOURCE_INTERVAL = 60  # minutes, as the Connect data modal starts
T = TypeVar("T")


class Format(StrEnum):
    YAML = "yaml"
    CSV = "csv"

    @classmethod
    def of_path(cls, path: str | Path) -> Format | None:
        suffix = Path(path).suffix.casefold()
        return {".yaml": cls.YAML, ".yml": cls.YAML, ".csv": cls.CSV}.get(suffix)


@plain_dataclass(frozen=True, order=True)
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


class Lines(dict[str, Any]):
    """A YAML mapping or a CSV row that knows the line it starts on, and its keys' lines."""

    def __init__(self, *args: Any, line: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = line
        self.field_lines: dict[str, int] = {}


# --- Field types. Each converter takes what YAML or CSV gives (or a value already typed) and
# raises ValueError with the message shown on the record's line.


def to_text(value: Any, name: str, *, single_line: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{name} should be text (put it in quotes)")
    return clean_text(str(value), single_line=single_line)


def to_line(value: Any, name: str) -> str:
    return to_text(value, name, single_line=True)


_NUMBER_WHAT = {"start": "start value", "current": "current value", "previous": "previous value"}


def to_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name} should be a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())  # exact for what Ladder writes
        except ValueError:
            try:  # "1,000", "1.5k", "30%", as people type them in Slack
                value = parse_number_input(value)
            except NumberInputError as error:
                raise ValueError(f"{name}: {error.message}") from None
    if trouble := number_problem(float(value), what=_NUMBER_WHAT.get(name, name)):
        raise ValueError(trouble)
    return float(value) + 0.0  # no negative zero


def to_whole(value: Any, name: str) -> int:
    number = to_number(value, name)
    if not number.is_integer():
        raise ValueError(f"{name} should be a whole number")
    return int(number)


def to_flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().casefold()
    if word in ("true", "yes", "1", "on"):
        return True
    if word in ("false", "no", "0", "off", ""):
        return False
    raise ValueError(f"{name} should be true or false, not “{value}”")


def to_day(value: Any, name: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{name} “{value}” is not a date (YYYY-MM-DD)")


def to_moment(value: Any, name: str) -> datetime:
    moment = value
    if isinstance(value, str):
        with suppress(ValueError):
            moment = datetime.fromisoformat(value.strip())
    if not isinstance(moment, datetime):
        raise ValueError(f"{name} “{value}” is not a time like 2026-02-16T09:00:00Z")
    # A time without a zone is read as UTC, the zone exports write.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_channels(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise ValueError(f"{name} should be a list of channel ids (C…)")
    return [c.strip() for c in value]


def choice(options: Mapping[str, T], label: str) -> Callable[[Any, str], T]:
    def convert(value: Any, name: str) -> T:
        found = options.get(str(value).strip().casefold())
        if found is None:
            names = list(options)
            raise ValueError(
                f"unknown {label} “{value}”: use {', '.join(names[:-1])} or {names[-1]}"
            )
        return found

    return convert


def _of(convert: Callable[[Any, str], Any]) -> PlainValidator:
    return PlainValidator(lambda value, info: convert(value, info.field_name or ""))


def _enum(enum: type[StrEnum], label: str) -> PlainValidator:
    return _of(choice({m.value: m for m in enum}, label))


Line = Annotated[str, _of(to_line)]  # one line of text
Text = Annotated[str, _of(to_text)]  # text that may span lines
Number = Annotated[float, _of(to_number)]
Whole = Annotated[int, _of(to_whole)]
Flag = Annotated[bool, _of(to_flag)]
Day = Annotated[date, _of(to_day)]
Moment = Annotated[datetime, _of(to_moment)]
Status = Annotated[str, _of(choice({"active": "active", "closed": "closed"}, "status"))]


def _version(value: Any, name: str) -> int:
    version = to_whole(value, name)
    if version != FORMAT_VERSION:
        raise ValueError(f"version {version} is not one this Ladder reads ({FORMAT_VERSION})")
    return version


# --- Records ---------------------------------------------------------------------------------

INTERNAL = frozenset({"line", "lines", "from_title"})  # set by reading, never by the file


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


@dataclass(config=ConfigDict(extra="forbid"))
class Record:
    """A record of the document. Built in Python it validates as any pydantic dataclass; read
    from a file (a Lines, with a `problems` list in the context) it never fails: see _read."""

    line: int = 0  # where it starts in the file (0: not read from one)
    what: ClassVar[str] = "a record"  # for messages: "unknown field “x” in a check-in"
    needs: ClassVar[dict[str, str]] = {}  # field -> "a cycle" in "an objective needs a cycle"

    @classmethod
    def _given(cls, raw: Lines) -> dict[str, Any]:
        """The fields given: an empty cell or a blank value is not."""
        return {k: v for k, v in raw.items() if _given(v)}

    @classmethod
    def _missing(cls, given: Mapping[str, Any]) -> list[str]:
        return [description for name, description in cls.needs.items() if name not in given]

    @classmethod
    def _internal(cls, raw: Lines, given: Mapping[str, Any]) -> dict[str, Any]:
        return {"line": raw.line}

    @classmethod
    def _line(cls, raw: Lines, name: str) -> int:
        """Where a problem with a field is shown: on the record's first line."""
        return raw.line

    @model_validator(mode="wrap")
    @classmethod
    def _read(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        problems = info.context.get("problems") if isinstance(info.context, dict) else None
        if problems is None or not isinstance(data, Lines):
            return handler(data)  # built in Python; or not a mapping, which its parent reports

        def problem(message: str) -> None:
            problems.append(Problem(data.line, message))

        given = cls._given(data)
        for name in [k for k in given if k in INTERNAL or not isinstance(k, str)]:
            problem(f"unknown field “{name}” in {cls.what}")
            del given[name]
        for description in cls._missing(given):
            problem(f"{cls.what} needs {description}")
        given |= cls._internal(data, given)
        try:
            return handler(given)
        except ValidationError as error:
            for details in error.errors():
                name = str(details["loc"][0]) if details["loc"] else ""
                problems.append(Problem(cls._line(data, name), cls._message(details)))
            given = _without(given, error)
        try:  # the record less what was wrong with it
            return handler(given)
        except ValidationError:  # nothing expected, but a file must not crash the import
            return handler(cls._internal(data, {}))

    @classmethod
    def _message(cls, error: ErrorDetails) -> str:
        name = str(error["loc"][0]) if error["loc"] else cls.what
        if error["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
            return f"unknown field “{name}” in {cls.what}"
        if error["type"] == "value_error":
            return str(error.get("ctx", {}).get("error"))
        if len(error["loc"]) > 1 or error["type"] == "list_type":
            entries = name.replace("check_ins", "check-ins").replace("_", " ")
            return f"{name} should be a list of {entries}, each a mapping"
        if error["type"] in ("dataclass_type", "dict_type"):
            return f"{name} should be a mapping (field: value)"
        return f"{name}: {error['msg']}"


def _without(given: dict[str, Any], error: ValidationError) -> dict[str, Any]:
    """The record less what was wrong with it: bad fields, and bad entries of its lists."""
    kept = dict(given)
    entries: dict[str, set[int]] = {}
    for details in error.errors():
        name, *rest = details["loc"] or ("",)
        if rest and isinstance(rest[0], int) and isinstance(kept.get(str(name)), list):
            entries.setdefault(str(name), set()).add(rest[0])
        else:
            kept.pop(str(name), None)
    for name, bad in entries.items():
        kept[name] = [entry for i, entry in enumerate(kept[name]) if i not in bad]
    return kept


@dataclass(config=ConfigDict(extra="forbid"))
class CheckInDoc(Record):
    what: ClassVar[str] = "a check-in"
    needs: ClassVar[dict[str, str]] = {"period": "its period (the first day of its check-in week)"}
    period: Day | None = None
    author: Line | None = None  # a user id or an email; None: the KR's owner
    author_email: Line | None = None
    value: Number | None = None
    previous: Number | None = None
    confidence: Whole | None = None
    note: Text = ""
    blocker: Text = ""
    source: Line = "import"
    created_at: Moment | None = None


@dataclass(config=ConfigDict(extra="forbid"))
class SourceDoc(Record):
    """A KR's data source: its settings only. The credential is a NAME (LADDER_SOURCE_<NAME>
    on the server), never a secret; pull state (failing since, last value) is not carried, and
    push tokens are not exported (a token is a secret, shown once)."""

    what: ClassVar[str] = "a source"
    needs: ClassVar[dict[str, str]] = {"kind": "a kind (json, prometheus or csv)", "url": "a url"}
    kind: Annotated[SourceKind, _enum(SourceKind, "source kind")] | None = None
    url: Line = ""
    expression: Text = ""
    column: Text = ""
    row_key: Text = ""
    multiplier: Number = 1.0
    credential: Line | None = None
    interval_minutes: Whole = DEFAULT_SOURCE_INTERVAL


@dataclass(config=ConfigDict(extra="forbid"))
class KeyResultDoc(Record):
    what: ClassVar[str] = "a key result"
    needs: ClassVar[dict[str, str]] = {
        "kind": "a kind (increase, decrease, at_least, at_most or milestone)",
        "target": "a target",
    }
    key: Line | None = None
    title: Line = ""
    kind: Annotated[KRKind, _enum(KRKind, "key result kind")] | None = None
    unit: Annotated[UnitKind, _enum(UnitKind, "unit")] | None = None  # None: a plain number
    unit_label: Line | None = None
    start: Number | None = None
    target: Number | None = None
    current: Number | None = None
    weight: Number = 1.0
    due: Day | None = None
    confidence: Whole | None = None
    owner: Line | None = None  # None: the objective's owner
    owner_email: Line | None = None
    grade: Number | None = None
    created_at: Moment | None = None
    archived_at: Moment | None = None
    carried_from: Line | None = None  # the key of the KR (of an earlier cycle) it continues
    from_title: bool = False  # no kind and no target: read them from the title sentence
    source: SourceDoc | None = None  # where its value is pulled from
    check_ins: list[CheckInDoc] = field(default_factory=list)

    @classmethod
    def _missing(cls, given: Mapping[str, Any]) -> list[str]:
        return [] if cls._sentence(given) else super()._missing(given)

    @classmethod
    def _internal(cls, raw: Lines, given: Mapping[str, Any]) -> dict[str, Any]:
        return super()._internal(raw, given) | {"from_title": cls._sentence(given)}

    @staticmethod
    def _sentence(given: Mapping[str, Any]) -> bool:
        return "kind" not in given and "target" not in given


@dataclass(config=ConfigDict(extra="forbid"))
class ObjectiveDoc(Record):
    what: ClassVar[str] = "an objective"
    needs: ClassVar[dict[str, str]] = {
        "cycle": "a cycle",
        "owner": "an owner (a Slack user id or an email)",
    }
    key: Line | None = None
    title: Line = ""
    description: Text = ""
    cycle: Line | None = None
    team: Line | None = None
    # company | team | personal; None: as its team says (a team's, else the company's)
    level: Annotated[Level, _enum(Level, "level")] | None = None
    parent: Line | None = None  # the key of the objective this one ladders up to
    owner: Line | None = None
    owner_email: Line | None = None
    weight: Number = 1.0
    committed: Flag = False
    status: Status = "active"
    grade: Number | None = None
    created_at: Moment | None = None
    archived_at: Moment | None = None
    # The owner's look back once the cycle closed (a Reflection row).
    reflection_author: Line | None = None  # None: the objective's owner
    reflection_worked: Text = ""
    reflection_did_not_work: Text = ""
    reflection_carry_over: Text = ""
    key_results: list[KeyResultDoc] = field(default_factory=list)

    @classmethod
    def _missing(cls, given: Mapping[str, Any]) -> list[str]:
        # An owner_email stands in for the owner.
        return super()._missing({**given, "owner": True} if "owner_email" in given else given)

    @property
    def has_reflection(self) -> bool:
        return any(
            (self.reflection_worked, self.reflection_did_not_work, self.reflection_carry_over)
        )


@dataclass(config=ConfigDict(extra="forbid"))
class TeamDoc(Record):
    what: ClassVar[str] = "a team"
    needs: ClassVar[dict[str, str]] = {"name": "a name"}
    name: Line = ""
    parent: Line | None = None
    channels: Annotated[list[str], _of(to_channels)] = field(default_factory=list)


@dataclass(config=ConfigDict(extra="forbid"))
class CycleDoc(Record):
    what: ClassVar[str] = "a cycle"
    needs: ClassVar[dict[str, str]] = {
        "name": "a name",
        "start_date": "a start_date",
        "end_date": "an end_date",
    }
    name: Line = ""
    start_date: Day | None = None
    end_date: Day | None = None
    closed_at: Moment | None = None


_STATEMENTS = ("name", "vision", "mission")


@dataclass(config=ConfigDict(extra="forbid"))
class WorkspaceDoc(Record):
    what: ClassVar[str] = "the workspace"
    id: Line | None = None
    # None here and below: not in the file, so the workspace keeps what it has; "" clears.
    name: Line | None = None
    vision: Text | None = None
    mission: Text | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # raw values, checked by the plan
    lines: dict[str, int] = field(default_factory=dict)  # where each statement and setting is

    @classmethod
    def _given(cls, raw: Lines) -> dict[str, Any]:
        statements = {k: raw[k] for k in _STATEMENTS if raw.get(k) is not None}
        return super()._given(raw) | statements

    @classmethod
    def _line(cls, raw: Lines, name: str) -> int:
        return raw.field_lines.get(name, raw.line) if name in _STATEMENTS else raw.line

    @classmethod
    def _internal(cls, raw: Lines, given: Mapping[str, Any]) -> dict[str, Any]:
        settings = raw.get("settings")
        lines = raw.field_lines | (settings.field_lines if isinstance(settings, Lines) else {})
        return super()._internal(raw, given) | {"lines": lines}


@dataclass(config=ConfigDict(extra="forbid"))
class Document(Record):
    what: ClassVar[str] = "the file"
    version: Annotated[int, _of(_version)] = FORMAT_VERSION
    workspace: WorkspaceDoc = field(default_factory=WorkspaceDoc)
    teams: list[TeamDoc] = field(default_factory=list)
    cycles: list[CycleDoc] = field(default_factory=list)
    objectives: list[ObjectiveDoc] = field(default_factory=list)

    @property
    def key_results(self) -> list[KeyResultDoc]:
        return [kr for o in self.objectives for kr in o.key_results]

    @property
    def check_ins(self) -> list[CheckInDoc]:
        return [c for kr in self.key_results for c in kr.check_ins]

    @property
    def sources(self) -> list[SourceDoc]:
        return [kr.source for kr in self.key_results if kr.source is not None]


_DOCUMENT = TypeAdapter(Document)


def read(top: Lines, problems: list[Problem]) -> Document:
    """The document a file holds; what is wrong with it goes to `problems`, with its line."""
    return _DOCUMENT.validate_python(top, context={"problems": problems})


_SCALARS: dict[type[Record], tuple[str, ...]] = {}


def scalars(cls: type[Record]) -> tuple[str, ...]:
    """A record's own fields in order: not its nested records, nor where it was read."""

    def nested(annotation: Any) -> bool:
        if isinstance(annotation, type) and issubclass(annotation, Record):
            return True
        return get_origin(annotation) is dict or any(nested(a) for a in get_args(annotation))

    if cls not in _SCALARS:
        hints = get_type_hints(cls)
        names = [f.name for f in fields(cls)]
        _SCALARS[cls] = tuple(n for n in names if n not in INTERNAL and not nested(hints[n]))
    return _SCALARS[cls]


# The storage rows' names for the document's fields, where they differ.
ROW_NAMES = {
    "id": "team_id",
    "owner": "owner_id",
    "author": "author_id",
    "start": "start_value",
    "target": "target_value",
    "current": "current_value",
    "due": "due_date",
    "period": "period_start",
    "previous": "previous_value",
}


def copy_into(
    cls: type[T], source: object, names: Mapping[str, str] | None = None, /, **given: Any
) -> T:
    """A `cls` with the fields given, and the others `source` has (some under the names
    `names` gives them there)."""
    pairs = [(name, (names or {}).get(name, name)) for name in signature(cls).parameters]
    values = {n: getattr(source, a) for n, a in pairs if n not in given and hasattr(source, a)}
    return cls(**values, **given)


def fields_of(record: Record) -> dict[str, Any]:
    return {name: getattr(record, name) for name in scalars(type(record))}


def plain(value: Any) -> Any:
    """A value as a file writes it: enums by value, times as HH:MM, whole floats as ints."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # 1000000, not 1000000.0: the same number, easier to read
    return value
