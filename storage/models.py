"""SQLModel tables of the objective tree. Every row carries its workspace (Slack team id).

Integer primary keys are typed `int`, as SQLAlchemy's own `Mapped[int]` for an autoincrement
key: None only on a new row until its first flush, which is when code reads them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from bot.okr.kinds import KRKind, Level, UnitKind
from bot.okr.limits import (
    DESCRIPTION_MAX,
    KR_TITLE_MAX,
    NAME_MAX,
    NOTE_MAX,
    OBJECTIVE_TITLE_MAX,
    STATEMENT_MAX,
    UNIT_LABEL_MAX,
)

SLACK_ID_MAX = 32  # T…, U…, C… ids are ~11 characters; leave room for Enterprise Grid ids


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC and returns aware UTC, so SQLite and PostgreSQL behave alike."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _ts(*, nullable: bool = False, index: bool = False) -> sa.Column:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


def _workspace_fk(*, primary_key: bool = False) -> sa.Column:
    """The row's workspace, deleted with it."""
    return sa.Column(
        sa.String(SLACK_ID_MAX),
        sa.ForeignKey("workspace.team_id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


def _owned_by(table: str, *, index: bool | None = None, unique: bool | None = None) -> sa.Column:
    """The id of the row this one belongs to, deleted with it."""
    return sa.Column(
        sa.Integer,
        sa.ForeignKey(f"{table}.id", ondelete="CASCADE"),
        nullable=False,
        index=index,
        unique=unique,
    )


class Workspace(SQLModel, table=True):
    __tablename__ = "workspace"

    team_id: str = Field(primary_key=True, max_length=SLACK_ID_MAX)
    name: str = Field(default="", max_length=200)
    vision: str = Field(default="", max_length=STATEMENT_MAX)
    mission: str = Field(default="", max_length=STATEMENT_MAX)
    active: bool = True
    # When it went inactive (uninstalled, token revoked); its data is purged after retention.
    deactivated_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # Check-in schedule: weekday 0 = Monday, local time in each person's own timezone.
    checkin_weekday: int = Field(default=0, ge=0, le=6)
    checkin_time: time = Field(default=time(10, 0))
    checkin_cadence_weeks: int = Field(default=1, ge=1, le=2)
    reminder_delay_hours: int = Field(default=24, ge=1)
    max_reminders: int = Field(default=1, ge=0)
    default_timezone: str = Field(default="UTC", max_length=64)
    digest_channel: str | None = Field(default=None, max_length=SLACK_ID_MAX)
    digest_weekday: int = Field(default=4, ge=0, le=6)
    digest_mentions: bool = False
    # Trend charts (PNG images) in check-in summaries, digests, Home and `/okr chart`.
    charts_enabled: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    # Roll-up and status rules.
    rollup_include_children: bool = False
    at_risk_points: float = 10.0
    off_track_points: float = 25.0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Team(SQLModel, table=True):
    __tablename__ = "team"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name", name="uq_team_name"),)

    id: int = Field(default=None, primary_key=True)
    workspace_id: str = Field(sa_column=_workspace_fk())
    name: str = Field(max_length=NAME_MAX)
    parent_id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("team.id", ondelete="SET NULL")),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class TeamChannel(SQLModel, table=True):
    """A Slack channel linked to a team: `/okr status` there shows that team's tree."""

    __tablename__ = "team_channel"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "channel_id", name="uq_team_channel"),)

    id: int = Field(default=None, primary_key=True)
    workspace_id: str = Field(sa_column=_workspace_fk())
    team_id: int = Field(sa_column=_owned_by("team", index=True))
    channel_id: str = Field(max_length=SLACK_ID_MAX)


class Cycle(SQLModel, table=True):
    __tablename__ = "cycle"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "name", name="uq_cycle_name"),
        sa.CheckConstraint("end_date >= start_date", name="ck_cycle_dates"),
        sa.Index("ix_cycle_workspace_dates", "workspace_id", "start_date"),
    )

    id: int = Field(default=None, primary_key=True)
    workspace_id: str = Field(sa_column=_workspace_fk())
    name: str = Field(max_length=NAME_MAX)
    start_date: date
    end_date: date
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


