"""Hostile clients against the production server: `python -m bot serve` (waitress) in its own
process on a loopback port, Slack played by the stand-in.

A Slack app's request URL is public. Whoever finds it can hold connections open with partial
requests (slowloris), trickle bodies, declare or stream huge bodies, send garbage or forged
requests by the hundred, or flood it with large unsigned bodies. Through all of that a
genuine, signed `/okr help` must still be answered within Slack's 3-second ack deadline
(the senders' timeout here: a functional bound, not a benchmark) and get its response_url
post; the server must not crash, leak memory, or write a traceback per request.

Some tests run one web process (WEB_CONCURRENCY=1, everything lands on it), others the
default two (the parent forks workers that share the listening socket). Each test starts its
own server (about 3 s), so all are marked `slow_faults`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.server import BODY_LIMIT
from tests.slack.conftest import ACME, DEV, SECRET
from tests.support.production_server import ProductionServer, production_server
from tests.support.slack_sender import ACK_DEADLINE_SECONDS, SlackSender
from tests.support.slack_standin import SlackStandIn
from tests.support.slow_clients import SlowClients, partial_headers

SLOW_CLIENTS = 200
SIGNED_COMMANDS = 20
DRIP_SECONDS = 0.5
REFUSED_REQUESTS = 200
FLOOD_THREADS, FLOOD_ROUNDS, FLOOD_BODY = 6, 20, 900 * 1024
RSS_GROWTH_LIMIT = 150 * 1024 * 1024
IO_TIMEOUT = 10.0  # a raw socket's bound on any single send or receive


@contextlib.contextmanager
def _serving(standin: SlackStandIn, directory: Path, **settings: str) -> Iterator[ProductionServer]:
    """The production server, up with all its web processes; afterwards it must still be
    running, stop cleanly on SIGTERM, and have logged no traceback."""
    with production_server(standin.api_url, directory, **settings) as server:
        server.wait_serving()
        yield server
        assert server.proc.poll() is None, f"the server died:\n{server.log_text()}"
        assert server.stop() == 0, server.log_text()
        assert "Traceback" not in server.log_text(), server.log_text()


@contextlib.contextmanager
def _acme(server: ProductionServer, standin: SlackStandIn) -> Iterator[SlackSender]:
    """Slack's sender with its 3-second patience, on a new connection per request: every
    command has to get through the server's accept, not ride on a connection it holds."""
    client = httpx.Client(
        timeout=ACK_DEADLINE_SECONDS, limits=httpx.Limits(max_keepalive_connections=0)
    )
    try:
        with SlackSender(server.events_url, SECRET, standin, team_id=ACME, client=client) as sender:
            yield sender
    finally:
        client.close()


def _help_is_answered(acme: SlackSender, standin: SlackStandIn, *, during: str) -> None:
    """A signed `/okr help` is acked 200 within the deadline and gets its response_url post."""
    before = len(standin.calls("response_url"))
    try:
        answer = acme.slash_command("help", user_id=DEV)
    except httpx.TimeoutException as error:
        pytest.fail(f"/okr help not answered within {ACK_DEADLINE_SECONDS}s {during}: {error!r}")
    assert answer.status_code == 200, f"{during}: {answer.status_code} {answer.text[:200]}"
    posted = standin.wait_for("response_url", count=before + 1, timeout=10)
    assert all(call.ok for call in posted), [call.response for call in posted]
    assert standin.responses[-1].url == acme.last_response_url


def _signed_commands(server: ProductionServer, standin: SlackStandIn, *, during: str) -> None:
    with _acme(server, standin) as acme:
        for n in range(SIGNED_COMMANDS):
            _help_is_answered(acme, standin, during=f"{during} (command {n + 1})")
    assert len(standin.responses) >= SIGNED_COMMANDS


def _read_status(sock: socket.socket) -> int | None:
    """The status code of the response on `sock`; None if the server closed or reset it
    before a status line came (a receive that times out fails the test)."""
    data = b""
    while b"\r\n" not in data:
        try:
            chunk = sock.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not chunk:
            return None
        data += chunk
    return int(data.split(b" ", 2)[1])


