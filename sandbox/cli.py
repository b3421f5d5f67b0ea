"""``atlas-proxy sandbox ...``: ``serve`` (HTTP service) and ``run FILE`` (one run, JSON out).

The lead wires ``atlas-proxy sandbox <args>`` to ``sandbox.cli.main(<args>)``; this module
also runs standalone as ``python -m sandbox.cli``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import msgspec

from .config import SandboxConfig
from .runner import LocalSandbox
from .types import ExecRequest, Limits

_EXT = {".py": "python", ".js": "javascript", ".sh": "bash", ".c": "c", ".cpp": "cpp",
        ".cc": "cpp", ".cxx": "cpp", ".pl": "perl"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="atlas-proxy sandbox", description="Run untrusted code, isolated.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve POST /execute, GET /languages, GET /health")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8081)
    s.add_argument("--workers", type=int, default=0, help="concurrent runs (0 = cores)")
    s.add_argument("--require-isolation", action="store_true",
                   help="refuse to run (status unsupported) if any isolation layer is missing")
    s.add_argument("--isolation", default="auto", choices=["auto", "bwrap", "unshare", "none"],
                   help="isolation backend (auto: strongest available)")
    s.add_argument("--log-level", default="info")
    r = sub.add_parser("run", help="run FILE once and print the result as JSON")
    r.add_argument("file")
    r.add_argument("--language", "-l", default=None, help="default: from the file extension")
    r.add_argument("--test", action="append", default=[], help="a test line (repeatable)")
    r.add_argument("--test-file", default=None)
    r.add_argument("--entry-point", default=None)
    r.add_argument("--stdin", default=None, help="file whose content is the program's stdin")
    r.add_argument("--timeout", type=float, default=10.0)
    r.add_argument("--memory-mb", type=int, default=512)
    r.add_argument("--require-isolation", action="store_true")
    r.add_argument("--isolation", default="auto", choices=["auto", "bwrap", "unshare", "none"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.cmd == "serve":
        return _serve(args)
    return asyncio.run(_run_once(args))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .service import create_app

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = SandboxConfig(workers=args.workers, require_isolation=args.require_isolation,
                        isolation=args.isolation)
    uvicorn.run(create_app(cfg), host=args.host, port=args.port, log_level=args.log_level.lower())
    return 0


async def _run_once(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    path = Path(args.file)
    lang = args.language or _EXT.get(path.suffix.lower())
    if lang is None:
        print(f"cannot tell the language of {path}; pass --language", file=sys.stderr)
        return 2
    req = ExecRequest(
        code=path.read_text(), language=lang, tests=args.test,
        test_file=Path(args.test_file).read_text() if args.test_file else None,
        entry_point=args.entry_point,
        stdin=Path(args.stdin).read_text() if args.stdin else "",
        timeout_s=args.timeout, limits=Limits(memory_mb=args.memory_mb),
    )
    sb = LocalSandbox(SandboxConfig(workers=1, require_isolation=args.require_isolation,
                                    isolation=args.isolation, memory_mb=max(args.memory_mb, 16)))
    try:
        res = await sb.run(req)
    finally:
        await sb.aclose()
    sys.stdout.write(msgspec.json.encode(res).decode() + "\n")
    return 0 if res.status.value == "passed" else 1


if __name__ == "__main__":
    raise SystemExit(main())