def _own_team(context: Any) -> int | None:
    """An objective row's team until storage/rollup.py sets its effective team."""
    team_id: int | None = context.get_current_parameters().get("team_id")
    return team_id


class Objective(SQLModel, table=True):
    __tablename__ = "objective"
    __table_args__ = (
        sa.CheckConstraint("weight > 0", name="ck_objective_weight"),
        sa.Index("ix_objective_workspace_cycle", "workspace_id", "cycle_id"),
        sa.Index("ix_objective_workspace_team", "workspace_id", "team_id"),
        sa.Index("ix_objective_workspace_owner", "workspace_id", "owner_id"),
        # Home's company objectives and their totals: a few rows among many personal ones.
        sa.Index("ix_objective_workspace_level", "workspace_id", "level", "cycle_id"),
        # A status message reads its first objectives in tree order from here, then stops.
        sa.Index("ix_objective_workspace_walk", "workspace_id", "walk_key", "id"),
        # A team's status: its objectives and the personal ones aligned under them.
        sa.Index("ix_objective_workspace_rollup_team", "workspace_id", "rollup_team_id"),
    )

    id: int = Field(default=None, primary_key=True)
    workspace_id: str = Field(sa_column=_workspace_fk())
    cycle_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("cycle.id"), nullable=False)
    )
    # None = a company or personal objective (see level).
    team_id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("team.id", ondelete="SET NULL")),
    )
    # company | team | personal (bot.okr.kinds.Level). Not tied to team_id by a constraint:
    # a deleted team leaves its objectives team-level with no team.
    level: str = Field(
        default=Level.COMPANY.value,
        sa_column=sa.Column(
            sa.String(16),
            sa.CheckConstraint(
                "level IN ('company', 'team', 'personal')", name="ck_objective_level"
            ),
            nullable=False,
            server_default=Level.COMPANY.value,
        ),
    )
    owner_id: str = Field(max_length=SLACK_ID_MAX)
    # The objective this one ladders up to (alignment).
    parent_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("objective.id", ondelete="SET NULL"), index=True
        ),
    )
    title: str = Field(max_length=OBJECTIVE_TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    weight: float = 1.0
    # Committed objectives are expected to reach 1.0; aspirational ones (the default: most
    # OKRs are stretch goals) succeed around 0.7. Grades are judged against this.
    committed: bool = False
    status: str = Field(default="active", max_length=16)  # active | closed (graded)
    grade: float | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    archived_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # Kept by storage/rollup.py in the transaction that changes what they depend on, so a
    # status message reads the objectives it shows instead of rolling up the whole tree.
    # walk_key: the ids from the top of the alignment chain down to this one, fixed width, so
    # ordering by it is the depth-first tree walk (children by id).
    walk_key: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    rollup_progress: float | None = None  # ObjectiveHealth.progress
    # Status as switch days (bot/okr/rollup.py): stays true as the clock moves.
    rollup_rated: bool = False
    rollup_at_risk_on: date | None = None
    rollup_off_track_on: date | None = None
    rollup_stale_on: date | None = None  # no recent data from this day (bot/okr/pace.py, 5)
    # The objective_status_count bucket this objective is counted in (None: not counted).
    rollup_bucket: str | None = Field(default=None, max_length=120)
    # Alignment (storage/alignment.py's counts without walking the tree): in an open cycle,
    # unarchived, and company level or under a laddered parent; no linked parent (an orphan
    # when team or personal level); the unarchived key results.
    rollup_laddered: bool = False
    rollup_unparented: bool = False
    rollup_krs: int = 0
    # The team whose views show it (bot.okr.alignment.effective_team): its own; a personal
    # objective without one takes its parent's. Status, Home and the digest scope by it.
    # Written around the ORM (imports, benchmarks), a row starts with its own team.
    rollup_team_id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.Integer, nullable=True, default=_own_team),
    )
    # What it adds to alignment_count: {bucket: n} as JSON (None: nothing, or never built).
    rollup_alignment: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class KeyResult(SQLModel, table=True):
    __tablename__ = "key_result"
    __table_args__ = (
        sa.CheckConstraint("weight > 0", name="ck_key_result_weight"),
        sa.CheckConstraint(
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 10)",
            name="ck_key_result_confidence",
        ),
        sa.Index("ix_key_result_workspace_owner", "workspace_id", "owner_id"),
        # Alignment health counts each objective's KRs and the stale ones from this index
        # alone (storage/alignment.py), without reading the rows.
        sa.Index(
            "ix_key_result_objective_signs",
            "objective_id",
            "archived_at",
            "last_checkin_at",
            "created_at",
        ),
    )

    id: int = Field(default=None, primary_key=True)
    workspace_id: str = Field(sa_column=_workspace_fk())
    objective_id: int = Field(sa_column=_owned_by("objective", index=True))
    owner_id: str = Field(max_length=SLACK_ID_MAX)
    title: str = Field(max_length=KR_TITLE_MAX)
    kind: KRKind = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    unit: UnitKind = Field(
        default=UnitKind.NUMBER, sa_column=sa.Column(sa.String(16), nullable=False)
    )
    unit_label: str | None = Field(default=None, max_length=UNIT_LABEL_MAX)
    start_value: float | None = None
    target_value: float
    current_value: float | None = None
    weight: float = 1.0
    due_date: date | None = None
    confidence: int | None = None
    position: int = 0  # order within the objective
    grade: float | None = None
    # The KR of an earlier cycle this one was carried over from, so history can be followed.
    carried_from_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("key_result.id", ondelete="SET NULL"), index=True
        ),
    )
    # Kept with current_value/confidence by record_check_in, so a tree render needs no
    # aggregate over the whole check-in history.
    last_checkin_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    archived_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class CheckIn(SQLModel, table=True):
    __tablename__ = "check_in"
    __table_args__ = (
        # Idempotency: a retried submission (same dedupe key) is a no-op, and a KR has one
        # check-in per period; answering again in the same period updates it.
        sa.UniqueConstraint("key_result_id", "dedupe_key", name="uq_check_in_dedupe"),
        sa.UniqueConstraint("key_result_id", "period_start", name="uq_check_in_period"),
        sa.Index("ix_check_in_kr_created", "key_result_id", "created_at"),
        sa.Index("ix_check_in_workspace_period", "workspace_id", "period_start"),
        sa.CheckConstraint(
            "confidence IS NULL OR (confidence >= 0 AND confidence <= 10)",
            name="ck_check_in_confidence",
        ),
    )

    id: int = Field(default=None, primary_key=True)
    workspace_id: str = Field(sa_column=_workspace_fk())
    key_result_id: int = Field(sa_column=_owned_by("key_result"))
    author_id: str = Field(max_length=SLACK_ID_MAX)
    value: float | None = None
    previous_value: float | None = None
    confidence: int | None = None
    note: str = Field(default="", max_length=NOTE_MAX)
    blocker: str = Field(default="", max_length=NOTE_MAX)
    period_start: date  # first day of the check-in period this answer belongs to
    source: str = Field(default="modal", max_length=16)  # modal | no_change | import | …
    dedupe_key: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Reflection(SQLModel, table=True):
    """An objective owner's look back at a closed cycle: one per objective, rewritten when
    the owner answers again."""

    __tablename__ = "reflection"

    id: int = Field(default=None, primary_key=True)
    workspace_id: str = Field(sa_column=_workspace_fk())
    objective_id: int = Field(sa_column=_owned_by("objective", unique=True))
    author_id: str = Field(max_length=SLACK_ID_MAX)
    worked: str = Field(default="", max_length=NOTE_MAX)
    did_not_work: str = Field(default="", max_length=NOTE_MAX)
    carry_over: str = Field(default="", max_length=NOTE_MAX)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Person(SQLModel, table=True):
    """What Ladder knows of a Slack user: timezone (cached from users.info), away dates."""

    __tablename__ = "person"

    workspace_id: str = Field(sa_column=_workspace_fk(primary_key=True))
    user_id: str = Field(primary_key=True, max_length=SLACK_ID_MAX)
    tz: str | None = Field(default=None, max_length=64)
    deleted: bool = False
    is_bot: bool = False
    away_until: date | None = None  # inclusive; None = here
    refreshed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class OutboxState:
    PLANNED = "planned"  # due; nobody has claimed it
    SENDING = "sending"  # claimed by a sender; may have reached Slack if the sender died
    SENT = "sent"
    ANSWERED = "answered"  # the person checked in (prompts only)
    SKIPPED = "skipped"  # nothing to send any more (answered early, away, left)
    FAILED = "failed"  # Slack refused for good (e.g. user not found)


