"""The benchmarks' --quick modes, so bench/ cannot rot: each runs end to end on tiny sizes
and writes its results files (into a temporary folder, never over bench/results)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import (
    ack_latency,
    fanout,
    footprint,
    modal_build,
    scale_plans,
    status_floor,
    status_scaling,
)


def _results(folder: Path, name: str) -> dict:
    assert (folder / f"{name}.md").read_text().startswith("# ")
    return json.loads((folder / f"{name}.json").read_text())


def test_status_scaling_quick_counts_a_constant_number_of_statements(tmp_path: Path) -> None:
    assert status_scaling.main(["--quick", "--out", str(tmp_path)]) == 0
    data = _results(tmp_path, "status_scaling")
    counts = {r["all"]["statements"] for r in data["results"].values()}
    assert len(counts) == 1 and counts.pop() > 0
    # `/okr status all` loads the objectives a message has room for, not all 100.
    assert data["results"]["100"]["all"]["shown_objectives"] == 50
    assert data["machine"]["nproc"] >= 1


def test_status_floor_quick_compares_the_message_with_its_floor(tmp_path: Path) -> None:
    assert status_floor.main(["--quick", "--out", str(tmp_path)]) == 0
    data = _results(tmp_path, "status_floor")
    results = data["results"]
    # the service's 1 + load_shown_tree's six + the one line of alignment health (one
    # statement of counts, storage/alignment.py)
    assert {r["statements"] for r in results.values()} == {8}
    assert all(r["floor_cpu_ms"] > 0 and r["rss"]["peak_rss_mb"] > 0 for r in results.values())
    assert {c["target"].split(" ")[0] for c in data["checks"]} >= {"message", "statements"}


def test_modal_build_quick_times_every_modal_opener(tmp_path: Path) -> None:
    assert modal_build.main(["--quick", "--out", str(tmp_path)]) == 0
    results = _results(tmp_path, "modal_build")["results"]
    assert {"/okr new", "Edit (objective)", "Check in (objective)", "Align"} <= set(results)
    assert all(r["median_ms"] > 0 and r["view_bytes"] > 0 for r in results.values())


def test_fanout_quick_reaches_everyone_exactly_once(tmp_path: Path) -> None:
    assert fanout.main(["--quick", "--out", str(tmp_path)]) == 0
    run = _results(tmp_path, "fanout")["results"]["20"]
    sender = run["sender"]
    assert (sender["delivered"], sender["duplicates"], sender["misses"]) == (20, 0, 0)
    assert sender["message_problems"] == [] and sender["standin_violations"] == 0
    assert run["naive"]["delivered"] == run["naive"]["sample_users"] > 0


def test_ack_latency_quick_measures_ladder_the_baselines_and_slow_clients(
    tmp_path: Path,
) -> None:
    assert ack_latency.main(["--quick", "--out", str(tmp_path)]) == 0
    results = _results(tmp_path, "ack_latency")["results"]
    # Only a baseline whose server is not installed (the `bench` extra: uvicorn, aiohttp,
    # gunicorn) may be left out, and the results say so.
    skipped = results["skipped_baselines"]
    assert all(ack_latency.missing(ack_latency.BASELINES[name]) for name in skipped), skipped
    measured = [name for name in ack_latency.BASELINES if name not in skipped]
    assert {"bare", "bare_at_ack"} <= set(measured)
    assert set(results["baselines"]) == set(measured)
    for name in ack_latency.BARES:  # the ack comparison: waitress's two, uvicorn's one
        if name in measured:
            assert results[name]["1"]["ack"]["n"] > 0, name
            assert results[name]["3"]["ack"]["n"] > 0, name
            # a bare app opens `/okr new`'s modal too, so `new` compares like for like
            new = results[name]["3"]["by_kind"]["new"]
            assert new["follow_up"]["n"] > 0 and new["failures"] == {}, (name, new)
    for wc in ("wc1", "wc2"):  # one web process, and Ladder's default two
        cell = results["ladder"][wc]["10"]["by_concurrency"]["3"]
        assert cell["all"]["failures"] == {}, cell["all"]["failures"]
        assert cell["violations"] == []
        for kind in ack_latency.KINDS:
            assert cell["by_kind"][kind]["follow_up"]["n"] > 0
    slow = results["slow_clients"]
    assert set(slow) == {*measured, "ladder_wc1", "ladder_wc2"}
    for name, cell in slow.items():
        held = cell["slow"]
        # every slowloris connection was held open throughout, and accepted by the server
        # (which holds a listening socket per web process besides)
        assert held["still_open_at_end"] == held["connections"] == 200, (name, held)
        assert held["server_sockets"] >= held["connections"] + cell["web_concurrency"], held
        if name == "gthread":
            # the server Ladder left: the slow clients hold all its threads, and no command
            # is acked within Slack's 3 s
            assert cell["ack_timeout_s"] == 3.0
            assert cell["all"]["ack"]["n"] == 0, cell["all"]
            failures = cell["all"]["failures"]
            assert sum(failures.values()) == cell["requests"], failures
            assert all(why.startswith("no ack") for why in failures), failures
        else:
            assert cell["all"]["ack"]["n"] > 0 and cell["all"]["failures"] == {}, (name, cell)


def test_footprint_quick_reads_memory_of_the_parent_and_its_workers(tmp_path: Path) -> None:
    assert footprint.main(["--quick", "--out", str(tmp_path)]) == 0
    results = _results(tmp_path, "footprint")["results"]
    # WEB_CONCURRENCY's default of 2: the parent and the two web processes it forks
    assert results["web_concurrency"] == 2
    assert results["processes"] == 3
    assert sorted(name.split()[0] for name in results["memory"]) == ["parent", "worker", "worker"]
    assert all(m["peak_rss_mb"] for m in results["memory"].values())
    assert results["starts"][0]["first_ack_s"] >= results["starts"][0]["healthz_s"] > 0
    assert results["starts"][0]["served"] == {"status_team": 3, "status_all": 3, "home": 3}


def test_sources_quick_pulls_every_kr_within_the_limits(tmp_path: Path) -> None:
    from bench import sources

    assert sources.main(["--quick", "--out", str(tmp_path)]) == 0
    data = _results(tmp_path, "sources")
    assert all(data["checks"].values()), data["checks"]
    for layout in data["results"].values():
        assert [r["recorded"] for r in layout["rounds"]] == [50, 50]


def test_charts_quick_times_every_picture(tmp_path: Path) -> None:
    from bench import charts

    assert charts.main(["--quick", "--out", str(tmp_path)]) == 0
    results = _results(tmp_path, "charts")["results"]
    assert {"baseline_empty_png", "kr@4w", "objective@4w", "team@4w"} <= set(results)
    assert all(r["cpu_ms_median"] > 0 for r in results.values())
    assert results["kr@4w"]["png_bytes"] > 0


def test_scale_plans_quick_plans_shares_the_pace_and_starts_without_alembic(
    tmp_path: Path,
) -> None:
    args = ["--quick", "--no-postgres", "--baseline", "", "--out", str(tmp_path)]
    assert scale_plans.main(args) == 0
    data = _results(tmp_path, "scale_plans")
    [plan] = data["plans"]
    assert plan["first"]["planned"] == plan["people"] and plan["replan"]["planned"] == 0
    for row in data["fanout"]:  # senders pacing alone may hit 429 and leave some for later
        if row["pace"] == "shared":
            assert (row["429s"], row["duplicates"], row["misses"]) == (0, 0, 0), row
    now = next(r for r in data["cold_start"] if r["how"] == "now")
    assert now["alembic_loaded"] is False
    [checkins] = data["checkins"]
    assert checkins["checkins"] > 0 and checkins["error_share"] == 0