def _closed_by_server(sock: socket.socket) -> bool:
    """Reads what is left; True once the server closes (timeouts fail the test)."""
    while True:
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True


def _slow_clients(
    server: ProductionServer, opening: bytes, drip: bytes, *, max_rounds: int
) -> SlowClients:
    """SLOW_CLIENTS connections that send `opening`, then `drip` every DRIP_SECONDS (at most
    `max_rounds` times), never finishing their request."""
    return SlowClients(
        server.port,
        SLOW_CLIENTS,
        drip_s=DRIP_SECONDS,
        opening=opening,
        drip=drip,
        max_rounds=max_rounds,
        io_timeout=IO_TIMEOUT,
    )


@pytest.mark.slow_faults
def test_slowloris_connections_do_not_lock_out_slack(standin: SlackStandIn, tmp_path: Path) -> None:
    """200 connections that never finish their headers (one more header line every 0.5 s);
    meanwhile 20 signed commands, each on a new connection, are answered. Two web processes."""
    with _serving(standin, tmp_path) as server:
        opening = partial_headers(server.port, content_type=None)
        with _slow_clients(server, opening, b"X-Slow: 1\r\n", max_rounds=1000) as slow:
            slow.wait_rounds(1)
            _signed_commands(server, standin, during="with 200 slowloris connections open")
            slow.wait_rounds(1)  # they were fed after the last command, too
            open_now = slow.still_open()
            # waitress accepted and holds them: it did not leave them in the kernel's backlog
            held = server.socket_count()
        assert open_now >= 0.9 * SLOW_CLIENTS, f"only {open_now} slow connections still open"
        assert held >= open_now, f"the server holds {held} sockets for {open_now} connections"


@pytest.mark.slow_faults
def test_trickled_bodies_do_not_lock_out_slack(standin: SlackStandIn, tmp_path: Path) -> None:
    """200 connections with complete, plausibly signed headers (Content-Length: 2000) that
    trickle their body 4 bytes every 0.5 s; meanwhile 20 signed commands are answered. One
    web process."""
    with _serving(standin, tmp_path, WEB_CONCURRENCY="1") as server:
        # Signature headers that look right: to check them the app must have the whole body.
        opening = (
            partial_headers(server.port)
            + (
                f"X-Slack-Request-Timestamp: {int(time.time())}\r\n"
                f"X-Slack-Signature: v0={'0' * 64}\r\n"
                "Content-Length: 2000\r\n\r\n"
            ).encode()
        )
        # 400 drips x 4 bytes < 2000: the body never completes
        with _slow_clients(server, opening, b"a=b&", max_rounds=400) as slow:
            slow.wait_rounds(1)
            _signed_commands(server, standin, during="with 200 trickling bodies")
            slow.wait_rounds(1)
            open_now = slow.still_open()
            held = server.socket_count()
        assert open_now >= 0.9 * SLOW_CLIENTS, f"only {open_now} trickling connections still open"
        assert held >= open_now, f"the server holds {held} sockets for {open_now} connections"