class OutboxMessage(SQLModel, table=True):
    """One message Ladder owes someone: a period's prompt, a reminder, a channel digest.

    The unique key makes planning idempotent; claiming (planned -> sending) makes sending
    exclusive; the stored channel/ts lets answers replace the message in place.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        sa.UniqueConstraint(
            "workspace_id", "recipient", "period_start", "kind", name="uq_outbox_message"
        ),
        sa.Index("ix_outbox_state_due", "state", "due_at"),
        sa.Index("ix_outbox_workspace_period", "workspace_id", "period_start"),
    )

    id: int = Field(default=None, primary_key=True)
    workspace_id: str = Field(sa_column=_workspace_fk())
    recipient: str = Field(max_length=SLACK_ID_MAX)  # a user id, or a channel for digests
    period_start: date
    kind: str = Field(max_length=16)  # prompt | reminder1.. | digest | reflect
    state: str = Field(default=OutboxState.PLANNED, max_length=16)
    due_at: datetime = Field(sa_column=_ts())
    claimed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    attempts: int = 0
    channel_id: str | None = Field(default=None, max_length=SLACK_ID_MAX)
    ts: str | None = Field(default=None, max_length=32)
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    answered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    error: str | None = Field(default=None, max_length=200)


class LadderHealth(SQLModel, table=True):
    """What the health check writes (storage/health.py): one row per check name, rewritten
    with the time of each check, so /healthz proves the database takes writes. Holds no
    workspace's data: retention has nothing to purge here."""

    __tablename__ = "ladder_health"

    name: str = Field(primary_key=True, max_length=64)
    checked_at: datetime = Field(sa_column=_ts())


