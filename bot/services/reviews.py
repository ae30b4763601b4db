"""Review at the end of a cycle: reflections asked of each objective owner, saved from their
modal, shown with the grades; unfinished KRs carried into the next cycle.

Closing a cycle plans one outbox row per owner of a graded objective (kind `reflect:<cycle
id>`, period = the cycle's start), so the DMs go out through the sender: paced, once each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session

from bot.okr.grading import unfinished
from bot.okr.limits import NOTE_MAX
from bot.okr.validate import clean_text
from bot.services import Service
from bot.services.permissions import PermissionDenied
from storage import cycles as cycle_store
from storage import outbox
from storage import reflections as reflection_store
from storage.db import session_scope
from storage.errors import NotFound, Refused
from storage.models import Cycle, KeyResult, Objective, Reflection
from storage.objectives import get_key_result, get_objective
from storage.tree import KeyResultRow, LoadedTree, load_tree

REFLECT = "reflect"
# Objectives in one reflection modal: 7 blocks each (heading, KR grades, three answers, the
# carry-over checkboxes, a divider) and 3 on top stay under Slack's 100 blocks per view.
MODAL_MAX_OBJECTIVES = 12
CARRY_MAX_OPTIONS = 10  # Slack's checkboxes take at most 10 options


def reflect_kind(cycle_id: int) -> str:
    return f"{REFLECT}:{cycle_id}"


def cycle_of_kind(kind: str) -> int | None:
    """The cycle a `reflect:<id>` outbox row asks about (None for any other kind)."""
    prefix, _, raw = kind.partition(":")
    return int(raw) if prefix == REFLECT and raw.isdigit() else None


def plan_reflection_requests(
    *, session: Session, workspace_id: str, cycle: Cycle, now: datetime
) -> int:
    """One DM per owner of a graded objective of the (just closed) cycle; idempotent."""
    owners = sorted(
        {
            o.owner_id
            for o in reflection_store.graded_objectives(
                session=session,
                workspace_id=workspace_id,
                cycle_id=cycle.id,
            )
        }
    )
    kind = reflect_kind(cycle.id)
    outbox.plan_messages(
        session=session,
        workspace_id=workspace_id,
        planned=[outbox.PlannedMessage(o, cycle.start_date, kind, now) for o in owners],
    )
    return len(owners)


@dataclass(frozen=True)
class ObjectiveReview:
    objective: Objective
    key_results: list[KeyResultRow]
    reflection: Reflection | None
    carried: dict[int, list[str]]  # KR id -> names of the cycles it was carried into

    @property
    def unfinished(self) -> list[KeyResultRow]:
        return [kr for kr in self.key_results if unfinished(kr.grade)]


@dataclass(frozen=True)
class ReflectionForm:
    """What one person's reflection modal (or the DM asking for it) shows."""

    cycle: Cycle
    objectives: list[ObjectiveReview]  # at most MODAL_MAX_OBJECTIVES, unanswered first
    more: int  # graded objectives of theirs left for another round
    targets: list[Cycle]  # open cycles to carry KRs into, soonest first


@dataclass(frozen=True)
class ReflectionAnswer:
    objective_id: int
    worked: str = ""
    did_not_work: str = ""
    carry_over: str = ""
    carry_key_result_ids: Sequence[int] = ()


@dataclass(frozen=True)
class ReflectionsSaved:
    saved: int
    carried: list[tuple[KeyResult, Cycle]] = field(default_factory=list)
    cycle_name: str = ""
    cycle_id: int = 0


@dataclass(frozen=True)
class CycleGrades:
    cycle: Cycle
    graded: LoadedTree
    reflections: dict[int, Reflection]
    carried: dict[int, list[str]]  # KR id -> cycle names


