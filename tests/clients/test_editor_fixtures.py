"""Continue and Cursor, replayed: their request shapes (fixtures/*.json, sources named there)
sent byte for byte to a real server on the real model, with an API key configured as an
editor user would.

We cannot run the editors here; the fixtures carry what they send (headers, stream_options,
content parts, tools and tool results, many stop words, FIM prompts on /v1/completions) and
each response is read the way their streaming code reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_server, stop_server

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KEY = "sk-editor-test-key"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("editors"),
                          env={"ATLAS_SERVER_API_KEYS": f'["{KEY}"]'}, name="editors")
    yield server
    stop_server(server.process)


def _fill(value, model: str):
    """Put the served model id and key where the fixture says {model} / {key}."""
    if isinstance(value, str):
        return value.replace("{model}", model).replace("{key}", KEY)
    if isinstance(value, list):
        return [_fill(v, model) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, model) for k, v in value.items()}
    return value


def _sse_payloads(raw: str) -> list[dict]:
    assert raw.endswith("data: [DONE]\n\n"), raw[-200:]
    events = [e for e in raw.split("\n\n") if e and not e.startswith(":")]
    assert all(e.startswith("data: ") for e in events)
    return [json.loads(e[len("data: "):]) for e in events[:-1]]


def replay(server, fixture: str, model: str, only=lambda req: True):
    spec = json.loads((FIXTURES / fixture).read_text())
    headers = _fill(spec["headers"], model)
    seen: list[tuple[dict, httpx.Response]] = []
    with httpx.Client(base_url=server.root, headers=headers, timeout=300) as client:
        for req in filter(only, spec["requests"]):
            if req["method"] == "GET":
                r = client.get(req["path"])
            else:
                r = client.post(req["path"], content=json.dumps(_fill(req["body"], model)))
            assert r.status_code == 200, (req["name"], r.text)
            seen.append((req, r))
    return seen


def check(req: dict, r: httpx.Response, model: str) -> list[dict]:
    """What the editor's client code needs from each answer."""
    if req["method"] == "GET":
        assert model in [m["id"] for m in r.json()["data"]]
        return []
    body = req.get("body", {})
    assert r.headers["content-type"].startswith("text/event-stream")
    chunks = _sse_payloads(r.text)
    if req["path"] == "/v1/completions":
        assert all(c["object"] == "text_completion" for c in chunks)
        assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]).strip()
        return chunks
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    calls = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("tool_calls")]
    assert text.strip() or calls
    if body.get("stream_options", {}).get("include_usage"):
        # Continue holds the usage chunk back and reads it after the content.
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    return chunks


def test_continue_requests_replayed(keyed_server):
    for req, r in replay(keyed_server, "continue.json", keyed_server.model):
        check(req, r, keyed_server.model)


def test_cursor_requests_replayed(keyed_server):
    for req, r in replay(keyed_server, "cursor.json", keyed_server.model):
        check(req, r, keyed_server.model)


def test_continue_agent_turn_on_atlas_passes_through(keyed_server):
    # A turn that offers tools is not a code task for the pipeline: it must come back as the
    # plain model's answer (no pipeline progress in reasoning_content).
    [(req, r)] = replay(keyed_server, "continue.json", "atlas",
                        only=lambda req: "tools" in req.get("body", {}))
    chunks = check(req, r, "atlas")
    assert not any(c["choices"] and c["choices"][0]["delta"].get("reasoning_content")
                   for c in chunks)


def test_editor_requests_without_the_key_are_refused(keyed_server):
    spec = json.loads((FIXTURES / "cursor.json").read_text())
    for req in spec["requests"]:
        r = httpx.request(req["method"], keyed_server.root + req["path"], timeout=30,
                          json=_fill(req.get("body"), keyed_server.model))
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_api_key"
