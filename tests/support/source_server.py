"""A loopback HTTP server playing data sources (JSON APIs, Prometheus, CSV exports) and
their failure modes. Each route is a function of the request count; every request is
recorded, so tests can assert what Ladder fetched and what it never asked for."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the answer
    stream_bytes: int = 0  # > 0: send this many bytes, chunked, instead of `body`
    declare_length: bool = False  # with stream_bytes: send Content-Length up front


def json_answer(data: Any, **options: Any) -> Answer:
    return Answer(
        body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}, **options
    )


def prometheus_answer(value: str, *, samples: int = 1) -> Answer:
    result = [
        {"metric": {"job": f"api{i}"}, "value": [1767225600.0, value]} for i in range(samples)
    ]
    return json_answer({"status": "success", "data": {"resultType": "vector", "result": result}})


def csv_answer(text: str) -> Answer:
    return Answer(body=text.encode(), headers={"Content-Type": "text/csv; charset=utf-8"})


Route = Callable[[int], Answer]  # the n-th request (1-based) to this path -> its answer


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class SourceServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.sent_bytes: dict[str, int] = {}  # streamed routes: how much actually left
        self.stream_done: dict[str, threading.Event] = {}  # set when a streamed answer ends
        self._lock = threading.Lock()
        # A slow answer waits on this, not in time.sleep: closing the server cuts it short.
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.requests.append(Request(self.path, dict(self.headers.items())))
                    count = sum(1 for r in server.requests if r.path.split("?", 1)[0] == path)
                route = server.routes.get(path)
                answer = route(count) if route else Answer(404, b"not found")
                if answer.delay:
                    server._closing.wait(answer.delay)  # the source's latency
                try:
                    if answer.stream_bytes:
                        self._stream(path, answer)
                    else:
                        self.send_response(answer.status)
                        for name, value in answer.headers.items():
                            self.send_header(name, value)
                        self.send_header("Content-Length", str(len(answer.body)))
                        self.end_headers()
                        self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _stream(self, path: str, answer: Answer) -> None:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                if answer.declare_length:
                    self.send_header("Content-Length", str(answer.stream_bytes))
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"1" * 65536
                sent = 0
                try:
                    while sent < answer.stream_bytes:
                        part = chunk[: answer.stream_bytes - sent]
                        if answer.declare_length:
                            self.wfile.write(part)
                        else:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        sent += len(part)
                        with server._lock:
                            server.sent_bytes[path] = sent
                    if not answer.declare_length:
                        self.wfile.write(b"0\r\n\r\n")
                finally:
                    self.close_connection = True
                    server.stream_done.setdefault(path, threading.Event()).set()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, answer: Answer | Route) -> None:
        self.routes[path] = answer if callable(answer) else (lambda _n, a=answer: a)

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path.split("?", 1)[0] == path)

    def __enter__(self) -> SourceServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
