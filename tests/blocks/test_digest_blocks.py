"""The channel digest builder: pure, within Slack's limits, escaping, mentions only on demand."""

from __future__ import annotations

import json
from datetime import date

from bot.blocks.digest import build_team_digest, movers_first, progress_change
from bot.okr.kinds import Status
from bot.services.digests import BlockerNote, ObjectiveChange, StatusTurn, TeamDigest
from tests.support.blockkit import validate_message

HOSTILE = "<!channel> <@U123> <https://evil|click> & co"
PERIOD = date(2026, 2, 16)


def mrkdwn_texts(message: dict) -> str:
    texts = [message["text"]]
    for block in message["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts.extend(e["text"] for e in block["elements"])
    return "\n".join(texts)


def sample(**changes: object) -> TeamDigest:
    base = {
        "scope": "Platform",
        "period": PERIOD,
        "objectives": [
            ObjectiveChange("Launch platform", 0.22, 0.31),
            ObjectiveChange("Ship the API", 0.5, 0.47, depth=1),
            ObjectiveChange("New this week", None, 0.1),
        ],
        "turned": [
            StatusTurn("Engagement", "Launch platform", "U0CEO", Status.ON_TRACK, Status.AT_RISK)
        ],
        "blockers": [BlockerNote("U0DEV", "Waiting on legal", "Engagement")],
        "missing": ["U0DEV", "U0EVE", "U0ZED"],
    }
    return TeamDigest(**{**base, **changes})  # type: ignore[arg-type]


def test_progress_change_in_points_of_the_shown_percentages() -> None:
    assert progress_change(0.22, 0.31) == "22% → 31% (+9)"
    assert progress_change(0.5, 0.47) == "50% → 47% (-3)"
    assert progress_change(0.224, 0.219) == "22% → 22% (±0)"
    assert progress_change(None, 0.1) == "10% (new)"
    assert progress_change(0.1, None) == "—"


def test_digest_without_mentions_or_names_counts_people() -> None:
    message = build_team_digest(sample())
    assert validate_message(message) == []
    text = mrkdwn_texts(message)
    assert "⚪ *Launch platform* 22% → 31% (+9)" in text
    assert "⚪ *Ship the API* 50% → 47% (-3)" in text
    assert "*New this week* 10% (new)" in text
    assert "*Engagement* is now at risk (was on track)" in text
    assert "• someone: “Waiting on legal” (on *Engagement*)" in text
    assert "3 people haven't checked in yet.*" in text
    assert "<@" not in text
    assert message["text"].startswith("OKR digest for Platform: 3 objectives")


def test_digest_with_mentions_pings_owners_and_authors() -> None:
    text = mrkdwn_texts(build_team_digest(sample(mentions=True)))
    assert "<@U0DEV>, <@U0EVE>, <@U0ZED>" in text
    assert "(was on track) · _Launch platform_ · <@U0CEO>" in text
    assert "• <@U0DEV>: “Waiting on legal” (on *Engagement*)" in text


def test_everyone_checked_in_and_singular() -> None:
    assert "Everyone has checked in" in mrkdwn_texts(build_team_digest(sample(missing=[])))
    assert "1 person hasn't checked in yet" in mrkdwn_texts(
        build_team_digest(sample(missing=["U0DEV"]))
    )


def test_user_text_is_escaped_everywhere() -> None:
    message = build_team_digest(
        sample(
            scope=HOSTILE,
            objectives=[ObjectiveChange(HOSTILE, 0.1, 0.2)],
            turned=[StatusTurn(HOSTILE, HOSTILE, "U0CEO", Status.AT_RISK, Status.OFF_TRACK)],
            blockers=[BlockerNote("U0DEV", HOSTILE, HOSTILE)],
            mentions=False,
        )
    )
    assert validate_message(message) == []
    text = mrkdwn_texts(message)
    for raw in ("<!channel>", "<@U123>", "<https://evil|click>"):
        assert raw not in text
    assert "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|click&gt; &amp; co" in text


def test_huge_digest_stays_within_slack_limits() -> None:
    long = "x" * 150
    message = build_team_digest(
        sample(
            scope="T" * 80,
            objectives=[ObjectiveChange(f"{long} {i}", 0.1, 0.2, depth=i % 3) for i in range(500)],
            turned=[
                StatusTurn(long, long, "U0CEO", Status.ON_TRACK, Status.OFF_TRACK)
                for _ in range(300)
            ],
            blockers=[BlockerNote("U0DEV", "<b>" * 333, long) for _ in range(300)],
            missing=[f"U0{i:08d}" for i in range(400)],
            mentions=True,
        )
    )
    assert validate_message(message) == []
    assert len(message["blocks"]) <= 50
    for block in message["blocks"]:
        for text in [block.get("text", {}).get("text", "")] + [
            e.get("text", "") for e in block.get("elements", [])
        ]:
            assert len(text) <= 3000
    text = mrkdwn_texts(message)
    assert "…and 460 more objectives" in text
    assert "…and 280 more key results" in text and "…and 280 more blockers" in text
    assert "and 300 more" in text  # mentions beyond the first 100
    assert "<b>" not in json.dumps(message)


NAMES = {"U0CEO": "Cleo", "U0DEV": "dev", "U0EVE": "Eve <admin>"}


def test_names_who_has_not_checked_in_without_pinging() -> None:
    text = mrkdwn_texts(build_team_digest(sample(names=NAMES)))
    # Sorted as people read them, escaped; one without a known name is counted.
    assert "3 people haven't checked in yet:* dev, Eve &lt;admin&gt; and 1 more" in text
    assert "• dev: “Waiting on legal” (on *Engagement*)" in text
    assert "(was on track) · _Launch platform_ · Cleo" in text
    assert "<@" not in text


def test_movers_first_and_flat_lines_folded_into_one_count() -> None:
    changes = [
        ObjectiveChange("Flat A", 0.5, 0.501, status=Status.ON_TRACK),
        ObjectiveChange("Small gain", 0.2, 0.23, status=Status.AT_RISK),
        ObjectiveChange("Flat B", 0.1, 0.1, status=Status.OFF_TRACK),
        ObjectiveChange("New one", None, 0.0, status=Status.NOT_STARTED),
        ObjectiveChange("Big drop", 0.6, 0.4, depth=1, status=Status.OFF_TRACK),
        ObjectiveChange("Flat C", 0.0, 0.0, status=Status.NOT_STARTED),
    ]
    assert [c.title for c in movers_first(changes)] == ["Big drop", "Small gain", "New one"]
    message = build_team_digest(sample(objectives=changes))
    assert validate_message(message) == []
    [progress] = [
        b["text"]["text"]
        for b in message["blocks"]
        if "Progress" in b.get("text", {}).get("text", "")
    ]
    assert progress.splitlines() == [
        "*📈 Progress*",
        "🔴 *Big drop* 60% → 40% (-20)",
        "🟡 *Small gain* 20% → 23% (+3)",
        "⚪ *New one* 0% (new)",
        "➖ 3 objectives did not move · 🔴 1 🟢 1 ⚪ 1",
    ]
    assert "±0" not in mrkdwn_texts(message)


def test_a_blocker_typed_once_for_a_check_in_is_shown_once() -> None:
    from types import SimpleNamespace

    from bot.services.digests import blocker_notes

    rows = [
        SimpleNamespace(author_id="U0DEV", key_result_id=i, blocker="Waiting on legal")
        for i in range(1, 7)
    ] + [
        SimpleNamespace(author_id="U0EVE", key_result_id=7, blocker="No staging"),
        SimpleNamespace(author_id="U0EVE", key_result_id=8, blocker=" "),
    ]
    titles = {i: f"KR {i}" for i in range(1, 9)}
    notes = blocker_notes(rows, titles)  # type: ignore[arg-type]
    assert notes == [
        BlockerNote("U0DEV", "Waiting on legal", None),  # six KRs, one blocker, no KR named
        BlockerNote("U0EVE", "No staging", "KR 7"),  # typed with one KR: named on it
    ]
    text = mrkdwn_texts(build_team_digest(sample(blockers=notes, names=NAMES)))
    assert text.count("Waiting on legal") == 1
    assert "• dev: “Waiting on legal”\n" in text


def test_objectives_with_no_recent_data_are_counted_with_their_reason_only_when_there() -> None:
    quiet = [
        ObjectiveChange("Quiet", 0.3, 0.3, status=Status.NO_RECENT_DATA),
        ObjectiveChange("Flat", 0.1, 0.1, status=Status.AT_RISK),
    ]
    text = mrkdwn_texts(build_team_digest(sample(objectives=quiet)))
    assert "➖ 2 objectives did not move · 🟡 1 💤 1 with no check-in for two periods" in text
    fresh = [ObjectiveChange("Flat", 0.1, 0.1, status=Status.AT_RISK)]
    text = mrkdwn_texts(build_team_digest(sample(objectives=fresh)))
    assert "💤" not in text and "two periods" not in text


def test_the_notification_line_leaves_out_zero_counts() -> None:
    assert build_team_digest(sample())["text"] == (
        "OKR digest for Platform: 3 objectives, 1 key result slipped, 1 blocker, "
        "3 not checked in yet"
    )
    quiet = build_team_digest(sample(turned=[], blockers=[], missing=[]))
    assert quiet["text"] == "OKR digest for Platform: 3 objectives"
    only_missing = build_team_digest(sample(turned=[], blockers=[], missing=["U0DEV"]))
    assert only_missing["text"] == "OKR digest for Platform: 3 objectives, 1 not checked in yet"
    assert " 0 " not in mrkdwn_texts(quiet)