@pytest.mark.slow_faults
def test_oversize_bodies_are_refused_without_being_read(
    standin: SlackStandIn, tmp_path: Path
) -> None:
    """A declared 100 MB body and one just over the limit get 413 from the headers alone; a
    chunked body growing past 1 MiB gets 413 or the connection closed; the server is fine."""
    with _serving(standin, tmp_path, WEB_CONCURRENCY="1") as server:
        lines_before = len(server.log_text().splitlines())
        for declared in (100 * 1024 * 1024, BODY_LIMIT + 1):
            with socket.create_connection(("127.0.0.1", server.port), timeout=3.0) as sock:
                sock.sendall(
                    partial_headers(server.port) + f"Content-Length: {declared}\r\n\r\n".encode()
                )
                # 3 s: answered before Slack would give up, without a byte of the body
                assert _read_status(sock) == 413, f"Content-Length {declared}"
                assert _closed_by_server(sock)
        # waitress answered them without the app: one refusal line each, as the app's own
        refused = [
            line
            for line in server.log_text().splitlines()[lines_before:]
            if "event=refused" in line
        ]
        assert len(refused) == 2, refused
        for line, declared in zip(refused, (100 * 1024 * 1024, BODY_LIMIT + 1), strict=True):
            assert "status=413" in line and "reason=body_too_large" in line, line
            assert f"length={declared}" in line and "by=waitress" in line, line

        # A chunked body has no length to refuse up front: it grows 64 KiB at a time to just
        # past the limit, and then the client waits. A server without a limit would wait
        # for the rest of the body and never answer (the read would time out).
        with socket.create_connection(("127.0.0.1", server.port), timeout=3.0) as sock:
            sock.sendall(partial_headers(server.port) + b"Transfer-Encoding: chunked\r\n\r\n")
            piece = 64 * 1024
            status: int | None = None
            try:
                for _ in range(BODY_LIMIT // piece + 1):
                    sock.sendall(b"%x\r\n%s\r\n" % (piece, b"a" * piece))
                status = _read_status(sock)
            except (BrokenPipeError, ConnectionResetError):
                pass  # closed on us while sending: refused too
            assert status in (413, None), f"a chunked body past {BODY_LIMIT} bytes: {status}"
            assert _closed_by_server(sock)

        assert httpx.get(f"{server.base}/healthz", timeout=3.0).status_code == 200
        with _acme(server, standin) as acme:
            _help_is_answered(acme, standin, during="after oversize bodies")


def _sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


FORM = "application/x-www-form-urlencoded"
Forgery = Callable[[str], tuple[bytes, dict[str, str], tuple[int, ...]]]


def _unsigned_form(now: str) -> tuple[bytes, dict[str, str], tuple[int, ...]]:
    return b"payload=not-json", {"Content-Type": FORM, "X-Slack-Request-Timestamp": now}, (401,)


def _unsigned_json_garbage(now: str) -> tuple[bytes, dict[str, str], tuple[int, ...]]:
    body = b'{"type": "event_callback", "event": {"type": ['
    return body, {"Content-Type": "application/json", "X-Slack-Request-Timestamp": now}, (401,)


def _no_timestamp(now: str) -> tuple[bytes, dict[str, str], tuple[int, ...]]:
    body = b"command=%2Fokr&text=help"
    return body, {"Content-Type": FORM, "X-Slack-Signature": _sign(body, now)}, (401,)


def _stale_timestamp(now: str) -> tuple[bytes, dict[str, str], tuple[int, ...]]:
    body, stale = b"command=%2Fokr&text=help", str(int(now) - 10 * 60)
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": stale,
        "X-Slack-Signature": _sign(body, stale),  # right secret, but too old
    }
    return body, headers, (401,)


def _wrong_signature(now: str) -> tuple[bytes, dict[str, str], tuple[int, ...]]:
    body = b"command=%2Fokr&text=help"
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": now,
        "X-Slack-Signature": _sign(body, now, secret="f" * 32),
    }
    return body, headers, (401,)


def _not_utf8(now: str) -> tuple[bytes, dict[str, str], tuple[int, ...]]:
    body = b"payload=\xff\xfe\xc3\x28\x80 not text"
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": now,
        "X-Slack-Signature": _sign(body, now),  # even correctly signed
    }
    return body, headers, (400, 401)


FORGERIES: list[Forgery] = [
    _unsigned_form,
    _unsigned_json_garbage,
    _no_timestamp,
    _stale_timestamp,
    _wrong_signature,
    _not_utf8,
]