# -- data sources (issue 17): KRs whose value comes from another system -----------------


class DataSource(SQLModel, table=True):
    """Where a KR's value is pulled from, and how the last pulls went. Credentials are
    never stored: `credential` names a LADDER_SOURCE_<NAME> environment setting."""

    __tablename__ = "data_source"
    __table_args__ = (
        sa.UniqueConstraint("key_result_id", name="uq_data_source_key_result"),
        sa.CheckConstraint("interval_minutes >= 5", name="ck_data_source_interval"),
        sa.Index("ix_data_source_next_run", "next_run_at"),
        sa.Index("ix_data_source_workspace", "workspace_id"),
    )

    id: int = Field(default=None, primary_key=True)
    workspace_id: str = Field(sa_column=_workspace_fk())
    key_result_id: int = Field(sa_column=_owned_by("key_result"))
    kind: str = Field(max_length=16)  # json | prometheus | csv
    url: str = Field(max_length=2000)
    expression: str = Field(default="", max_length=1000)  # JMESPath, or the PromQL query
    column: str = Field(default="", max_length=200)  # CSV
    row_key: str = Field(default="", max_length=200)  # CSV: "" = the last row
    multiplier: float = 1.0
    credential: str | None = Field(default=None, max_length=40)
    interval_minutes: int = 60
    created_by: str = Field(max_length=SLACK_ID_MAX)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    next_run_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    last_run_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_ok_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_value: float | None = None
    # A failure episode: from the first failed pull to the next good one. The owner is told
    # once per episode (notified_at), not at every pull.
    failing_since: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    failure_reason: str | None = Field(default=None, max_length=300)
    failures: int = 0
    notified_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))

    @property
    def failing(self) -> bool:
        return self.failing_since is not None


