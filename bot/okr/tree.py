"""Roll-up of a whole objective tree: KR health, objective progress and status.

An objective's progress is the weighted mean of its KRs' clamped progress. With
`include_children` (a workspace option, off by default to avoid double counting) each aligned
child objective also counts as one item, weighted by its own weight. The tree is evaluated
from the leaves up, each node once, so the cost is linear in the size of the tree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Generic, Protocol, TypeVar

from bot.okr.kinds import KRKind, Status
from bot.okr.pace import (
    DEFAULT_RULES,
    StatusRules,
    expected_progress,
    is_stale,
    objective_status,
    pace_start,
    stale_anchor,
    status_of,
)
from bot.okr.progress import Measurable, clamp01, raw_progress, weighted_mean

ID = TypeVar("ID", bound=Hashable)  # ids of objectives and KRs: storage's are int
ID_co = TypeVar("ID_co", bound=Hashable, covariant=True)


class KRNode(Measurable, Protocol[ID_co]):
    @property
    def id(self) -> ID_co: ...
    @property
    def objective_id(self) -> ID_co: ...
    @property
    def weight(self) -> float: ...
    @property
    def confidence(self) -> int | None: ...
    @property
    def due_date(self) -> date | None: ...
    @property
    def created_at(self) -> datetime | None: ...  # None: as old as its cycle
    @property
    def last_checkin_at(self) -> datetime | None: ...  # None: not started


class ObjectiveNode(Protocol[ID_co]):
    @property
    def id(self) -> ID_co: ...
    @property
    def parent_id(self) -> ID_co | None: ...
    @property
    def cycle_id(self) -> Hashable: ...
    @property
    def weight(self) -> float: ...
    @property
    def created_at(self) -> datetime | None: ...  # None: as old as its cycle


@dataclass(frozen=True)
class Window:
    start: date
    end: date


@dataclass(frozen=True)
class KRHealth:
    progress: float  # clamped 0..1, used for roll-up
    raw_progress: float | None  # unclamped, for display (1.25 -> "125%")
    expected: float  # where linear pace says it should be by today
    status: Status
    # The status by pace alone when `status` is NO_RECENT_DATA (what it counts as in its
    # objective's roll-up, bot/okr/pace.py rule 5; NOT_STARTED for a KR never checked in);
    # None otherwise: the same as `status`.
    pace: Status | None = None


@dataclass(frozen=True)
class ObjectiveHealth:
    progress: float | None  # None when there is nothing to measure (no KRs, no counted children)
    expected: float
    status: Status | None
    pace: Status | None = None  # as KRHealth.pace


@dataclass(frozen=True)
class TreeHealth(Generic[ID]):
    objectives: Mapping[ID, ObjectiveHealth]
    krs: Mapping[ID, KRHealth]
    children: Mapping[ID | None, list[ID]]  # parent id -> child ids, in input order
    roots: list[ID]  # objectives whose parent is absent from the input


def evaluate_kr(
    kr: KRNode[Hashable], *, window: Window, today: date, rules: StatusRules = DEFAULT_RULES
) -> KRHealth:
    """One KR's health; the rule is in bot/okr/pace.py's docstring."""
    end = kr.due_date if kr.due_date is not None and kr.due_date > window.start else window.end
    raw = raw_progress(kr)  # once: a status of 10,000 objectives evaluates 50,000 KRs
    start = pace_start(cycle_start=window.start, created=kr.created_at)
    expected = expected_progress(start=start, end=end, today=today)
    status = status_of(
        KRKind(kr.kind),
        raw=raw,
        expected=expected,
        confidence=kr.confidence,
        started=kr.last_checkin_at is not None,
        rules=rules,
    )
    anchor = stale_anchor(
        last_check_in=kr.last_checkin_at, created=kr.created_at, cycle_start=window.start
    )
    stale = is_stale(anchor, today=today, rules=rules)
    return KRHealth(
        progress=0.0 if raw is None else clamp01(raw),
        raw_progress=raw,
        expected=expected,
        status=Status.NO_RECENT_DATA if stale else status,
        pace=status if stale else None,
    )


def evaluate_tree(
    objectives: Iterable[ObjectiveNode[ID]],
    krs: Iterable[KRNode[ID]],
    *,
    windows: Mapping[Hashable, Window],
    today: date,
    include_children: bool = False,
    rules: StatusRules = DEFAULT_RULES,
) -> TreeHealth[ID]:
    """Evaluate every objective and KR given. `windows` maps cycle id -> its dates.

    Parents outside the given objectives are treated as absent (the node becomes a root),
    so a team's subtree can be evaluated on its own.
    """
    objectives = list(objectives)
    by_id = {o.id: o for o in objectives}
    children: dict[ID | None, list[ID]] = defaultdict(list)
    roots: list[ID] = []
    for o in objectives:
        if o.parent_id is not None and o.parent_id in by_id:
            children[o.parent_id].append(o.id)
        else:
            roots.append(o.id)

    kr_health: dict[ID, KRHealth] = {}
    krs_of: dict[ID, list[KRNode[ID]]] = defaultdict(list)
    for kr in krs:
        if kr.objective_id not in by_id:
            continue
        window = windows[by_id[kr.objective_id].cycle_id]
        kr_health[kr.id] = evaluate_kr(kr, window=window, today=today, rules=rules)
        krs_of[kr.objective_id].append(kr)

    health: dict[ID, ObjectiveHealth] = {}

    def objective_health(oid: ID) -> ObjectiveHealth:
        items = [(kr_health[kr.id].progress, kr.weight) for kr in krs_of[oid]]
        rated: list[KRHealth | ObjectiveHealth] = [kr_health[kr.id] for kr in krs_of[oid]]
        if include_children:
            for child in children[oid]:
                child_health = health[child]
                if child_health.progress is not None:
                    # A child counts as one item carrying its own objective weight.
                    items.append((child_health.progress, by_id[child].weight))
                if child_health.status is not None:
                    rated.append(child_health)
        # NOT_STARTED ranks lowest: started KRs speak first; stale ones by their pace (rule 5).
        status, pace = objective_status(
            [(h.status, h.pace or h.status) for h in rated if h.status is not None]
        )
        window = windows[by_id[oid].cycle_id]
        return ObjectiveHealth(
            progress=weighted_mean(items),
            expected=expected_progress(
                start=pace_start(cycle_start=window.start, created=by_id[oid].created_at),
                end=window.end,
                today=today,
            ),
            status=status,
            pace=pace if status is Status.NO_RECENT_DATA else None,
        )

    # Iterative post-order walk: deep alignment chains must not hit the recursion limit.
    for root in roots:
        stack: list[tuple[ID, bool]] = [(root, False)]
        while stack:
            oid, expanded = stack.pop()
            if expanded:
                health[oid] = objective_health(oid)
                continue
            stack.append((oid, True))
            stack.extend((c, False) for c in children[oid])
    if len(health) != len(by_id):
        # Only a parent cycle leaves nodes unreachable from a root; storage refuses those.
        raise ValueError("the objective tree contains an alignment cycle")
    return TreeHealth(objectives=health, krs=kr_health, children=dict(children), roots=roots)
