"""Render the screens of docs/screens/checkins.md (a fresh objective's confirmation, the
check-in modal, the company digest, the grades post) as Block Kit JSON, from one scenario, with
whichever version of Ladder is first on sys.path (so the same script renders before and after):

    PYTHONPATH=<a checkout> .venv/bin/python docs/screens/checkins/make_screens.py OUTDIR
    /work/shared/tools/blockkit-preview OUTDIR/*.json --out OUTDIR/png

Not part of the bot or its tests."""

import inspect
import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlmodel import Session, select

from bot.blocks.admin import build_cycle_grades
from bot.blocks.dialogs import build_checkin_modal
from bot.blocks.tree import build_objective_confirmation
from bot.okr.kinds import KRKind, UnitKind
from bot.okr.validate import KRSpec
from bot.services.admin import CycleClosed
from bot.services.digests import DigestService
from storage.checkins import record_check_in
from storage.cycles import close_cycle, create_cycle
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import KeyResult
from storage.objectives import create_objective
from storage.tree import load_tree
from storage.workspaces import ensure_workspace, update_workspace

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
db = out / "screens.db"
db.unlink(missing_ok=True)
engine = make_engine(f"sqlite:///{db}")
upgrade(engine)
WS = "T0ACME"
NAMES = {
    "U0ANA": "Ana",
    "U0BOB": "Bob",
    "U0CAT": "Cat",
    "U0DAN": "Dan",
    "U0EVE": "Eve",
    "U0FAY": "Fay",
}


def at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


LAUNCH_KRS = [
    "Sign up 1,000 beta teams",
    "Reach 40% weekly retention",
    "Ship search across channels",
    "Get NPS to 45",
    "Migrate 10 design partners",
    "Run 5 launch webinars",
]
CYCLE_START = date(2026, 10, 1)
LAST, THIS = date(2026, 11, 23), date(2026, 11, 30)
FRIDAY = date(2026, 12, 4)
with Session(engine, expire_on_commit=False) as s:
    ensure_workspace(session=s, workspace_id=WS, name="Acme")
    update_workspace(
        session=s,
        workspace_id=WS,
        default_timezone="UTC",
        digest_weekday=4,
        checkin_time=time(10, 0),
        digest_channel="C0ALL",
        mission="Make team chat effortless",
    )
    cycle = create_cycle(
        session=s,
        workspace_id=WS,
        name="Q4 2026",
        start_date=CYCLE_START,
        end_date=date(2026, 12, 31),
    )
    # Ten objectives; Ana's "Launch" has six KRs. Some move, most do not.
    plans = [
        (
            "U0ANA",
            "Launch the new chat platform",
            6,
            [(10, 30), (20, 40), (5, 25), (40, 55), (0, 10), (30, 30)],
        ),
        ("U0BOB", "Cut p95 latency in half", 2, [(50, 42), (30, 30)]),
        ("U0CAT", "Grow weekly active teams", 2, [(20, 20), (35, 35)]),
        ("U0DAN", "Make onboarding self-serve", 2, [(10, 10), (0, 0)]),
        ("U0EVE", "Hire the platform team", 2, [(50, 50), (25, 25)]),
        ("U0FAY", "Win back churned accounts", 2, [(15, 15), (5, 5)]),
        ("U0BOB", "Answer every ticket within a day", 2, [(60, 60), (40, 40)]),
        ("U0CAT", "Publish the public API", 2, [(30, 30), (20, 20)]),
    ]
    ids = {}
    for owner, title, n, values in plans:
        titles = (
            LAUNCH_KRS[:n]
            if title.startswith("Launch")
            else [f"{title}: key result {i + 1}" for i in range(n)]
        )
        o = create_objective(
            session=s,
            workspace_id=WS,
            cycle_id=cycle.id,
            owner_id=owner,
            title=title,
            now=at(CYCLE_START),
            key_results=[KRSpec(t, KRKind.INCREASE, 100, start_value=0) for t in titles],
        )
        ids[title] = (o, owner, values)
    s.commit()
    for o, owner, values in ids.values():
        krs = s.exec(
            select(KeyResult).where(KeyResult.objective_id == o.id).order_by(KeyResult.position)
        ).all()
        for kr, (before, now) in zip(krs, values, strict=True):
            record_check_in(
                session=s,
                workspace_id=WS,
                key_result_id=kr.id,
                author_id=owner,
                value=before,
                period_start=LAST,
                now=at(LAST + timedelta(days=1)),
            )
            if owner in ("U0ANA", "U0BOB", "U0DAN"):  # the others have not checked in this week
                record_check_in(
                    session=s,
                    workspace_id=WS,
                    key_result_id=kr.id,
                    author_id=owner,
                    value=now,
                    period_start=THIS,
                    now=at(THIS + timedelta(days=1)),
                    blocker="Waiting on security review of the SSO integration"
                    if owner == "U0ANA"
                    else "",
                )
    # A fresh objective written on Dec 3, nobody has checked in yet.
    fresh = create_objective(
        session=s,
        workspace_id=WS,
        cycle_id=cycle.id,
        owner_id="U0FAY",
        title="Launch the partner marketplace",
        now=at(date(2026, 12, 3)),
        key_results=[
            KRSpec("List 20 partner apps", KRKind.INCREASE, 20, start_value=0),
            KRSpec(
                "Reach $50k partner revenue",
                KRKind.INCREASE,
                50_000,
                start_value=0,
                unit=UnitKind.CURRENCY,
                unit_label="USD",
            ),
        ],
    )
    s.commit()

now = at(date(2026, 12, 3), 16)
with Session(engine, expire_on_commit=False) as s:
    tree = load_tree(session=s, workspace_id=WS, today=now.date())
    o = tree.objective(fresh.id)
    conf = build_objective_confirmation(tree=tree, objective=o, now=now, created=True)
    (out / "confirmation.json").write_text(json.dumps(conf, ensure_ascii=False))
    launch = ids["Launch the new chat platform"][0]
    krs = [(kr, tree.objective(kr.objective_id)) for kr in tree.krs_of(launch.id)]
    modal = build_checkin_modal(krs=krs[:3], origin={"channel_id": "D1"})
    (out / "checkin_modal.json").write_text(json.dumps(modal, ensure_ascii=False))

service = DigestService(engine, clock=lambda: at(FRIDAY, 12))
kwargs = dict(workspace_id=WS, channel_id="C0ALL", period=THIS)
if "names" in inspect.signature(service.render).parameters:
    kwargs["names"] = lambda _ws, ids: {u: NAMES[u] for u in ids if u in NAMES}
digest = service.render(**kwargs)
(out / "digest.json").write_text(json.dumps(digest, ensure_ascii=False))

with Session(engine, expire_on_commit=False) as s:
    close_cycle(session=s, workspace_id=WS, cycle_id=cycle.id, now=at(date(2027, 1, 2)))
    s.commit()
    graded = load_tree(session=s, workspace_id=WS, today=date(2027, 1, 2), cycle_ids=[cycle.id])
    grades = build_cycle_grades(CycleClosed(cycle, graded))
    (out / "grades.json").write_text(json.dumps(grades, ensure_ascii=False))
engine.dispose()
db.unlink()
print("ok", sorted(p.name for p in out.iterdir()))
