"""``atlas-proxy``: serve | bench | lens | sandbox."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from proxy.config import ConfigError, load_config


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from proxy.app import create_app
    from proxy.log import configure_logging

    overrides: dict[str, dict[str, Any]] = {}
    server = overrides.setdefault("server", {})
    if args.host:
        server["host"] = args.host
    if args.port is not None:
        server["port"] = args.port
    if args.upstream:
        overrides["model"] = {"backend": "upstream"}
        overrides["upstream"] = {"base_url": args.upstream}
    if args.model:
        section = "upstream" if args.upstream else "embedded"
        overrides.setdefault(section, {})["model"] = args.model
    try:
        config = load_config(args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"atlas-proxy: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.server.log_format, config.server.log_level)
    app = create_app(config)
    uvicorn.run(
        app,
        host=config.server.host,
        port=config.server.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Subcommands owned by other packages parse their own arguments.
    if argv and argv[0] == "bench":
        from proxy.bench.cli import main as bench_main

        return bench_main(argv[1:])
    if argv and argv[0] == "sandbox":
        from sandbox.cli import main as sandbox_main

        return sandbox_main(argv[1:])
    if argv and argv[0] == "lens":
        from proxy.lens.cli import main as lens_main

        return lens_main(argv[1:])

    parser = argparse.ArgumentParser(prog="atlas-proxy", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the OpenAI-compatible server")
    serve.add_argument("--config", help="config file (default: config.toml of the project)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--model", help="'default', a GGUF path, hf:REPO/FILE, or the "
                       "upstream model id with --upstream")
    serve.add_argument("--upstream", help="base URL of an OpenAI-compatible server to use "
                       "instead of the embedded model")
    sub.add_parser("bench", help="benchmark arms through HTTP (atlas-proxy bench -h)")
    sub.add_parser("sandbox", help="the code sandbox (atlas-proxy sandbox -h)")
    sub.add_parser("lens", help="train/evaluate the Geometric Lens (atlas-proxy lens -h)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
