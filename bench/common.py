"""What every benchmark shares: the machine, percentiles, results files, server processes.

A server under test is `python -m bot serve` (or the bare Bolt app, bench/bare_app.py) in a
subprocess: with WEB_CONCURRENCY=1 that one process serves; with N > 1 it is a parent that
forks N web processes sharing its listening socket and only supervises them
(bot/server.py). `Server` knows which processes serve, waits until each has started waitress,
and stops the whole tree."""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bot.blocks.loading import LOADING_CALLBACK
from tests.support.production_server import free_port as free_port
from tests.support.production_server import server_env as _server_env
from tests.support.slack_standin import SlackStandIn

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SECRET = "0123456789abcdef0123456789abcdef"  # a signing secret in Slack's format
BOT_TOKEN = "xoxb-bench"
START_TIMEOUT = 60.0


# ----------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    """nproc, CPU model, RAM, Python: printed next to every figure."""
    cpu = "unknown"
    with _ignore_missing():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gb: float | None = None
    with _ignore_missing():
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": ram_gb,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def machine_line(info: Mapping[str, Any]) -> str:
    return (
        f"{info['nproc']} CPUs ({info['cpu']}), {info['ram_gb']} GB RAM, Python {info['python']}, "
        f"{info['os']}; load average at start {info['load_avg_at_start']}"
    )


class _ignore_missing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, OSError)


