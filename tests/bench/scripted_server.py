"""A scripted OpenAI-compatible HTTP server: the one fake of the bench tests.

It stands in for a model endpoint only where a real one cannot produce the case under test
(a 500, a dropped connection, a request that hangs until the client is killed, canned
answers whose grade is known). Grading in these tests still runs in the real sandbox.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DROP = "drop"  # close the connection without answering


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None
    hang: threading.Event | None = None  # wait for this before answering


def completion(content: str, *, model: str = "scripted", prompt_tokens: int | None = 11,
               completion_tokens: int | None = 7, finish_reason: str = "stop",
               **extra: Any) -> dict[str, Any]:
    usage = {}
    if prompt_tokens is not None:
        usage["prompt_tokens"] = prompt_tokens
    if completion_tokens is not None:
        usage["completion_tokens"] = completion_tokens
    return {"id": "x", "object": "chat.completion", "model": model, "usage": usage,
            "choices": [{"index": 0, "finish_reason": finish_reason,
                         "message": {"role": "assistant", "content": content}}], **extra}


@dataclass
class ScriptedServer:
    respond: Callable[[dict[str, Any], int], Reply | str]
    models: list[str] = field(default_factory=lambda: ["plain-model", "atlas"])
    requests: list[dict[str, Any]] = field(default_factory=list)
    seen_request: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.endswith("/models"):
                    self._send(200, {"object": "list",
                                     "data": [{"id": m, "object": "model"} for m in server.models]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.seen_request:
                    server.requests.append(body)
                    count = len(server.requests)
                    server.seen_request.notify_all()
                reply = server.respond(body, count)
                if reply == DROP:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                assert isinstance(reply, Reply)
                if reply.hang is not None:
                    reply.hang.wait(60)
                self._send(reply.status, reply.body or {"error": {"message": "scripted error"}})

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def wait_for_requests(self, count: int, timeout: float = 60.0) -> bool:
        with self.seen_request:
            return self.seen_request.wait_for(lambda: len(self.requests) >= count, timeout)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
