"""`python -m bot sources …`: test a KR's source once (nothing recorded), sync, allow-list."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import CheckIn, KeyResult
from storage.sources import save_source
from tests.factories import reference_company
from tests.support.source_server import SourceServer, json_answer
from tests.test_cli_transfer import ladder

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_sources_commands(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ladder.db'}")
    upgrade(engine)
    with SourceServer() as server, Session(engine, expire_on_commit=False) as session:
        server.route("/users.json", json_answer({"data": {"active": 0.25}}))
        company = reference_company(session, now=NOW)
        kr_id = session.exec(select(KeyResult.id).order_by(col(KeyResult.id))).first()
        assert kr_id is not None
        save_source(
            session=session,
            workspace_id=company.workspace_id,
            key_result_id=kr_id,
            kind="json",
            url=server.url("/users.json"),
            expression="data.active",
            multiplier=1000,
            created_by="U0CEO",
            now=NOW,
        )
        session.commit()
        engine.dispose()

        refused = ladder(tmp_path, "ladder.db", "sources", "test", str(kr_id))
        assert refused.returncode == 1
        assert "private address" in refused.stdout and server.hits("/users.json") == 0

        allowed = ladder(
            tmp_path, "ladder.db", "sources", "allow", "127.0.0.1", "--workspace", "T0REF"
        )
        assert allowed.returncode == 0 and "allowed" in allowed.stdout
        tested = ladder(tmp_path, "ladder.db", "sources", "test", str(kr_id))
        assert tested.returncode == 0, tested.stderr
        assert f"KR {kr_id}: would record 250 (read 0.25, scaled); now none" in tested.stdout
        with Session(engine) as session:
            assert session.exec(select(CheckIn)).all() == []  # a test records nothing

        synced = ladder(tmp_path, "ladder.db", "sources", "sync")
        assert synced.returncode == 0 and "1 pulled, 1 recorded" in synced.stdout
        with Session(engine) as session:
            assert session.get_one(KeyResult, kr_id).current_value == 250

        missing = ladder(tmp_path, "ladder.db", "sources", "test", "9999")
        assert missing.returncode == 1 and "key result 9999 not found" in missing.stderr
    engine.dispose()
