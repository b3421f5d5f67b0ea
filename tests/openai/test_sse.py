"""Raw SSE framing, byte by byte, as a non-SDK client (curl, an editor) sees it."""

from __future__ import annotations

import json

import httpx

PROMPT = [{"role": "user", "content": "Say hello."}]


def test_sse_framing_is_exact(live_server):
    body = {"model": live_server.model, "messages": PROMPT, "max_tokens": 12, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{live_server.base_url}/chat/completions", json=body,
                      timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(r.iter_bytes())
    assert raw.endswith(b"data: [DONE]\n\n")
    events = raw.split(b"\n\n")
    assert events[-1] == b""
    payloads = []
    for event in events[:-1]:
        if event.startswith(b":"):  # keep-alive comment
            continue
        assert event.startswith(b"data: "), event
        assert b"\n" not in event, "one data line per event"
        payloads.append(event[len(b"data: "):])
    assert payloads[-1] == b"[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and ids.pop().startswith("chatcmpl-")
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    with_choices = [c for c in chunks if c["choices"]]
    assert with_choices[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert all(c["choices"][0]["finish_reason"] is None for c in with_choices[:-1])
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    u = usage_chunk["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] > 0


def test_no_usage_chunk_unless_asked(live_server):
    body = {"model": live_server.model, "messages": PROMPT, "max_tokens": 4, "stream": True}
    r = httpx.post(f"{live_server.base_url}/chat/completions", json=body, timeout=120)
    chunks = [json.loads(l[6:]) for l in r.text.split("\n\n") if l.startswith("data: {")]
    assert all(c["choices"] for c in chunks)


def test_curl_example_from_readme(live_server):
    import subprocess

    out = subprocess.run(
        ["curl", "-sS", f"{live_server.base_url}/chat/completions",
         "-H", "Content-Type: application/json",
         "-d", json.dumps({"model": live_server.model, "max_tokens": 8,
                           "messages": [{"role": "user", "content": "Hi"}]})],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert json.loads(out.stdout)["choices"][0]["message"]["content"]