# ----------------------------------------------------------------------------- numbers


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100): a value that was actually measured."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(-(-p * len(ordered) // 100)))  # ceil(p/100 * n)
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """n, p50/p95/p99/max and mean in milliseconds."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "n": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p95_ms": ms(percentile(seconds, 95)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds) if seconds else None),
        "mean_ms": ms(statistics.fmean(seconds) if seconds else None),
    }


def fmt(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
    else:
        text = f"{value:,}"
    return text + unit


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


# ----------------------------------------------------------------------------- results


def write_results(
    name: str, data: Mapping[str, Any], markdown: str, *, out: Path | None = None
) -> tuple[Path, Path]:
    """bench/results/<name>.json and .md (or under `out`, e.g. for smoke runs)."""
    folder = out or RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    stamped = {"benchmark": name, "at": datetime.now(UTC).isoformat(timespec="seconds"), **data}
    json_path, md_path = folder / f"{name}.json", folder / f"{name}.md"
    json_path.write_text(json.dumps(stamped, indent=2, default=str) + "\n")
    md_path.write_text(markdown.rstrip() + "\n")
    return json_path, md_path


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- stand-in


class WatchedStandIn(SlackStandIn):
    """The tests' Slack stand-in, plus a wait for one request's follow-up.

    `wait_for` scans every recorded call on each wake-up; with 50 clients waiting that costs
    the benchmark process (and so the machine) more than the app under test. Here each
    answered response_url or views.open sets a key (`response:<url>`, `trigger:<id>`), and a
    waiter checks only its own key. Timings still come from the stand-in's records. A modal
    opened as "Loading…" sets its trigger's key when the views.update that fills it is
    answered (`filled_at` keeps that time): the follow-up is the form the person can use.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._done: set[str] = set()
        self._done_cond = threading.Condition()
        # A modal opened as "Loading…" (bot/blocks/loading.py) is answered when the views.update
        # of that view puts the form in: view id -> its trigger's key, and key -> that time.
        self._loading: dict[str, str] = {}
        self.filled_at: dict[str, float] = {}

    def _handle_http(  # type: ignore[override]
        self,
        path: str,
        query: str,
        content_type: str | None,
        headers: Mapping[str, str],
        raw: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        answer: tuple[int, Any, dict[str, str]] | None = None
        try:
            answer = super()._handle_http(path, query, content_type, headers, raw)
            return answer
        finally:
            key = None
            if path.startswith("/response/"):
                key = f"response:{self.base_url}{path}"
            elif path == "/api/views.open":
                key = f"trigger:{_trigger_of(content_type, raw)}"
                view = _view_of(answer)
                if view is not None and view.get("callback_id") == LOADING_CALLBACK:
                    self._loading[view["id"]] = key
                    key = None  # answered once the form replaces it
            elif path == "/api/views.update":
                view = _view_of(answer)
                key = self._loading.pop(view["id"], None) if view is not None else None
                if key is not None:
                    self.filled_at[key] = time.monotonic()
            if key is not None:
                with self._done_cond:
                    self._done.add(key)
                    self._done_cond.notify_all()

    def wait_key(self, key: str, *, timeout: float) -> bool:
        """True once `key` was answered (within `timeout` seconds)."""
        with self._done_cond:
            return self._done_cond.wait_for(lambda: key in self._done, timeout=timeout)

    def forget_keys(self) -> None:
        with self._done_cond:
            self._done.clear()
            self._loading.clear()
            self.filled_at.clear()


def _view_of(answer: tuple[int, Any, dict[str, str]] | None) -> dict[str, Any] | None:
    """The view in a successful views.open/update answer."""
    if answer is None or not isinstance(answer[1], dict) or not answer[1].get("ok"):
        return None
    view = answer[1].get("view")
    return view if isinstance(view, dict) else None


def _trigger_of(content_type: str | None, raw: bytes) -> str | None:
    from urllib.parse import parse_qsl

    text = raw.decode(errors="replace")
    try:
        if (content_type or "").startswith("application/json"):
            return json.loads(text).get("trigger_id")
        return dict(parse_qsl(text)).get("trigger_id")
    except ValueError:
        return None


# ----------------------------------------------------------------------------- processes


def server_env(**settings: str) -> dict[str, str]:
    """Our environment minus Ladder/Slack settings, plus `settings` (DATABASE_URL among them
    for Ladder), logging at WARNING unless `settings` say otherwise."""
    # a log line per request would be part of what we measure
    return _server_env(None, **{"LOG_LEVEL": "WARNING", **settings})


@dataclass
class Server:
    """A server subprocess (`python -m bot serve` or the bare Bolt app) on a loopback port."""

    proc: subprocess.Popen[bytes]
    base: str
    log: Path
    started_at: float  # time.perf_counter() just before the process was spawned
    processes: int  # WEB_CONCURRENCY: 1 = the process serves; N > 1 = a parent + N workers

    @property
    def events_url(self) -> str:
        return f"{self.base}/slack/events"

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> float:
        """Seconds from spawn until /healthz answers 200 (polled every 10 ms). With several
        web processes that is the first one up; `wait_serving` waits for all of them."""
        deadline = time.perf_counter() + timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                try:
                    if client.get(f"{self.base}/healthz").status_code == 200:
                        return time.perf_counter() - self.started_at
                except httpx.TransportError:
                    pass
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"no healthy answer in {timeout}s:\n{self.output()}")
                self._check_running(0.01)  # the poll interval doubles as a check it is alive

    def wait_serving(self, timeout: float = START_TIMEOUT) -> float:
        """Healthy, and every web process is inside waitress; seconds from spawn.

        The benchmarks log at WARNING (a line per request would be measured too), so waitress's
        start is seen in /proc instead: it starts its REQUEST_THREADS request threads when the
        server is created, just before it serves, and a web process has no other threads
        before its first request."""
        from bot.server import REQUEST_THREADS

        self.wait_healthy(timeout)
        deadline = time.perf_counter() + timeout
        while True:
            web = self.web_pids()
            if len(web) == self.processes and all(
                (threads_of(pid) or 0) > REQUEST_THREADS for pid in web
            ):
                return time.perf_counter() - self.started_at
            if time.perf_counter() > deadline:
                raise RuntimeError(
                    f"{self.processes} web process(es) not serving in {timeout}s "
                    f"(found {web}):\n{self.output()}"
                )
            self._check_running(0.01)

    def pids(self) -> list[int]:
        """The server's process tree: the parent first, then its web workers."""
        return process_tree(self.proc.pid)

    def web_pids(self) -> list[int]:
        """The processes that serve requests: the only one, or the parent's children."""
        pids = self.pids()
        return pids if self.processes == 1 else pids[1:]

    def _check_running(self, poll: float) -> None:
        try:
            self.proc.wait(timeout=poll)
        except subprocess.TimeoutExpired:
            return
        raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM to the parent, as a platform stops it: it stops its workers (SIGTERM, then
        waits for them) and exits. A worker still there afterwards (the parent was killed, or
        ended first) is killed by its pid, if that pid is still the same process."""
        tree = [(pid, started_at(pid)) for pid in self.pids()[1:]]
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for pid, started in tree:
            if started is not None and started_at(pid) == started:
                with _ignore_missing():
                    os.kill(pid, signal.SIGKILL)


def start_server(
    module: str,
    *,
    env: Mapping[str, str],
    cwd: Path,
    args: Sequence[str] = (),
) -> Server:
    """`python -m <module> <args>` with `env` (PORT, WEB_CONCURRENCY: default Ladder's)."""
    from bot.config import WEB_CONCURRENCY_DEFAULT

    port = int(env["PORT"])
    processes = int(env.get("WEB_CONCURRENCY") or WEB_CONCURRENCY_DEFAULT)
    log = cwd / f"{module.replace('.', '_')}-{port}.log"
    handle = log.open("wb")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=dict(env),
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    handle.close()  # the child holds its own descriptor
    return Server(proc, f"http://127.0.0.1:{port}", log, started, processes)


# ----------------------------------------------------------------------------- memory


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, parents before children (Linux /proc: the children of
    every thread, since a process may fork from any of its threads)."""
    found = [pid]
    for parent in found:
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with _ignore_missing():  # the thread or process ended meanwhile
                found.extend(int(c) for c in children.read_text().split() if int(c) not in found)
    return found


def started_at(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): with
    the pid it names one process, even after the pid is reused. None if it is gone."""
    with _ignore_missing():
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    return None


def threads_of(pid: int) -> int | None:
    with _ignore_missing():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far (/proc/<pid>/stat)."""
    with _ignore_missing():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


def socket_count(pids: Sequence[int]) -> int:
    """Open sockets across `pids` (/proc/<pid>/fd): listening ones and connections."""
    total = 0
    for pid in pids:
        with _ignore_missing():
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with _ignore_missing():
                    total += os.readlink(fd).startswith("socket:")
    return total


def memory_of(pid: int) -> dict[str, float | None]:
    """Peak RSS (VmHWM), current RSS and PSS in MB for one process (Linux /proc)."""
    out: dict[str, float | None] = {"peak_rss_mb": None, "rss_mb": None, "pss_mb": None}
    with _ignore_missing():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out["peak_rss_mb"] = round(int(line.split()[1]) / 1024, 1)
            elif line.startswith("VmRSS:"):
                out["rss_mb"] = round(int(line.split()[1]) / 1024, 1)
    with _ignore_missing():
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["pss_mb"] = round(int(line.split()[1]) / 1024, 1)
    return out
