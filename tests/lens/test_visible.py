"""Which candidates pass their request's own examples, checked in the real sandbox the way
the pipeline checks them."""

from __future__ import annotations

import json

from proxy.lens.dataset import Candidate
from proxy.lens.visible import passes_visible

MBPP_SHAPED = [{"role": "user", "content": (
    "Write a function to add two numbers.\nYour code should satisfy this example:\n"
    "```python\nassert add(1, 2) == 3\n```\nWrite the Python function in one ```python code "
    "block.")}]
NO_EXAMPLES = [{"role": "user", "content": "Write a Python function that adds two numbers."}]


def _cand(task: str, code: str, passed: bool) -> Candidate:
    return Candidate(task, 0, code, passed, "run", "plain", 0.8)


async def test_a_subtle_failure_passes_the_shown_example_and_a_crude_one_does_not(tmp_path):
    cands = [
        _cand("MBPP/601", "def add(a, b):\n    return a + b\n", True),
        _cand("MBPP/601", "def add(a, b):\n    return a - b\n", False),
        # right on the example, wrong elsewhere: what reaches the pipeline's tie-break
        _cand("MBPP/601", "def add(a, b):\n    return a + b if a < 5 else 0\n", False),
        _cand("MBPP/601", "def add(a, b):\n    raise ValueError('no')\n", False),
        _cand("MBPP/602", "def add(a, b):\n    return 0\n", False),
    ]
    requests = {"MBPP/601": MBPP_SHAPED, "MBPP/602": NO_EXAMPLES}
    cache = tmp_path / "visible.json"
    flags = await passes_visible(cands, requests, path=cache, progress=False)
    # a request without examples keeps every candidate, as the pipeline's tie would
    assert flags == [True, False, True, False, True]
    stored = json.loads(cache.read_text())
    assert sorted(stored.values()) == [False, False, True, True]

    # Cached: a second call gives the same answer from the file, without the sandbox.
    stored = {key: not value for key, value in stored.items()}  # poison it to prove it is read
    cache.write_text(json.dumps(stored))
    again = await passes_visible(cands, requests, path=cache, progress=False)
    assert again == [False, True, False, True, True]
