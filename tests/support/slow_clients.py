"""Slowloris clients: connections to a server on 127.0.0.1 that each send the start of a
request and then a little more every so often, never finishing it.

Usage::

    with SlowClients(server.port, 200, drip_s=0.5) as slow:
        slow.wait_rounds(1)  # every connection accepted and fed once
        ...  # what must still work meanwhile
        slow.wait_rounds(1)
        assert slow.still_open() >= 180

Used by the hostile-client tests (tests/faults/test_hostile_clients.py) and the ack latency
benchmark (bench/ack_latency.py). Loopback only, by construction: the address is always
127.0.0.1.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable

FORM = "application/x-www-form-urlencoded"
MAX_CONNECTIONS = 1000  # the most one SlowClients opens
MAX_SECONDS = 1800.0  # the pacing thread stops by itself after this long at most
IO_TIMEOUT = 10.0  # a slow client's bound on connecting or on any single send

Drip = Callable[[int, int], bytes]  # (round, connection) -> what that connection sends


def partial_headers(
    port: int, path: str = "/slack/events", *, content_type: str | None = FORM
) -> bytes:
    """A POST's request line and headers, without the blank line that would end them."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode()


def header_line(round_: int, n: int) -> bytes:
    """One more header line, a new name each round."""
    return f"X-Slow-{round_}: {n}\r\n".encode()


class SlowClients:
    """`count` connections to 127.0.0.1:`port` that each send `opening` (by default a
    partial POST to `path`) and then `drip` every `drip_s` seconds, never finishing their
    request. `drip` is bytes, or a function of (round, connection) that returns them (by
    default `header_line`: one more header line, never the blank line that ends them).

    One pacing thread feeds them all, spread evenly over each interval. Bounded: at most
    MAX_CONNECTIONS connections, none reopened; the thread stops when the block is left,
    after `max_rounds` rounds (if given) or after `max_s` seconds, whichever comes first,
    and every connection is closed on leaving. A connection the server closes counts as
    dropped. A wait that is not met raises RuntimeError."""

    def __init__(
        self,
        port: int,
        count: int,
        *,
        drip_s: float,
        path: str = "/slack/events",
        opening: bytes | None = None,
        drip: bytes | Drip = header_line,
        max_rounds: int | None = None,
        max_s: float = MAX_SECONDS,
        io_timeout: float = IO_TIMEOUT,
    ) -> None:
        if not 0 < count <= MAX_CONNECTIONS:
            raise ValueError(f"slow clients: 1 to {MAX_CONNECTIONS}, not {count}")
        self.address = ("127.0.0.1", port)
        self.count, self.drip_s, self.max_s = count, drip_s, max_s
        self.max_rounds, self.io_timeout = max_rounds, io_timeout
        self.opening = partial_headers(port, path) if opening is None else opening
        if callable(drip):
            self._drip: Drip = drip
        else:
            same: bytes = drip
            self._drip = lambda _round, _n: same
        self.sockets: list[socket.socket] = []
        self.dropped: set[int] = set()
        self.rounds = 0  # complete rounds: every open connection got one more drip
        self.lines = 0  # drips sent
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pace, name="slow-clients", daemon=True)

    def __enter__(self) -> SlowClients:
        try:
            for _ in range(self.count):
                sock = socket.create_connection(self.address, timeout=self.io_timeout)
                self.sockets.append(sock)
                sock.sendall(self.opening)
        except BaseException:
            self._close()
            raise
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.io_timeout + 1)
        self._close()

    def _close(self) -> None:
        for sock in self.sockets:
            sock.close()

    def _pace(self) -> None:
        deadline = time.monotonic() + self.max_s
        gap = self.drip_s / len(self.sockets)
        round_ = 0
        while time.monotonic() < deadline and (self.max_rounds is None or round_ < self.max_rounds):
            round_ += 1
            for n, sock in enumerate(self.sockets):
                # The wait paces the trickle; nothing waits on its timing for a result.
                if self._stop.wait(gap):
                    return
                if n in self.dropped:
                    continue
                try:
                    sock.sendall(self._drip(round_, n))
                except OSError:
                    self.dropped.add(n)
                else:
                    self.lines += 1
            with self._cond:
                self.rounds = round_
                self._cond.notify_all()

    def wait_rounds(self, rounds: int = 1) -> None:
        """Until every connection has been fed `rounds` more times."""
        with self._cond:
            target = self.rounds + rounds
            fed = self._cond.wait_for(
                lambda: self.rounds >= target, timeout=rounds * self.drip_s + self.io_timeout
            )
        if not fed:
            raise RuntimeError(f"the slow clients were fed {self.rounds} rounds, not {target}")

    def still_open(self) -> int:
        """Connections the server neither closed nor answered: nothing to read, no error."""
        poller = select.poll()
        for n, sock in enumerate(self.sockets):
            if n not in self.dropped:
                poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
        stirred = {fd for fd, _ in poller.poll(0)}
        return sum(
            1
            for n, sock in enumerate(self.sockets)
            if n not in self.dropped and sock.fileno() not in stirred
        )