@pytest.mark.slow_faults
def test_forged_and_garbage_requests_are_refused_with_one_log_line_each(
    standin: SlackStandIn, tmp_path: Path
) -> None:
    """200 unsigned, forged or undecodable requests: 401 (400 for non-UTF-8), never a 500,
    never a traceback, at most one log line each. One web process."""
    with _serving(standin, tmp_path, WEB_CONCURRENCY="1") as server:
        lines_before = len(server.log_text().splitlines())
        answers: list[tuple[str, int]] = []
        with httpx.Client(timeout=ACK_DEADLINE_SECONDS) as client:
            for n in range(REFUSED_REQUESTS):
                forge = FORGERIES[n % len(FORGERIES)]
                body, headers, expected = forge(str(int(time.time())))
                answer = client.post(server.events_url, content=body, headers=headers)
                answers.append((forge.__name__, answer.status_code))
                assert answer.status_code in expected, (forge.__name__, answer.text[:200])
        assert all(status < 500 for _, status in answers)
        assert len(standin.responses) == 0  # nothing got through to a listener

        log = server.log_text()
        new_lines = log.splitlines()[lines_before:]
        refused = [line for line in new_lines if "refused" in line]
        assert "Traceback" not in log, log
        assert len(refused) <= REFUSED_REQUESTS, "\n".join(refused[:10])
        # one line per refusal, and (almost) nothing else: a few waitress notices at most
        assert len(new_lines) <= REFUSED_REQUESTS + 10, "\n".join(new_lines[-20:])

        with _acme(server, standin) as acme:
            _help_is_answered(acme, standin, during="after 200 forgeries")


@pytest.mark.slow_faults
def test_a_flood_of_large_unsigned_bodies_keeps_memory_bounded(
    standin: SlackStandIn, tmp_path: Path
) -> None:
    """6 threads post a 900 kB unsigned body 20 times each: every one gets 401, the server's
    processes grow by less than 150 MB in all, and a signed command during the flood is
    answered. Two web processes."""
    with _serving(standin, tmp_path) as server:
        with _acme(server, standin) as acme:
            _help_is_answered(acme, standin, during="before the flood")  # everything loaded
        baseline = server.rss_bytes()
        peak = baseline
        statuses: list[int] = []
        errors: list[BaseException] = []
        lock = threading.Lock()
        first_answer, flood_over, stop_sampling = (threading.Event() for _ in range(3))
        body = b"payload=" + b"x" * (FLOOD_BODY - len(b"payload="))
        headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time()))}

        def flood() -> None:
            try:
                with httpx.Client(timeout=IO_TIMEOUT) as client:
                    for _ in range(FLOOD_ROUNDS):
                        answer = client.post(server.events_url, content=body, headers=headers)
                        with lock:
                            statuses.append(answer.status_code)
                        first_answer.set()
            except BaseException as error:
                with lock:
                    errors.append(error)
                first_answer.set()

        def sample() -> None:
            nonlocal peak
            while not stop_sampling.wait(0.05):  # a measurement's pace, not a synchronization
                peak = max(peak, server.rss_bytes())

        sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
        flooders = [
            threading.Thread(target=flood, name=f"flood-{n}", daemon=True)
            for n in range(FLOOD_THREADS)
        ]
        sampler.start()
        for thread in flooders:
            thread.start()
        try:
            assert first_answer.wait(IO_TIMEOUT), "no answer to the flood"
            with _acme(server, standin) as acme:
                _help_is_answered(acme, standin, during="during a flood of 900 kB bodies")
            with lock:
                during = len(statuses) < FLOOD_THREADS * FLOOD_ROUNDS
        finally:
            for thread in flooders:
                thread.join(timeout=60)
            flood_over.set()
            stop_sampling.set()
            sampler.join(timeout=IO_TIMEOUT)
        assert not any(thread.is_alive() for thread in flooders), "a flood thread hangs"
        assert errors == [], errors
        assert during, "the flood was over before the signed command was answered"
        assert statuses == [401] * (FLOOD_THREADS * FLOOD_ROUNDS), sorted(set(statuses))
        after = server.rss_bytes()
        growth = max(peak, after) - baseline
        assert growth < RSS_GROWTH_LIMIT, (
            f"the server's processes grew by {growth / 2**20:.0f} MiB "
            f"(from {baseline / 2**20:.0f} MiB; peak {peak / 2**20:.0f}, after {after / 2**20:.0f})"
        )
        assert len(server.pids()) == 3, server.pids()  # the parent and its two web workers
