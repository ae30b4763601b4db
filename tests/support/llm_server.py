"""A loopback HTTP server playing an OpenAI-compatible chat completions endpoint (a local
model server), and its failure modes. Every request is recorded (path, headers, JSON body),
so tests can assert what Ladder sent, and that nothing was sent when suggestions are off."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0  # seconds before answering (cut short when the server closes)


def completion(content: str, *, model: str = "fake-model") -> Reply:
    """A chat completion whose one choice says `content`, shaped as OpenAI's API answers."""
    data = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1767225600,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }
    return Reply(body=json.dumps(data).encode())


def key_results(*sentences: str) -> Reply:
    """The answer the prompt asks for: {"key_results": [...]}."""
    return completion(json.dumps({"key_results": list(sentences)}))


@dataclass
class Asked:
    path: str
    headers: dict[str, str]
    body: Any  # the decoded JSON

    @property
    def prompt(self) -> str:
        """Everything the messages say, one after the other."""
        return "\n".join(m["content"] for m in self.body["messages"])


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (Ladder giving up on a slow answer) is no error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeLLM:
    """`with FakeLLM() as llm:` serves on 127.0.0.1; `llm.url` is the base URL (…/v1)."""

    def __init__(self) -> None:
        self.answer: Callable[[Asked], Reply] = lambda _asked: key_results()
        self.requests: list[Asked] = []
        self.answered = threading.Event()  # set after each reply is written
        self._lock = threading.Lock()
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                asked = Asked(self.path, dict(self.headers.items()), body)
                with server._lock:
                    server.requests.append(asked)
                reply = (
                    server.answer(asked)
                    if self.path == "/v1/chat/completions"
                    else Reply(404, b'{"error": {"message": "not found"}}')
                )
                if reply.delay:
                    server._closing.wait(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                finally:
                    server.answered.set()

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def reply(self, reply: Reply) -> None:
        self.answer = lambda _asked: reply

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
