"""Channel digests: on the digest day each team channel hears how its OKRs moved.

Planning: in each active workspace, on `digest_weekday` from `checkin_time` (both in the
workspace's default timezone) until that local day ends, one "digest" outbox row per channel
linked to a team, plus the workspace's `digest_channel` (the whole company). The outbox's
unique key (workspace, recipient, period, kind) makes planning idempotent; the Sender posts
the rows like prompts, so exactly-once and rate limits apply.

A digest reports on the period its day closes or falls in: with Friday digests and Monday
check-ins that is the current week; a digest on the check-in weekday itself reports on the
period that just ended. Slack-free: `render` returns a TeamDigest; bot.blocks.digest builds
the message.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from sqlmodel import Session

from bot.okr.kinds import KRKind, Status
from bot.okr.schedule import digest_period, local_datetime, zone
from bot.okr.tree import Window, evaluate_tree
from bot.services import Service
from bot.services.checkins import cadence_of, running_cycle_ids
from bot.services.delivery import DIGEST, active_workspaces
from storage import history, outbox
from storage import teams as team_store
from storage.db import session_scope
from storage.models import CheckIn, Person, Team, Workspace
from storage.people import get_people
from storage.tree import LoadedTree, load_tree, status_rules
from storage.workspaces import get_workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _KRThen:
    """A key result as it stood at the end of the previous period (for the roll-up math)."""

    id: Hashable
    objective_id: Hashable
    kind: KRKind | str
    start_value: float | None
    target_value: float | None
    current_value: float | None
    weight: float
    confidence: int | None
    due_date: date | None
    created_at: datetime | None
    last_checkin_at: datetime | None  # None: not started by then


NameLookup = Callable[[str, Sequence[str]], Mapping[str, str]]  # (workspace, ids) -> names


def points_between(before: float, now: float) -> int:
    return round(now * 100) - round(before * 100)


@dataclass(frozen=True)
class ObjectiveChange:
    title: str
    before: float | None  # progress at the end of the previous period; None = new since
    now: float | None  # None = nothing to measure
    depth: int = 0
    status: Status | None = None  # its status now; None = no key results

    @property
    def points(self) -> int | None:
        """The change in points of the shown (rounded) percentages; None = new or unmeasured."""
        if self.before is None or self.now is None:
            return None
        return points_between(self.before, self.now)

    @property
    def moved(self) -> bool:
        return self.points != 0


@dataclass(frozen=True)
class StatusTurn:
    """A KR whose status got worse since the previous period."""

    kr_title: str
    objective_title: str
    owner_id: str
    before: Status
    now: Status


@dataclass(frozen=True)
class BlockerNote:
    """A blocker as the person typed it: once per check-in, however many KRs it covered."""

    author_id: str
    text: str
    kr_title: str | None = None  # the one KR it was typed for; None = the whole check-in


@dataclass(frozen=True)
class TeamDigest:
    scope: str  # the team's name, or the workspace's for the company digest (user text)
    period: date  # the period the digest reports on
    objectives: Sequence[ObjectiveChange] = ()
    turned: Sequence[StatusTurn] = ()
    blockers: Sequence[BlockerNote] = ()
    missing: Sequence[str] = field(default_factory=tuple)  # user ids, sorted
    mentions: bool = False
    company: bool = False  # the whole company (the workspace's digest channel)
    names: Mapping[str, str] = field(default_factory=dict)  # user id -> display name


def blocker_notes(check_ins: Sequence[CheckIn], titles: Mapping[int, str]) -> list[BlockerNote]:
    """Each blocker once, attributed to its author. The check-in form asks for one blocker
    per check-in and each KR's row keeps a copy, so the same text from one person in one
    period is one blocker: named on its KR only when it came with a single KR."""
    grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
    for c in check_ins:
        if c.blocker.strip():
            grouped[(c.author_id, c.blocker.strip())].append(c.key_result_id)
    return [
        BlockerNote(author, text, titles[kr_ids[0]] if len(kr_ids) == 1 else None)
        for (author, text), kr_ids in grouped.items()
    ]


def channel_tree(
    session: Session, ws: Workspace, channel_id: str, *, today: date
) -> tuple[LoadedTree, Team | None] | None:
    """What a channel's digest is about: the running cycles' tree of the channel's team (None:
    the whole company, for the workspace's digest channel). None for a channel linked to no
    team (unlinked since the digest was planned) or a tree without objectives."""
    team = None
    if channel_id != ws.digest_channel:
        team = team_store.team_for_channel(
            session=session, workspace_id=ws.team_id, channel_id=channel_id
        )
        if team is None:
            return None
    tree = load_tree(
        session=session,
        workspace_id=ws.team_id,
        today=today,
        cycle_ids=running_cycle_ids(session, ws.team_id, today),
        team_id=None if team is None else team.id,
    )
    return (tree, team) if tree.objectives else None


class DigestService(Service):
    # -- planning ----------------------------------------------------------------------

    def plan(self, *, workspace_id: str | None = None, now: datetime | None = None) -> int:
        """Plan today's digests that are due (idempotent); returns how many rows are new."""
        now = now or self.clock()
        count = 0
        for ws in active_workspaces(self.engine, workspace_id):
            tz = zone(ws.default_timezone)
            today = now.astimezone(tz).date()
            if today.weekday() != ws.digest_weekday:
                continue
            due = local_datetime(today, ws.checkin_time, tz)  # DST-safe wall-clock time
            if now < due:
                continue
            period = digest_period(today, cadence_of(ws))
            with session_scope(self.engine) as session:
                count += self._plan_workspace(session, ws, today, period, due)
        return count

    def _plan_workspace(
        self, session: Session, ws: Workspace, today: date, period: date, due: datetime
    ) -> int:
        channels = self.channels_of(session, ws)
        planned = {
            m.recipient
            for m in outbox.list_messages(
                session=session, workspace_id=ws.team_id, period_start=period, kinds=[DIGEST]
            )
        }
        todo = {c: t for c, t in channels.items() if c not in planned}
        if not todo:
            return 0
        cycle_ids = running_cycle_ids(session, ws.team_id, today)
        busy = history.teams_with_objectives(
            session=session, workspace_id=ws.team_id, cycle_ids=cycle_ids
        )
        if not busy:
            return 0
        teams = team_store.list_teams(session=session, workspace_id=ws.team_id)
        wanted = [
            outbox.PlannedMessage(channel, period, DIGEST, due)
            for channel, team_id in todo.items()
            # A team without objectives (in its sub-teams either) has nothing to report.
            if team_id is None or busy & set(team_store.team_subtree_ids(teams, team_id))
        ]
        return outbox.plan_messages(session=session, workspace_id=ws.team_id, planned=wanted)

    @staticmethod
    def channels_of(session: Session, ws: Workspace) -> dict[str, int | None]:
        """Channel id -> its team (None = the company, for the workspace's digest channel)."""
        by_team = team_store.channels_by_team(session=session, workspace_id=ws.team_id)
        found: dict[str, int | None] = {c: t for t, channels in by_team.items() for c in channels}
        if ws.digest_channel:
            found[ws.digest_channel] = None  # the digest channel gets the whole company
        return found

    # -- rendering ---------------------------------------------------------------------

    def render(
        self,
        *,
        workspace_id: str,
        channel_id: str,
        period: date,
        names: NameLookup | None = None,
    ) -> TeamDigest | None:
        """What a channel's digest shows (bot.blocks.digest renders it), or None when there
        is nothing to post any more.

        names: display names of the people the digest shows (asked after the database
        session is closed); without them, and without mentions, people are only counted."""
        digest = self.run(
            self.digest,
            workspace_id=workspace_id,
            channel_id=channel_id,
            period=period,
            now=self.clock(),
        )
        if digest is None:
            return None
        if not digest.mentions:
            shown = {*digest.missing, *(b.author_id for b in digest.blockers)}
            shown |= {t.owner_id for t in digest.turned}
            if shown and names is not None:
                digest = replace(digest, names=dict(names(workspace_id, sorted(shown))))
        return digest

    def digest(
        self, *, session: Session, workspace_id: str, channel_id: str, period: date, now: datetime
    ) -> TeamDigest | None:
        ws = get_workspace(session=session, workspace_id=workspace_id)
        tz = zone(ws.default_timezone)
        found = channel_tree(session, ws, channel_id, today=now.astimezone(tz).date())
        if found is None:
            return None
        tree, team = found
        kr_ids: list[int] = [kr.id for kr in tree.key_results]
        past = history.latest_check_ins_before(
            session=session, workspace_id=workspace_id, key_result_ids=kr_ids, before=period
        )
        current = history.check_ins_in_period(
            session=session, workspace_id=workspace_id, key_result_ids=kr_ids, period_start=period
        )
        people = get_people(
            session=session,
            workspace_id=workspace_id,
            user_ids={kr.owner_id for kr in tree.key_results},
        )

        # Where everything stood when the period began.
        began = local_datetime(period, time(0, 0), tz)
        this_period = {c.key_result_id: c for c in current}
        krs_then = []
        for kr in tree.key_results:
            if kr.created_at >= began:
                continue
            reading = past.get(kr.id)
            started: datetime | None = None  # not started before this period
            if reading is not None:
                value, confidence = reading.value, reading.confidence
                started = began
            elif kr.id in this_period:  # its first check-in kept the value from before
                value, confidence = this_period[kr.id].previous_value, None
            else:  # never checked in: unchanged since
                value, confidence = kr.current_value, kr.confidence
            krs_then.append(
                _KRThen(
                    kr.id,
                    kr.objective_id,
                    kr.kind,
                    kr.start_value,
                    kr.target_value,
                    value,
                    kr.weight,
                    confidence,
                    kr.due_date,
                    kr.created_at,
                    started,
                )
            )
        then = evaluate_tree(
            [o for o in tree.objectives if o.created_at < began],
            krs_then,
            windows={c.id: Window(c.start_date, c.end_date) for c in tree.cycles.values()},
            today=period - timedelta(days=1),
            include_children=ws.rollup_include_children,
            rules=status_rules(ws),
        )

        changes = [
            ObjectiveChange(
                o.title,
                then.objectives[o.id].progress if o.id in then.objectives else None,
                tree.health.objectives[o.id].progress,
                depth,
                tree.health.objectives[o.id].status,
            )
            for o, depth in tree.walk()
        ]
        turned = sorted(
            (
                StatusTurn(
                    kr.title,
                    tree.objective(kr.objective_id).title,
                    kr.owner_id,
                    then.krs[kr.id].status,
                    tree.health.krs[kr.id].status,
                )
                for kr in tree.key_results
                if kr.id in then.krs
                and _slipped(then.krs[kr.id].status, tree.health.krs[kr.id].status)
            ),
            key=lambda t: -t.now.rank,
        )
        blockers = blocker_notes(current, {kr.id: kr.title for kr in tree.key_results})

        # Owners asked this period (KRs that existed at its prompt) who left a KR unanswered.
        asked_at = local_datetime(period, ws.checkin_time, tz)
        expected: dict[str, list[int]] = defaultdict(list)
        for kr in tree.key_results:
            if kr.created_at <= asked_at:
                expected[kr.owner_id].append(kr.id)
        missing = sorted(
            owner
            for owner, ids in expected.items()
            if not all(i in this_period for i in ids) and _expected_to_answer(people, owner, period)
        )
        return TeamDigest(
            scope=team.name if team else ws.name or "the company",
            period=period,
            objectives=changes,
            turned=turned,
            blockers=blockers,
            missing=missing,
            mentions=ws.digest_mentions,
            company=team is None,
        )


def _slipped(before: Status, now: Status) -> bool:
    """Worse than before, and a concern: starting (not started -> on track) is not slipping."""
    return now.rank > before.rank and now in (Status.AT_RISK, Status.OFF_TRACK)


def _expected_to_answer(people: dict[str, Person], user_id: str, period: date) -> bool:
    person = people.get(user_id)
    if person is None:
        return True
    if person.deleted or person.is_bot:
        return False
    return person.away_until is None or person.away_until < period