class DataSourceHost(SQLModel, table=True):
    """A host a workspace's admins allow: owners may connect sources to it, and it may be
    reached at a private address."""

    __tablename__ = "data_source_host"

    workspace_id: str = Field(sa_column=_workspace_fk(primary_key=True))
    host: str = Field(primary_key=True, max_length=253)
    added_by: str = Field(max_length=SLACK_ID_MAX)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class PushToken(SQLModel, table=True):
    """A KR's token for POST /api/key-results/<id>/value, kept as its SHA-256 only."""

    __tablename__ = "push_token"
    __table_args__ = (
        sa.UniqueConstraint("token_hash", name="uq_push_token_hash"),
        sa.Index("ix_push_token_key_result", "key_result_id"),
    )

    id: int = Field(default=None, primary_key=True)
    workspace_id: str = Field(sa_column=_workspace_fk())
    key_result_id: int = Field(sa_column=_owned_by("key_result"))
    token_hash: str = Field(max_length=64)
    hint: str = Field(max_length=16)  # the token's first characters, to tell tokens apart
    created_by: str = Field(max_length=SLACK_ID_MAX)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class ChartFile(SQLModel, table=True):
    """A chart PNG already uploaded to Slack, by the hash of what it shows (bot/charts):
    the same chart is not drawn and uploaded again. Rows go with their workspace."""

    __tablename__ = "chart_file"

    workspace_id: str = Field(sa_column=_workspace_fk(primary_key=True))
    content_key: str = Field(primary_key=True, max_length=64)  # sha256 hex of the chart data
    file_id: str = Field(max_length=SLACK_ID_MAX)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ObjectiveStatusCount(SQLModel, table=True):
    """How many active objectives share a cycle, a team and status switch days: a view's
    totals by status (today's, from the days) without reading its objectives. Kept by
    storage/rollup.py with the objectives' rollup_bucket; a row whose count falls to 0 is
    deleted."""

    __tablename__ = "objective_status_count"

    workspace_id: str = Field(sa_column=_workspace_fk(primary_key=True))
    bucket: str = Field(primary_key=True, max_length=120)
    cycle_id: int
    team_id: int | None = None
    rated: bool
    at_risk_on: date | None = None
    off_track_on: date | None = None
    stale_on: date | None = None
    objectives: int = 0


class AlignmentCount(SQLModel, table=True):
    """The alignment line's counts without reading objectives (storage/alignment.py): per
    cycle, effective team and level, how many objectives share the same flags (stale_on
    NULL), and how many of their KRs turn stale on a day (stale_on that day: a view sums the
    days up to today). Kept by storage/rollup.py with the objectives' rollup_alignment; a
    row whose count falls to 0 is deleted."""

    __tablename__ = "alignment_count"

    workspace_id: str = Field(sa_column=_workspace_fk(primary_key=True))
    bucket: str = Field(primary_key=True, max_length=120)
    cycle_id: int
    team_id: int | None = None
    level: str = Field(max_length=16)
    laddered: bool = False
    orphan: bool = False  # team or personal, with no linked parent
    no_why: bool = False
    no_krs: bool = False
    too_many_krs: bool = False
    stale_on: date | None = None
    objectives: int = 0
    stale_krs: int = 0


class SendPace(SQLModel, table=True):
    """A workspace's next free chat.postMessage slot, shared by every sending process
    (storage/pacing.py): N senders together keep to the workspace's rate. A slot is wall
    clock time in seconds since the epoch, since processes share no monotonic clock."""

    __tablename__ = "send_pace"

    workspace_id: str = Field(sa_column=_workspace_fk(primary_key=True))
    next_slot: float = Field(default=0.0, sa_column=sa.Column(sa.Float(), nullable=False))


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a table model, for statements that skip the ORM."""
    # SQLModel's class does not declare the `__table__` SQLAlchemy gives every table model.
    return model.__table__  # type: ignore[attr-defined]
