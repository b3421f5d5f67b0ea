#!/usr/bin/env python3
"""optillm side by side with our single-shot and pipeline arms, one bench run, same model.

Starts optillm (installed with ``--no-deps`` plus its server's imports into its own venv, see
proxy/bench/peers.py) in front of UPSTREAM, waits for it, runs ``atlas-proxy bench run`` with
the arms below, and stops optillm whatever happens:

  plain              UPSTREAM, the plain model (single shot; the baseline)
  atlas              ATLAS_URL, model ``atlas`` (our pipeline; left out with --no-atlas)
  optillm-<approach> optillm, model ``<approach>-<plain model>``, for bon,
                     self_consistency and plansearch

Usage (our proxy serving the default model on :8080, optillm in front of it):

  python benchmarks/optillm.py --upstream http://127.0.0.1:8080/v1 \\
      -- --dataset humaneval --tasks 20 --out docs/benchmarks/optillm-humaneval-20

Against llama_cpp.server directly (no pipeline there, so --no-atlas):

  python benchmarks/optillm.py --upstream http://127.0.0.1:8090/v1 --no-atlas \\
      -- --dataset humaneval --tasks 2 --max-tokens 384 --out /tmp/optillm-dry

Everything after ``--`` goes to ``atlas-proxy bench run``. Rerunning the same command
resumes the run in --out.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proxy.bench import peers
from proxy.bench.cli import main as bench_main
from proxy.bench.runner import resolve_model


def main(argv: list[str]) -> int:
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1:]
    else:
        rest = []
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upstream", required=True, help="OpenAI base URL of the model (…/v1)")
    p.add_argument("--model", default="auto", help="plain model id (default: first listed)")
    p.add_argument("--atlas-url", help="our proxy's base URL for the atlas arm (default: --upstream)")
    p.add_argument("--no-atlas", action="store_true", help="leave out the pipeline arm")
    p.add_argument("--approaches", default=",".join(peers.APPROACHES))
    p.add_argument("--port", type=int, default=8010, help="optillm's port (8010)")
    p.add_argument("--venv", type=Path, default=peers.DEFAULT_VENV)
    p.add_argument("--log-dir", type=Path, default=Path("/tmp"))
    args = p.parse_args(argv)

    upstream = args.upstream.rstrip("/")
    model = args.model if args.model != "auto" else asyncio.run(resolve_model(upstream))
    arms = [f"plain={upstream},model={model}"]
    if not args.no_atlas:
        atlas_url = (args.atlas_url or upstream).rstrip("/")
        arms.append(f'atlas={atlas_url},model=atlas,extra={{"atlas": {{"trace": true}}}}')
    optillm_v1 = f"http://127.0.0.1:{args.port}/v1"
    arms += peers.arm_specs(optillm_v1, model, tuple(a for a in args.approaches.split(",") if a))

    exe = peers.ensure_installed(args.venv)
    args.log_dir.mkdir(parents=True, exist_ok=True)
    log = args.log_dir / f"optillm-{args.port}.log"
    proc = peers.start(exe, upstream, args.port, log)
    # optillm runs in its own session (a Ctrl-C in this terminal does not reach it), so every
    # way this wrapper ends must pass through the finally below: SIGTERM, and SIGINT even
    # where the shell started us with it ignored (a background job of a script).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        peers.wait_ready(proc, f"http://127.0.0.1:{args.port}")
        bench_argv = ["run", *[x for a in arms for x in ("--arm", a)], *rest,
                      "--invocation", shlex.join(["python", "benchmarks/optillm.py", *sys.argv[1:]])]
        print("atlas-proxy bench " + shlex.join(bench_argv), file=sys.stderr)
        return bench_main(bench_argv)
    finally:
        peers.stop(proc)
        print(f"optillm stopped (log: {log})", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
