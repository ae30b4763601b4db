"""`/okr export` over signed HTTP: the CSV lands in the caller's DM through files upload v2."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from bot.services.transfer import Format, import_text
from storage.checkins import record_check_in
from storage.models import KeyResult
from storage.sources import save_source
from tests.factories import reference_company
from tests.services.test_transfer import canonical, read_document
from tests.slack.conftest import ACME, CEO, DEV, Ladder
from tests.support.slack_standin import dm_channel_id


def _company(ladder: Ladder) -> None:
    with Session(ladder.engine, expire_on_commit=False) as session:
        ref = reference_company(session, workspace_id=ACME)
        kr = session.exec(
            select(KeyResult).where(KeyResult.objective_id == ref.platform.id)
        ).first()
        assert kr is not None
        record_check_in(
            session=session,
            workspace_id=ACME,
            key_result_id=kr.id,
            author_id=CEO,
            value=12_000,
            confidence=8,
            note="Launch week <3 & a =formula",
            period_start=ladder.clock().date(),
            now=ladder.clock(),
        )
        session.commit()


def test_a_member_gets_the_csv_in_their_dm_and_it_imports_back(ladder: Ladder) -> None:
    _company(ladder)
    standin = ladder.standin

    answer = ladder.acme.slash_command("export", user_id=DEV)  # a member, not an admin
    assert answer.status_code == 200 and answer.text == ""  # acknowledged at once

    standin.wait_for("response_url")
    [done] = standin.wait_for("files.completeUploadExternal")
    assert [c.method for c in standin.calls() if c.method.startswith(("files.", "upload"))] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    [uploaded] = standin.files.values()
    assert uploaded.completed and uploaded.team_id == ACME
    assert uploaded.channel_id == dm_channel_id(DEV)  # the caller's DM, nobody else's
    assert uploaded.filename == "ladder-okrs-2026-02-16.csv"
    assert "2 objectives, 5 key results, 1 check-ins" in (uploaded.initial_comment or "")
    assert done.ok

    reply = standin.responses[-1]
    assert reply.response_type is None  # ephemeral: only the caller sees it
    assert reply.text == (
        "Sent `ladder-okrs-2026-02-16.csv` to your DM: 2 objectives, 5 key results, 1 check-ins."
    )

    # The file is the workspace: read back and imported elsewhere, it is the same tree.
    text = (uploaded.content or b"").decode("utf-8")
    document = read_document(text, Format.CSV)
    assert document.workspace.id == ACME
    assert document.check_ins[0].note == "Launch week <3 & a =formula"
    import_text(ladder.engine, text, fmt=Format.CSV, now=datetime.now(UTC), workspace_id="T0COPY")
    assert canonical(ladder.engine, "T0COPY") == canonical(ladder.engine, ACME)


def test_nothing_to_export_is_said_plainly(ladder: Ladder) -> None:
    ladder.acme.slash_command("export", user_id=CEO)
    ladder.standin.wait_for("response_url")
    assert ladder.standin.responses[-1].text == (
        "Nothing to export yet: `/okr new` drafts an objective."
    )
    assert ladder.standin.calls("files.getUploadURLExternal") == []


def test_a_failed_upload_is_told_to_the_caller(ladder: Ladder) -> None:
    _company(ladder)
    ladder.standin.fail_next("files.completeUploadExternal", error="not_allowed_token_type")

    ladder.acme.slash_command("export", user_id=DEV)
    ladder.standin.wait_for("response_url")

    reply = ladder.standin.responses[-1]
    assert reply.response_type is None
    assert reply.text == (
        "I could not send the file to your DM (not_allowed_token_type). Try again soon."
    )
    assert not any(f.completed for f in ladder.standin.files.values())


def test_export_is_in_the_help(ladder: Ladder) -> None:
    ladder.acme.slash_command("help", user_id=DEV)
    ladder.standin.wait_for("response_url")
    help_text = str(ladder.standin.responses[-1].blocks)
    assert "/okr export" in help_text and "any member may" in help_text


def test_a_member_s_export_leaves_the_data_sources_out(ladder: Ladder) -> None:
    _company(ladder)
    with Session(ladder.engine) as session:
        kr = session.exec(select(KeyResult).where(KeyResult.workspace_id == ACME)).first()
        assert kr is not None
        save_source(
            session=session,
            workspace_id=ACME,
            key_result_id=kr.id,  # type: ignore[arg-type]
            kind="json",
            url="https://metrics.internal/users?api_key=k3y",
            expression="data.count",
            created_by=CEO,
            now=ladder.clock(),
        )
        session.commit()

    ladder.acme.slash_command("export", user_id=DEV)
    ladder.standin.wait_for("files.completeUploadExternal")
    [uploaded] = ladder.standin.files.values()
    text = (uploaded.content or b"").decode("utf-8")
    assert "metrics.internal" not in text and "k3y" not in text
    assert "key_result," in text and not any(
        line.startswith("source,") for line in text.splitlines()
    )
    document = read_document(text, Format.CSV)
    assert document.key_results and document.sources == []