class ReviewService(Service):
    # -- asking ------------------------------------------------------------------------

    def form(self, *, workspace_id: str, user_id: str, cycle_id: int) -> ReflectionForm:
        """The person's graded objectives of the cycle (reflections not yet written first)."""
        with session_scope(self.engine, read_only=True) as session:
            cycle = cycle_store.get_cycle(
                session=session, workspace_id=workspace_id, cycle_id=cycle_id
            )
            mine = reflection_store.graded_objectives(
                session=session, workspace_id=workspace_id, cycle_id=cycle_id, owner_id=user_id
            )
            reviews = self._reviews(session, workspace_id, mine)
            reviews.sort(key=lambda r: r.reflection is not None)  # stable: unanswered first
            targets = reflection_store.open_cycles_after(
                session=session, workspace_id=workspace_id, cycle=cycle
            )
        shown = reviews[:MODAL_MAX_OBJECTIVES]
        return ReflectionForm(cycle, shown, len(reviews) - len(shown), targets)

    def _reviews(
        self, session: Session, workspace_id: str, objectives: Sequence[Objective]
    ) -> list[ObjectiveReview]:
        tree = load_tree(
            session=session,
            workspace_id=workspace_id,
            today=self.clock().date(),
            cycle_ids=sorted({o.cycle_id for o in objectives}) or [-1],
        )
        krs = {o.id: tree.krs_of(o.id) for o in objectives}
        reflections = reflection_store.list_reflections(
            session=session, workspace_id=workspace_id, objective_ids=list(krs)
        )
        carried = self._carried(session, workspace_id, [kr for ks in krs.values() for kr in ks])
        return [ObjectiveReview(o, krs[o.id], reflections.get(o.id), carried) for o in objectives]

    def _carried(
        self, session: Session, workspace_id: str, krs: Sequence[KeyResultRow]
    ) -> dict[int, list[str]]:
        copies = reflection_store.carried_from(
            session=session,
            workspace_id=workspace_id,
            key_result_ids=[kr.id for kr in krs],
        )
        if not copies:
            return {}
        names = {
            c.id: c.name
            for c in cycle_store.list_cycles(session=session, workspace_id=workspace_id)
        }
        return {
            source: [names.get(cycle_id, "?") for _kr, cycle_id in carried]
            for source, carried in copies.items()
        }

    def request(self, *, workspace_id: str, user_id: str, kind: str) -> ReflectionForm | None:
        """What a planned `reflect:<id>` DM shows; None when there is nothing to ask any more
        (the objectives were archived or handed to someone else since)."""
        cycle_id = cycle_of_kind(kind)
        if cycle_id is None:
            return None
        try:
            form = self.form(workspace_id=workspace_id, user_id=user_id, cycle_id=cycle_id)
        except NotFound:
            return None
        return form if form.objectives else None

    # -- answering ---------------------------------------------------------------------

    def save(
        self,
        *,
        workspace_id: str,
        user_id: str,
        cycle_id: int,
        answers: Sequence[ReflectionAnswer],
        into_cycle_id: int | None,
        is_admin: Callable[[], bool],
    ) -> ReflectionsSaved:
        """Store the reflections and carry the ticked KRs, all or nothing.

        Only an objective's owner (or a workspace admin) may write its reflection: the
        objective ids come from the submitted form, so each is checked against storage and
        a single one that is not theirs refuses the whole submission.
        """
        now = self.clock()
        problems = {
            a.objective_id: f"Keep each answer under {NOTE_MAX} characters."
            for a in answers
            if any(len(clean_text(t)) > NOTE_MAX for t in (a.worked, a.did_not_work, a.carry_over))
        }
        if problems:
            raise Refused(next(iter(problems.values())))
        with session_scope(self.engine) as session:
            cycle = cycle_store.get_cycle(
                session=session, workspace_id=workspace_id, cycle_id=cycle_id
            )
            objectives: dict[int, Objective] = {}
            for answer in answers:
                objective = get_objective(
                    session=session, workspace_id=workspace_id, objective_id=answer.objective_id
                )
                if objective.cycle_id != cycle.id:
                    raise Refused("This form is out of date: open it again from the message.")
                if objective.owner_id != user_id and not is_admin():
                    raise PermissionDenied(
                        "Only an objective's owner or a workspace admin can write its reflection."
                    )
                objectives[objective.id] = objective
            saved = 0
            for answer in answers:
                if not any(
                    t.strip() for t in (answer.worked, answer.did_not_work, answer.carry_over)
                ):
                    continue  # nothing written for this one: left for later
                reflection_store.save_reflection(
                    session=session,
                    workspace_id=workspace_id,
                    objective_id=answer.objective_id,
                    author_id=user_id,
                    worked=answer.worked,
                    did_not_work=answer.did_not_work,
                    carry_over=answer.carry_over,
                    now=now,
                )
                saved += 1
            carried = self._carry(
                session, workspace_id, cycle, objectives, answers, into_cycle_id, now
            )
        return ReflectionsSaved(saved, carried, cycle.name, cycle.id)

    def _carry(
        self,
        session: Session,
        workspace_id: str,
        cycle: Cycle,
        objectives: Mapping[int, Objective],
        answers: Sequence[ReflectionAnswer],
        into_cycle_id: int | None,
        now: datetime,
    ) -> list[tuple[KeyResult, Cycle]]:
        ticked = [(a.objective_id, kr_id) for a in answers for kr_id in a.carry_key_result_ids]
        if not ticked:
            return []
        targets = reflection_store.open_cycles_after(
            session=session, workspace_id=workspace_id, cycle=cycle
        )
        if into_cycle_id is None and len(targets) == 1:
            into_cycle_id = targets[0].id
        if into_cycle_id is None:
            raise Refused(
                "Choose the cycle to carry key results into."
                if targets
                else "There is no open cycle to carry key results into: create one with "
                "`/okr cycle new <name>`, then carry them over."
            )
        if into_cycle_id not in {t.id for t in targets}:
            raise Refused("Carry key results into an open cycle that ends after this one.")
        target = next(t for t in targets if t.id == into_cycle_id)
        carried = []
        for objective_id, kr_id in ticked:
            kr = get_key_result(session=session, workspace_id=workspace_id, key_result_id=kr_id)
            if kr.objective_id != objective_id:
                raise Refused("This form is out of date: open it again from the message.")
            copy = reflection_store.carry_over(
                session=session,
                workspace_id=workspace_id,
                key_result=kr,
                objective=objectives[objective_id],
                into_cycle_id=into_cycle_id,
                now=now,
            )
            carried.append((copy, target))
        return carried

    # -- showing -----------------------------------------------------------------------

    def grades(self, *, workspace_id: str, cycle_name: str, today: date) -> CycleGrades:
        """A closed cycle's grades with the owners' reflections and where KRs were carried."""
        with session_scope(self.engine, read_only=True) as session:
            cycle = cycle_store.find_cycle(
                session=session, workspace_id=workspace_id, name=cycle_name
            )
            if cycle is None:
                raise Refused(f"No cycle called “{clean_text(cycle_name, single_line=True)}”.")
            if cycle.is_open:
                raise Refused(
                    f"{cycle.name} is still open: grades come when it closes "
                    f"(`/okr cycle close {cycle.name}`)."
                )
            graded = load_tree(
                session=session,
                workspace_id=workspace_id,
                today=today,
                cycle_ids=[cycle.id],
            )
            reflections = reflection_store.list_reflections(
                session=session,
                workspace_id=workspace_id,
                objective_ids=[o.id for o in graded.objectives],
            )
            carried = self._carried(session, workspace_id, graded.key_results)
        return CycleGrades(cycle, graded, reflections, carried)
