"""Peers side by side: optillm in front of the same model, as extra arms of one bench run.

What was verified by reading optillm 0.4.0's wheel (``optillm/server.py``):

* It is an OpenAI-compatible Flask server (``optillm --port P --base-url UPSTREAM``); with
  ``OPENAI_API_KEY`` set and a base URL it calls the upstream through ``openai.OpenAI``.
* The approach is chosen per request by a model-name prefix: ``bon-<model>``,
  ``self_consistency-<model>``, ``plansearch-<model>`` (``parse_combined_approach`` splits
  the id at ``-`` and takes leading known approach names; the rest is the upstream model).
* ``bon`` asks for ``best_of_n`` (3) completions at temperature 1 in one call with ``n=3``
  (one by one only if the upstream raises), then has the model rate each 0-10 and returns
  the best. ``self_consistency`` draws 5 samples at temperature 1 and returns the largest
  cluster by text similarity. ``plansearch`` makes 4 calls (observations, derived
  observations, a natural-language solution, code). Each ignores the client's temperature.
* Its response ``usage`` holds ``completion_tokens`` only (summed over its internal calls):
  no ``prompt_tokens``, so the report shows prompt tokens as n/a for these arms.
* Its package requires torch, transformers, spacy, gradio and more (several GB), but the
  server with these approaches imports only the modules pinned in ``SERVER_REQUIREMENTS``:
  we install optillm with ``--no-deps`` plus those, in a venv of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from proxy.bench.processes import stop_group, wait_for_health

OPTILLM_VERSION = "0.4.0"
APPROACHES = ("bon", "self_consistency", "plansearch")
# What ``optillm/server.py`` 0.4.0 imports at start (server, approaches, batching, cepo,
# mars, z3): checked by starting it in a venv holding exactly these. Plugins needing more
# (torch, ...) fail to load and are skipped by optillm; none of the three approaches is one.
SERVER_REQUIREMENTS = (
    "flask==3.1.3",
    "cerebras_cloud_sdk==1.91.0",
    "openai==3.57.0",
    "z3-solver==4.15.4.0",
    "aiohttp==3.14.5",
    "math-verify==0.9.0",
    "networkx==3.6.1",
    "numpy==2.4.6",
    "sympy==1.14.0",
    "PyYAML==6.0.4",
    "httpx==0.28.1",
)
DEFAULT_VENV = Path("/tmp/optillm-venv")


def install_commands(venv: Path) -> list[list[str]]:
    pip = str(venv / "bin" / "pip")
    return [
        [sys.executable, "-m", "venv", str(venv)],
        [pip, "install", "--no-deps", f"optillm=={OPTILLM_VERSION}"],
        [pip, "install", *SERVER_REQUIREMENTS],
    ]


def ensure_installed(venv: Path = DEFAULT_VENV) -> Path:
    """Create the venv and install optillm unless ``venv/bin/optillm`` exists already."""
    exe = venv / "bin" / "optillm"
    if not exe.exists():
        for cmd in install_commands(venv):
            subprocess.run(cmd, check=True)
    return exe


def start(exe: Path, upstream: str, port: int, log_path: Path) -> subprocess.Popen:
    """Start optillm on 127.0.0.1:port in front of ``upstream`` (an OpenAI base URL)."""
    env = {**os.environ,
           # optillm picks its OpenAI client only when this is set; local upstreams ignore it.
           "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "sk-no-key-needed")}
    # No --approach: its default "auto" (which it refuses as an explicit value) lets the
    # model-name prefix pick the approach per request.
    cmd = [str(exe), "--host", "127.0.0.1", "--port", str(port), "--base-url", upstream,
           "--log", "warning"]
    # Its cwd matters: optillm loads plugins from ./optillm/plugins too, so run it elsewhere.
    return subprocess.Popen(cmd, env=env, cwd=log_path.parent, stdout=log_path.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(proc: subprocess.Popen, root: str, timeout_s: float = 120.0) -> None:
    wait_for_health(proc, root, timeout_s=timeout_s, poll_s=0.5, what="optillm")


def stop(proc: subprocess.Popen) -> None:
    stop_group(proc, grace_s=15)


def arm_specs(optillm_v1: str, model: str, approaches: tuple[str, ...] = APPROACHES) -> list[str]:
    """``--arm`` specs for each approach: same upstream model, chosen by prefix."""
    unknown = set(approaches) - set(APPROACHES)
    if unknown:
        raise ValueError(f"approaches not verified here: {sorted(unknown)}")
    return [f"optillm-{a}={optillm_v1},model={a}-{model}" for a in approaches]
