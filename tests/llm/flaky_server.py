"""A scripted OpenAI-compatible server on 127.0.0.1 for retry / timeout / garbage tests.

Each request is keyed by its last message's content (chat) or its prompt (completions); the
replies scripted for that key are served in order, then a plain success. Every hit is recorded
(time, path, headers, body) and the peak number of requests in flight is tracked.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer; ``body=None`` means a valid completion of ``text``."""

    status: int = 200
    text: str = "ok"
    body: str | None = None
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    usage: dict[str, Any] | None = field(
        default_factory=lambda: {"prompt_tokens": 5, "completion_tokens": 1})
    finish_reason: str = "stop"


def ok(text: str = "ok", **kw: Any) -> Reply:
    return Reply(text=text, **kw)


def error(status: int, retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status=status, body=json.dumps({"error": {"message": f"scripted {status}"}}),
                 headers=headers)


def slow(delay_s: float) -> Reply:
    return Reply(delay_s=delay_s)


def garbage() -> Reply:
    return Reply(body="<html>definitely not json")


@dataclass
class Hit:
    key: str
    at: float
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FlakyServer:
    """Start with ``with FlakyServer() as srv:``; ``srv.url`` is the base URL."""

    def __init__(self) -> None:
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.hits: list[Hit] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # slow handlers must not hold up shutdown
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    def script(self, key: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[key].extend(replies)

    def hits_for(self, key: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.key == key]

    def __enter__(self) -> FlakyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self, key: str) -> Reply:
        with self._lock:
            script = self._scripts.get(key)
            return script.popleft() if script else ok(f"echo:{key}")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw or b"{}")
                if body.get("messages"):
                    key = body["messages"][-1]["content"]
                else:
                    key = str(body.get("prompt", ""))
                with server._lock:
                    server.hits.append(Hit(key, time.monotonic(), self.path,
                                           {k.lower(): v for k, v in self.headers.items()}, body))
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                try:
                    self._answer(server._next(key), chat=self.path.endswith("/chat/completions"))
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, reply: Reply, chat: bool) -> None:
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.body is not None:
                    payload = reply.body
                else:
                    choice: dict[str, Any] = {"index": 0, "finish_reason": reply.finish_reason}
                    if chat:
                        choice["message"] = {"role": "assistant", "content": reply.text}
                    else:
                        choice["text"] = reply.text
                    data: dict[str, Any] = {"object": "x", "choices": [choice]}
                    if reply.usage is not None:
                        data["usage"] = reply.usage
                    payload = json.dumps(data)
                encoded = payload.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(encoded)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(encoded)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        return Handler
