#!/usr/bin/env python3
"""MBPP tasks in HumanEval's shape: a function stub with a docstring, as a custom task file.

    python benchmarks/mbpp_stubs.py --split train --out runs/data/mbpp-train-stubs.jsonl
    atlas-proxy bench run --dataset runs/data/mbpp-train-stubs.jsonl --arm ... --out ...

Why: HumanEval is where the pipeline's headline number is measured, so it may not be where
its defaults are tuned; MBPP train is, but an MBPP request (a sentence plus one assert) is
not shaped like a HumanEval request (a signature plus a docstring with examples), and
what helps on one shape need not help on the other (docs/pipeline.md, "Plain samples or
approach hints?"). This writes MBPP train or validation tasks as stubs:

    Complete the following Python function.

    ```python
    def first_repeated_char(a):
        \"\"\"Write a python function to find the first repeated character in a given string.

        >>> first_repeated_char('abcabc')
        'a'
        \"\"\"
    ```

Only what ``split_mbpp`` shows a model goes in: the task's text and its first assert
(function name, arity and one example, from the assert's ``f(args) == expected``). The
parameter names are generic (``a, b, ...``): the reference solution's names would come from
its ``code``, which never enters a request. Grading keeps every assert of ``test_list`` and
``challenge_test_list`` after ``test_setup_code``. Tasks whose first assert is not of the
form ``f(...) == expected`` (``f`` not a builtin) are left out and counted. MBPP's test split is refused: it is
the project's held-out set.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.bench.datasets import BUNDLED, MBPP_SPLITS, _read_jsonl  # noqa: E402

HEADER = "Complete the following Python function."


def example_of(first_assert: str) -> tuple[str, int, str, str] | None:
    """(function name, arity, call source, expected source) of ``assert f(...) == x``."""
    try:
        node = ast.parse(first_assert.strip()).body[0]
    except (SyntaxError, IndexError):
        return None
    if not isinstance(node, ast.Assert) or not isinstance(node.test, ast.Compare):
        return None
    cmp = node.test
    if len(cmp.ops) != 1 or not isinstance(cmp.ops[0], ast.Eq):
        return None
    call, expected = cmp.left, cmp.comparators[0]
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        return None
    if hasattr(builtins, call.func.id):  # int(f(x)) == y: the task's function is inside
        return None
    if call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    return call.func.id, len(call.args), ast.unparse(call), ast.unparse(expected)


def stub_task(rec: dict) -> dict | None:
    """The custom-format record for one MBPP record, or None if its example has no stub."""
    asserts = list(rec["test_list"])
    found = example_of(asserts[0]) if asserts else None
    if found is None:
        return None
    name, arity, call, expected = found
    params = ", ".join(chr(ord("a") + i) for i in range(arity))
    doc = textwrap.fill(" ".join(rec["text"].split()), 84)
    body = f'"""{doc}\n\n>>> {call}\n{expected}\n"""'
    stub = f"def {name}({params}):\n" + textwrap.indent(body, "    ")
    return {
        "task_id": f"MBPP-stub/{rec['task_id']}",
        "prompt": f"{HEADER}\n\n```python\n{stub}\n```",
        "language": "python",
        "tests": asserts + list(rec.get("challenge_test_list") or []),
        "setup_code": rec.get("test_setup_code") or "",
        "entry_point": name,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, default=BUNDLED["mbpp"], help="an MBPP jsonl")
    ap.add_argument("--split", choices=["prompt", "train", "validation"], default="train")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    ids = MBPP_SPLITS[args.split]
    rows = [r for r in _read_jsonl(args.dataset) if int(r["task_id"]) in ids]
    tasks = [t for t in map(stub_task, rows) if t is not None]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    print(f"{len(tasks)} of {len(rows)} MBPP {args.split} tasks as stubs -> {args.out} "
          f"({len(rows) - len(tasks)} left out: first assert not f(...) == expected)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
