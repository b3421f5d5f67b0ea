"""The official openai npm SDK, from a small Node script, against the real server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "node"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@pytest.fixture(scope="module")
def node_sdk():
    if not (HERE / "node_modules" / "openai").is_dir():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=HERE,
                       check=True, timeout=600)
    return HERE / "client.mjs"


def run(node_sdk, server, model, *extra: str):
    out = subprocess.run(["node", str(node_sdk), server.base_url, model, *extra],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_node_sdk_plain_model(node_sdk, live_server):
    seen = run(node_sdk, live_server, live_server.model)
    assert seen["whole"] and seen["streamed"] == seen["whole"]
    assert seen["wholeUsage"]["completion_tokens"] > 0
    assert seen["usage"]["total_tokens"] > 0
    assert seen["finish"] in ("stop", "length")
    assert seen["notFound"]["status"] == 404
    assert live_server.model in seen["models"]


def test_node_sdk_atlas_pipeline(node_sdk, live_server):
    # Kept to one candidate for the CPU; the pipeline's own knobs ride in the body.
    extra = json.dumps({"max_tokens": 200, "atlas": {"k": 1, "repair": False}})
    prompt = "Write a Python function double(x) that returns 2*x.\n>>> double(3)\n6"
    seen = run(node_sdk, live_server, "atlas", extra, prompt)
    assert "def double" in seen["whole"] and "def double" in seen["streamed"]
    assert seen["reasoning"], "pipeline progress arrives as reasoning_content"
    assert seen["wholeUsage"]["completion_tokens"] > 0 and seen["usage"]["total_tokens"] > 0
    assert "atlas" in seen["models"]
