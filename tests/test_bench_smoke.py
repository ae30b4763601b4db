"""The benchmarks' --quick modes, so bench/ cannot rot: each runs end to end on tiny sizes
and writes its results files (into a temporary folder, never over bench/results)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import ack_latency, fanout, footprint, status_scaling


def _results(folder: Path, name: str) -> dict:
    assert (folder / f"{name}.md").read_text().startswith("# ")
    return json.loads((folder / f"{name}.json").read_text())


def test_status_scaling_quick_counts_a_constant_number_of_statements(tmp_path: Path) -> None:
    assert status_scaling.main(["--quick", "--out", str(tmp_path)]) == 0
    data = _results(tmp_path, "status_scaling")
    counts = {r["all"]["statements"] for r in data["results"].values()}
    assert len(counts) == 1 and counts.pop() > 0
    assert data["results"]["100"]["all"]["shown_objectives"] == 100
    assert data["machine"]["nproc"] >= 1


def test_fanout_quick_reaches_everyone_exactly_once(tmp_path: Path) -> None:
    assert fanout.main(["--quick", "--out", str(tmp_path)]) == 0
    run = _results(tmp_path, "fanout")["results"]["20"]
    sender = run["sender"]
    assert (sender["delivered"], sender["duplicates"], sender["misses"]) == (20, 0, 0)
    assert sender["message_problems"] == [] and sender["standin_violations"] == 0
    assert run["naive"]["delivered"] == run["naive"]["sample_users"] > 0


def test_ack_latency_quick_measures_ladder_and_the_bare_app(tmp_path: Path) -> None:
    assert ack_latency.main(["--quick", "--out", str(tmp_path)]) == 0
    results = _results(tmp_path, "ack_latency")["results"]
    assert results["bare"]["1"]["ack"]["n"] > 0
    assert results["bare_at_ack"]["1"]["ack"]["n"] > 0
    cell = results["ladder"]["10"]["by_concurrency"]["3"]
    assert cell["all"]["failures"] == {}, cell["all"]["failures"]
    assert cell["violations"] == []
    for kind in ack_latency.KINDS:
        assert cell["by_kind"][kind]["follow_up"]["n"] > 0


def test_footprint_quick_reads_memory_of_master_and_worker(tmp_path: Path) -> None:
    assert footprint.main(["--quick", "--out", str(tmp_path)]) == 0
    results = _results(tmp_path, "footprint")["results"]
    assert results["processes"] == 2  # gunicorn: master and one worker
    assert all(m["peak_rss_mb"] for m in results["memory"].values())
    assert results["starts"][0]["first_ack_s"] >= results["starts"][0]["healthz_s"] > 0
    assert results["starts"][0]["served"] == {"status_team": 3, "status_all": 3, "home": 3}
