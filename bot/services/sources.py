"""Data sources as the bot uses them: connect a KR, test a source, pull what is due, and
take pushed values. Plain values in, plain dataclasses out; Slack is the caller's business
(the failure notice goes through a callback the scheduler wires to Slack)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import zip_longest

import httpx
from sqlalchemy import Engine

from bot.services import Service
from bot.services.checkins import period_of
from bot.services.permissions import may_check_in, not_admin
from bot.sources.fetch import Fetcher, Reading, SourceError, SourceSpec, spec_of, spec_problem
from bot.sources.guard import normalize_host
from storage import objectives as objective_store
from storage import sources as source_store
from storage.db import session_scope
from storage.errors import NotFound, Refused
from storage.models import DataSource

log = logging.getLogger(__name__)

TOKEN_PREFIX = "ldr_"
DEFAULT_INTERVAL_MINUTES = 60
DEFAULT_CONCURRENCY = 16
DEFAULT_PER_HOST = 4
_Pull = tuple[int, str, int, SourceSpec]  # (source id, workspace, KR id, what to fetch)


class SourceDenied(Refused):
    """The person may not connect this KR to this source; the message says why."""


@dataclass(frozen=True)
class SourceState:
    """A KR's source as menus and Home show it."""

    key_result_id: int
    spec: SourceSpec
    interval_minutes: int
    failing: bool
    failure_reason: str | None
    failing_since: datetime | None
    last_ok_at: datetime | None
    last_value: float | None

    @property
    def host(self) -> str:
        return httpx.URL(self.spec.url).host


@dataclass(frozen=True)
class TestResult:
    """What a pull would do now, without doing it."""

    current_value: float | None
    reading: Reading | None = None
    reason: str | None = None  # why there is no reading

    @property
    def would_record(self) -> bool:
        return self.reading is not None and self.reading.value != self.current_value


@dataclass(frozen=True)
class SourceForm:
    heading: str  # "Objective: …" or "Your key results"
    key_results: list[tuple[int, str]]  # (id, title), in order
    key_result_id: int | None  # the one the form is about
    source: SourceState | None  # its source, if connected
    connected: set[int]
    failing: set[int]
    scope: dict  # how to list the same KRs again: form(**scope) (kept in the modal)


@dataclass(frozen=True)
class FailureNotice:
    """Tell the KR's owner, once per failure episode, that its source stopped working."""

    workspace_id: str
    owner_id: str
    key_result_id: int
    kr_title: str
    host: str
    reason: str


@dataclass
class SyncReport:
    pulled: int = 0
    recorded: int = 0
    unchanged: int = 0
    failed: int = 0
    notified: int = 0
    recovered: int = 0
    seconds: float = 0.0
    failures: dict[int, str] = field(default_factory=dict)  # KR id -> reason


@dataclass(frozen=True)
class PushResult:
    key_result_id: int
    value: float
    recorded: bool  # False: the value was unchanged, nothing new stored


def state_of(source: DataSource) -> SourceState:
    return SourceState(
        key_result_id=source.key_result_id,
        spec=spec_of(source),
        interval_minutes=source.interval_minutes,
        failing=source.failing,
        failure_reason=source.failure_reason,
        failing_since=source.failing_since,
        last_ok_at=source.last_ok_at,
        last_value=source.last_value,
    )


def hash_token(token: str) -> str:
    """Tokens are 256 random bits: a plain SHA-256 is enough to keep them unusable at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


class HostLimits:
    """At most `per_host` pulls at a time against any one host: a sync round of a thousand
    KRs on one metrics server must not look like an attack on it."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(per_host)
        )

    def slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._semaphores[host]


