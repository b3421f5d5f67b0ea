"""The optillm recipe's pure parts (running it needs its own venv and a model: see
docs/benchmarks/optillm.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.bench import peers
from proxy.bench.records import parse_arm


def test_arm_specs_choose_the_approach_by_model_prefix() -> None:
    specs = peers.arm_specs("http://127.0.0.1:8010/v1", "qwen2.5-coder-0.5b-instruct")
    arms = [parse_arm(s) for s in specs]
    assert [(a.name, a.model) for a in arms] == [
        ("optillm-bon", "bon-qwen2.5-coder-0.5b-instruct"),
        ("optillm-self_consistency", "self_consistency-qwen2.5-coder-0.5b-instruct"),
        ("optillm-plansearch", "plansearch-qwen2.5-coder-0.5b-instruct"),
    ]
    assert all(a.base_url == "http://127.0.0.1:8010/v1" and a.extra == {} for a in arms)
    with pytest.raises(ValueError):
        peers.arm_specs("http://x/v1", "m", ("mcts",))


def test_install_keeps_optillm_out_of_the_project_venv() -> None:
    cmds = peers.install_commands(Path("/tmp/some-venv"))
    assert cmds[0][-1] == "/tmp/some-venv"
    assert cmds[1] == ["/tmp/some-venv/bin/pip", "install", "--no-deps", f"optillm=={peers.OPTILLM_VERSION}"]
    assert all("torch" not in r for r in peers.SERVER_REQUIREMENTS)
