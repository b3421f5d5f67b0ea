"""Every client command the README shows is executed here, so the README cannot rot.

Code blocks marked ```bash that call curl and ```python blocks are run against the live
server, with the README's 127.0.0.1:8080 pointed at the test server's port.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```(bash|python|yaml)\n(.*?)```", re.S)


def blocks(lang: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(README.read_text()) if kind == lang]


def _point_at(server, text: str) -> str:
    return text.replace("http://127.0.0.1:8080", server.root)


def test_readme_has_the_two_commands():
    commands = [line.split("#")[0].strip() for block in blocks("bash")
                for line in block.splitlines() if line.startswith("./scripts/")]
    assert commands == ["./scripts/serve.sh", "./scripts/test.sh"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "./scripts/test.sh" in ci


@pytest.mark.parametrize("index", range(len([b for b in blocks("bash") if "curl" in b])))
def test_readme_curl_examples_run(live_server, index):
    block = [b for b in blocks("bash") if "curl" in b][index]
    out = subprocess.run(["bash", "-c", _point_at(live_server, block)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert '"choices"' in out.stdout or '"data"' in out.stdout, out.stdout


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_readme_python_examples_run(live_server, index):
    code = _point_at(live_server, blocks("python")[index])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()


def test_readme_continue_config_names_served_models(live_server):
    import httpx

    served = {m["id"] for m in httpx.get(f"{live_server.base_url}/models").json()["data"]}
    for block in blocks("yaml"):
        for model in re.findall(r"^\s+model: (\S+)", block, re.M):
            assert model in served, f"README's Continue config names {model}, not served"
        assert "apiBase: http://127.0.0.1:8080/v1" in block
