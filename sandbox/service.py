"""``sandbox serve``: the same Sandbox over HTTP, so execution can live in its own container.

POST /execute  (ExecRequest -> ExecResult), GET /languages, GET /health.
Errors are OpenAI-style JSON ``{"error": {"message", "type", "param", "code"}}``: 400 for a
request that does not decode or makes no sense, 500 without any stack trace otherwise. A
candidate's own failure is never an HTTP error: it is a 200 with the classified result.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import Body

from .config import SandboxConfig
from .runner import LocalSandbox
from .types import ExecRequest, ExecResult, Sandbox

log = logging.getLogger("atlas.sandbox")


def _error(status: int, message: str, type_: str, param: str | None = None, code: str | None = None) -> Response:
    return Response({"error": {"message": message, "type": type_, "param": param, "code": code}},
                    status_code=status, media_type="application/json")


def _on_validation(_: Request, exc: ValidationException) -> Response:
    param = None
    extra = exc.extra
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        msg = "; ".join(str(e.get("message", "")) for e in extra if isinstance(e, dict)) or exc.detail
        param = extra[0].get("key") or None
        if param == "data":  # the body as a whole: name the field if msgspec said which
            m = re.search(r"field `([^`]+)`", msg)
            param = m.group(1) if m else None
    else:
        msg = exc.detail
    return _error(400, f"invalid request: {msg}", "invalid_request_error", param)


def _on_http(_: Request, exc: HTTPException) -> Response:
    t = "invalid_request_error" if exc.status_code < 500 else "server_error"
    return _error(exc.status_code, str(exc.detail), t)


def _on_other(_: Request, exc: Exception) -> Response:
    log.exception("sandbox service error", exc_info=exc)
    return _error(500, "internal sandbox error", "server_error")


def _check(req: ExecRequest) -> tuple[str, str] | None:
    """Things msgspec's types cannot say: positive sizes, sane bounds."""
    if not req.language.strip():
        return "language", "language must not be empty"
    if req.timeout_s < 0:
        return "timeout_s", "timeout_s must be >= 0"
    lim = req.limits
    for name in ("memory_mb", "max_processes", "max_file_mb", "max_open_files", "max_output_bytes"):
        if getattr(lim, name) < 0:
            return f"limits.{name}", f"limits.{name} must be >= 0"
    if lim.cpu_s <= 0:
        return "limits.cpu_s", "limits.cpu_s must be > 0"
    return None


def create_app(cfg: SandboxConfig | None = None, sandbox: Sandbox | None = None) -> Litestar:
    cfg = cfg or SandboxConfig()
    owned = sandbox is None  # a sandbox handed in belongs to the caller, who closes it
    sb: Sandbox = sandbox or LocalSandbox(cfg)

    @post("/execute", status_code=200)
    async def execute(data: Annotated[ExecRequest, Body()]) -> ExecResult | Response:
        bad = _check(data)
        if bad is not None:
            return _error(400, bad[1], "invalid_request_error", bad[0])
        return await sb.run(data)

    @get("/languages")
    async def languages() -> dict[str, Any]:
        return {"languages": await sb.languages()}

    @get("/health")
    async def health() -> dict[str, Any]:
        return await sb.health()

    async def startup() -> None:
        await sb.health()  # probe isolation now: the log line appears at start, not first run

    async def shutdown() -> None:
        if owned:
            await sb.aclose()

    return Litestar(
        route_handlers=[execute, languages, health],
        exception_handlers={
            ValidationException: _on_validation,
            HTTPException: _on_http,
            Exception: _on_other,
        },
        on_startup=[startup],
        on_shutdown=[shutdown],
        debug=False,
    )