class SourceService(Service):
    def __init__(
        self,
        engine: Engine,
        *,
        fetcher: Fetcher,
        clock: Callable[[], datetime],
        notify: Callable[[FailureNotice], bool] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        per_host: int = DEFAULT_PER_HOST,
    ) -> None:
        super().__init__(engine, clock=clock)
        self.fetcher = fetcher
        self.notify = notify
        self.concurrency = concurrency
        self.hosts = HostLimits(per_host)

    # -- connecting -------------------------------------------------------------------

    def connect(
        self,
        *,
        workspace_id: str,
        user_id: str,
        is_admin: Callable[[], bool],
        key_result_id: int,
        spec: SourceSpec,
        interval_minutes: int = DEFAULT_INTERVAL_MINUTES,
    ) -> SourceState:
        """Admins may connect any KR to any host; a KR's owner (or its objective's) only
        to a host on the workspace's allow-list. Refused says why, nothing stored."""
        problem = spec_problem(spec)
        if problem:
            raise Refused(problem)
        host = normalize_host(httpx.URL(spec.url.strip()).host)
        self._ensure_may_connect(workspace_id, user_id, is_admin, key_result_id, host)
        with session_scope(self.engine) as session:
            source = source_store.save_source(
                session=session,
                workspace_id=workspace_id,
                key_result_id=key_result_id,
                kind=spec.kind.value,
                url=spec.url.strip(),
                expression=spec.expression.strip(),
                column=spec.column.strip(),
                row_key=spec.row_key.strip(),
                multiplier=spec.multiplier,
                credential=spec.credential,
                interval_minutes=interval_minutes,
                created_by=user_id,
                now=self.clock(),
            )
            log.info(
                "workspace=%s user=%s connected KR %s to a %s source on %s",
                workspace_id,
                user_id,
                key_result_id,
                spec.kind.value,
                host,
            )
            return state_of(source)

    def _ensure_may_connect(
        self,
        workspace_id: str,
        user_id: str,
        is_admin: Callable[[], bool],
        key_result_id: int,
        host: str | None,
    ) -> None:
        """SourceDenied unless the person may: owners (of the KR or its objective) to
        allow-listed hosts, admins to any. Slack is asked about admins (if at all) after the
        read, never while a transaction is open."""
        with session_scope(self.engine, read_only=True) as session:
            owners = objective_store.key_result_owners(
                session=session, workspace_id=workspace_id, key_result_ids=[key_result_id]
            )
            if key_result_id not in owners:
                raise NotFound(f"key result {key_result_id} not found")
            allowed = host is None or host in source_store.allowed_hosts(
                session=session, workspace_id=workspace_id
            )
        kr_owner, objective_owner = owners[key_result_id]
        owner = may_check_in(
            user_id=user_id,
            kr_owner_id=kr_owner,
            objective_owner_id=objective_owner,
            is_admin=not_admin,
        )
        if (owner and allowed) or is_admin():
            return
        if not owner:
            raise SourceDenied("Only the key result's owner or a workspace admin can do that.")
        raise SourceDenied(
            f"{host} is not on this workspace's data source allow-list: ask a workspace "
            "admin to add it, or to connect the source for you."
        )

    def disconnect(
        self, *, workspace_id: str, user_id: str, is_admin: Callable[[], bool], key_result_id: int
    ) -> bool:
        self._ensure_may_connect(workspace_id, user_id, is_admin, key_result_id, None)
        return self.run(
            source_store.remove_source, workspace_id=workspace_id, key_result_id=key_result_id
        )

    def form(
        self,
        *,
        workspace_id: str,
        objective_id: int | None = None,
        key_result_id: int | None = None,
        user_id: str | None = None,
        everything: bool = False,
    ) -> SourceForm:
        """What the Connect data modal shows: the KRs to choose from (an objective's; or,
        with `user_id`, that person's and their objectives', all of them if `everything`),
        the chosen one (the given KR, else the first with a source, else the first) and its
        source if it has one."""
        with session_scope(self.engine, read_only=True) as session:
            if user_id is not None:
                pairs = source_store.connectable_key_results(
                    session=session,
                    workspace_id=workspace_id,
                    user_id=None if everything else user_id,
                )
                krs = [kr for kr, _ in pairs]
                titles = [f"{kr.title} · {o.title}" for kr, o in pairs]
                heading = "All key results" if everything else "Your key results"
            else:
                if objective_id is None:
                    assert key_result_id is not None
                    objective_id = objective_store.get_key_result(
                        session=session, workspace_id=workspace_id, key_result_id=key_result_id
                    ).objective_id
                objective = objective_store.get_objective(
                    session=session, workspace_id=workspace_id, objective_id=objective_id
                )
                krs = source_store.objective_key_results(
                    session=session, workspace_id=workspace_id, objective_id=objective_id
                )
                titles = [kr.title for kr in krs]
                heading = f"Objective: {objective.title}"
            sources = source_store.list_sources(
                session=session,
                workspace_id=workspace_id,
                key_result_ids=[kr.id for kr in krs if kr.id is not None],
            )
        if key_result_id is None and krs:
            key_result_id = next((kr.id for kr in krs if kr.id in sources), krs[0].id)
        return SourceForm(
            heading=heading,
            key_results=[
                (kr.id, t) for kr, t in zip(krs, titles, strict=True) if kr.id is not None
            ],
            key_result_id=key_result_id,
            source=state_of(sources[key_result_id]) if key_result_id in sources else None,
            connected=set(sources),
            failing={kr_id for kr_id, s in sources.items() if s.failing},
            scope={"objective_id": objective_id}
            if user_id is None
            else {"user_id": user_id, "everything": everything},
        )

    def states(self, *, workspace_id: str, key_result_ids: list[int]) -> dict[int, SourceState]:
        """For menus and Home: every given KR's source, in one statement."""
        sources = self.read(
            source_store.list_sources, workspace_id=workspace_id, key_result_ids=key_result_ids
        )
        return {kr_id: state_of(s) for kr_id, s in sources.items()}

    # -- allow-list ----------------------------------------------------------------------

    def workspace_of(self, *, key_result_id: int) -> str:
        return self.read(source_store.key_result_workspace, key_result_id=key_result_id)

    def allowed_hosts(self, *, workspace_id: str) -> set[str]:
        return self.read(source_store.allowed_hosts, workspace_id=workspace_id)

    def allow_host(self, *, workspace_id: str, host: str, added_by: str) -> bool:
        host = normalize_host(host)
        if not host or "/" in host or (":" in host.strip("[]").replace("::", "") and "." in host):
            raise Refused("Give a host name only, like metrics.internal (no scheme or path).")
        return self.run(
            source_store.allow_host,
            workspace_id=workspace_id,
            host=host,
            added_by=added_by,
            now=self.clock(),
        )

    def disallow_host(self, *, workspace_id: str, host: str) -> bool:
        return self.run(
            source_store.disallow_host, workspace_id=workspace_id, host=normalize_host(host)
        )

    # -- testing ---------------------------------------------------------------------------

    def test(
        self,
        *,
        workspace_id: str,
        key_result_id: int,
        spec: SourceSpec | None = None,
        user_id: str | None = None,
        is_admin: Callable[[], bool] | None = None,
    ) -> TestResult:
        """Fetch once (the KR's source, or `spec` as typed in the modal) and say what would
        be recorded; records nothing. With a `user_id` (the modal's Test button) the same
        rule as connecting applies first: a member cannot make the bot fetch what they could
        not connect."""
        if spec is not None:
            problem = spec_problem(spec)
            if problem:
                return TestResult(None, reason=problem)
        if user_id is not None:
            host = None if spec is None else normalize_host(httpx.URL(spec.url.strip()).host)
            self._ensure_may_connect(
                workspace_id, user_id, is_admin or not_admin, key_result_id, host
            )
        with session_scope(self.engine, read_only=True) as session:
            kr = objective_store.get_key_result(
                session=session, workspace_id=workspace_id, key_result_id=key_result_id
            )
            if spec is None:
                source = source_store.get_source(
                    session=session, workspace_id=workspace_id, key_result_id=key_result_id
                )
                if source is None:
                    raise NotFound(f"key result {key_result_id} has no data source")
                spec = spec_of(source)
            allowed = source_store.allowed_hosts(session=session, workspace_id=workspace_id)
            current = kr.current_value
        try:
            reading = self._read(spec, allowed)
        except SourceError as error:
            return TestResult(current, reason=error.reason)
        return TestResult(current, reading=reading)

    def _read(self, spec: SourceSpec, allowed: set[str]) -> Reading:
        host = normalize_host(httpx.URL(spec.url.strip()).host) if not spec_problem(spec) else ""
        with self.hosts.slot(host):
            return self.fetcher.read(spec, allowed_hosts=allowed)

    # -- polling ---------------------------------------------------------------------------

    def sync_due(self, *, workspace_id: str | None = None, limit: int = 10_000) -> SyncReport:
        """Pull every source that is due, `concurrency` at a time and at most `per_host` on
        one host; record new values, mark failures, tell owners once per episode. No
        transaction is open while fetching."""
        started = time.monotonic()
        now = self.clock()
        with session_scope(self.engine) as session:
            due = source_store.claim_due_sources(
                session=session, now=now, limit=limit, workspace_id=workspace_id
            )
            work = [(s.id, s.workspace_id, s.key_result_id, spec_of(s)) for s in due]
            allowed = source_store.allowed_hosts_of(
                session=session, workspace_ids=sorted({s.workspace_id for s in due})
            )
        report = SyncReport()
        lock = threading.Lock()

        def pull(item: _Pull) -> None:
            source_id, ws, kr_id, spec = item
            assert source_id is not None
            outcome = self._pull(source_id, ws, kr_id, spec, allowed[ws])
            with lock:
                report.pulled += 1
                if outcome.reason is not None:
                    report.failed += 1
                    report.failures[kr_id] = outcome.reason
                report.recorded += outcome.recorded
                report.unchanged += outcome.reason is None and not outcome.recorded
                report.notified += outcome.notified
                report.recovered += outcome.recovered

        if work:
            with ThreadPoolExecutor(
                max_workers=min(self.concurrency, len(work)), thread_name_prefix="ladder-source"
            ) as pool:
                # Sources on different hosts interleave, so one slow host fills only its own
                # per-host slots and not the whole pool.
                for future in [pool.submit(pull, item) for item in _interleave_hosts(work)]:
                    future.result()
        report.seconds = time.monotonic() - started
        if report.pulled:
            log.info(
                "data sources: %d pulled, %d recorded, %d unchanged, %d failed (%d owners told) "
                "in %.1fs",
                report.pulled,
                report.recorded,
                report.unchanged,
                report.failed,
                report.notified,
                report.seconds,
            )
        return report

    def _pull(
        self, source_id: int, workspace_id: str, kr_id: int, spec: SourceSpec, allowed: set[str]
    ) -> _Outcome:
        try:
            reading = self._read(spec, allowed)
        except SourceError as error:
            return self._failed(source_id, workspace_id, kr_id, spec, error.reason)
        except Exception as error:  # a bug must not stop the other pulls of the round
            log.exception("workspace=%s KR %s: data source pull crashed", workspace_id, kr_id)
            return self._failed(
                source_id, workspace_id, kr_id, spec, f"Ladder failed: {error.__class__.__name__}"
            )
        now = self.clock()
        try:
            with session_scope(self.engine) as session:
                source = source_store.get_source_by_id(session=session, source_id=source_id)
                recovered = source.failing
                kr = objective_store.get_key_result(
                    session=session, workspace_id=workspace_id, key_result_id=kr_id
                )
                check_in = source_store.record_automatic_value(
                    session=session,
                    workspace_id=workspace_id,
                    key_result_id=kr_id,
                    value=reading.value,
                    period_start=period_of(session, kr.workspace_id, kr.owner_id, now),
                    now=now,
                    source=source_store.SYNC_SOURCE,
                )
                source_store.record_pull_success(
                    session=session, source_id=source_id, value=reading.value, now=now
                )
        except (Refused, NotFound) as error:
            return self._failed(source_id, workspace_id, kr_id, spec, str(error))
        if recovered:
            log.info("workspace=%s KR %s: data source works again", workspace_id, kr_id)
        return _Outcome(recorded=check_in is not None, recovered=recovered)

    def _failed(
        self, source_id: int, workspace_id: str, kr_id: int, spec: SourceSpec, reason: str
    ) -> _Outcome:
        host = httpx.URL(spec.url).host if not spec_problem(spec) else spec.url[:60]
        log.warning(
            "workspace=%s KR %s: data source on %s failed: %s", workspace_id, kr_id, host, reason
        )
        with session_scope(self.engine) as session:
            try:
                source = source_store.record_pull_failure(
                    session=session, source_id=source_id, reason=reason, now=self.clock()
                )
            except NotFound:  # disconnected while it was being pulled
                return _Outcome(reason=reason)
            notice = None
            if source.notified_at is None:
                kr = objective_store.get_key_result(
                    session=session, workspace_id=workspace_id, key_result_id=kr_id
                )
                notice = FailureNotice(workspace_id, kr.owner_id, kr_id, kr.title, host, reason)
        notified = False
        if notice is not None and self.notify is not None:
            try:
                notified = self.notify(notice)
            except Exception:
                log.exception("workspace=%s KR %s: failure notice not sent", workspace_id, kr_id)
            if notified:
                self.run(source_store.mark_notified, source_id=source_id, now=self.clock())
        return _Outcome(reason=reason, notified=notified)

    # -- pushes ------------------------------------------------------------------------------

    def new_push_token(
        self, *, workspace_id: str, user_id: str, is_admin: Callable[[], bool], key_result_id: int
    ) -> str:
        """A new token for the KR (its earlier one stops working). Shown once: only its
        hash is kept."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._ensure_may_connect(workspace_id, user_id, is_admin, key_result_id, None)
        self.run(
            source_store.create_push_token,
            workspace_id=workspace_id,
            key_result_id=key_result_id,
            token_hash=hash_token(token),
            hint=token[:8],
            created_by=user_id,
            now=self.clock(),
        )
        log.info(
            "workspace=%s user=%s new push token for KR %s", workspace_id, user_id, key_result_id
        )
        return token

    def revoke_push_token(
        self, *, workspace_id: str, user_id: str, is_admin: Callable[[], bool], key_result_id: int
    ) -> int:
        self._ensure_may_connect(workspace_id, user_id, is_admin, key_result_id, None)
        return self.run(
            source_store.revoke_push_tokens,
            workspace_id=workspace_id,
            key_result_id=key_result_id,
            now=self.clock(),
        )

    def push(self, *, key_result_id: int, token: str, value: float, note: str = "") -> PushResult:
        """Record a pushed value. NotFound for a token that is unknown, revoked or not this
        KR's (the caller answers 401 for all three alike); Refused for a value the check-in
        modal would refuse, nothing stored."""
        now = self.clock()
        with session_scope(self.engine) as session:
            found = source_store.find_push_token(session=session, token_hash=hash_token(token))
            if found is None or found.key_result_id != key_result_id:
                raise NotFound("unknown token")
            kr = objective_store.get_key_result(
                session=session, workspace_id=found.workspace_id, key_result_id=key_result_id
            )
            if kr.archived_at is not None:
                raise Refused("The key result is archived: its value no longer changes.")
            check_in = source_store.record_automatic_value(
                session=session,
                workspace_id=found.workspace_id,
                key_result_id=key_result_id,
                value=value,
                period_start=period_of(session, kr.workspace_id, kr.owner_id, now),
                now=now,
                source=source_store.PUSH_SOURCE,
                note=note,
            )
            assert found.id is not None
            source_store.touch_push_token(session=session, token_id=found.id, now=now)
            workspace_id = found.workspace_id
        log.info(
            "workspace=%s KR %s: pushed value %s",
            workspace_id,
            key_result_id,
            "recorded" if check_in else "unchanged",
        )
        return PushResult(key_result_id, value, recorded=check_in is not None)


@dataclass(frozen=True)
class _Outcome:
    recorded: bool = False
    reason: str | None = None
    notified: bool = False
    recovered: bool = False


def _interleave_hosts(work: list[_Pull]) -> list[_Pull]:
    """Round-robin over hosts: a, b, c, a, b, c… instead of all of a's sources first."""
    by_host: dict[str, list[_Pull]] = defaultdict(list)
    for item in work:
        by_host[item[3].url.split("/")[2] if "//" in item[3].url else ""].append(item)
    return [item for row in zip_longest(*by_host.values()) for item in row if item is not None]
