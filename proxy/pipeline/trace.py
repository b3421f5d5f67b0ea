"""The trace of one pipeline request: problem, plans, candidates, self-tests, sandbox
results, scores, repairs, timings, tokens. Logged with the request id, returned as
``atlas_trace`` when asked for, optionally appended to a JSONL file (the Lens trains from
these). Writing the file must never fail the request: errors are logged and dropped.
"""

from __future__ import annotations

import os
import time
from typing import Any

import msgspec
import structlog

from proxy.pipeline.candidate import Candidate

log = structlog.get_logger("atlas.pipeline")


class TraceRecorder:
    def __init__(self, request_id: str, model: str, backend_model: str) -> None:
        self.data: dict[str, Any] = {
            "request_id": request_id,
            "model": model,
            "backend_model": backend_model,
            "started_at": time.time(),
            "stages": [],
            "timings": {},
            "degraded": [],
        }
        self._t0 = time.monotonic()

    def set(self, key: str, value: Any) -> None:
        self.data[key] = msgspec.to_builtins(value)

    def stage(self, name: str, seconds: float, **info: Any) -> None:
        self.data["stages"].append({"stage": name, "seconds": round(seconds, 3), **info})
        self.data["timings"][name] = round(self.data["timings"].get(name, 0.0) + seconds, 3)

    def degrade(self, why: str) -> None:
        """A reason the answer may be worse than it could be (budget, errors, bad output)."""
        if why not in self.data["degraded"]:
            self.data["degraded"].append(why)

    def candidates(self, cands: list[Candidate], tests: list[str]) -> None:
        out = []
        for c in cands:
            entry = msgspec.to_builtins(c)
            entry.pop("raw", None)
            entry["raw_chars"] = len(c.raw)
            entry["raw_head"] = c.raw[:400]
            out.append(entry)
        self.data["candidates"] = out
        self.data["tests"] = tests

    def finish(self, **info: Any) -> dict[str, Any]:
        self.data.update(msgspec.to_builtins(info))
        self.data["timings"]["total"] = round(time.monotonic() - self._t0, 3)
        return self.data


def append_jsonl(path: str, data: dict[str, Any]) -> bool:
    """Append one line; log and carry on when the file cannot be written."""
    if not path:
        return False
    try:
        line = msgspec.json.encode(data) + b"\n"
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with open(path, "ab") as fh:
            fh.write(line)
        return True
    except (OSError, TypeError, msgspec.EncodeError) as exc:
        log.warning("trace_write_failed", path=path, error=f"{type(exc).__name__}: {exc}")
        return False
