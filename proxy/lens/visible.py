"""Which graded candidates pass the examples their own request shows.

The pipeline asks the Lens only about candidates tied at the top after self-tests, and a
candidate gets there only by passing every example the request itself shows (the docstring
examples of a HumanEval prompt, the one assert an MBPP prompt carries). So the failures a
tie-breaker meets are *subtle* ones: code that looks right on the request's own examples.
A harness sample that crashes on the shown example is an easy negative the pipeline never
asks about. ``lens train|eval --fit pairwise`` also judge the head on the candidates that
pass their request's examples only (the card's ``visible`` numbers), the pairs the pipeline
actually hands it; ``benchmarks/lens_visible_pairs.py`` tries training on them.

The examples are found and run exactly as the pipeline does (``problem.extract``,
``selftest.run_tests``); a request without examples keeps all of its candidates, as the
pipeline's tie would. Nothing here uses the hidden tests: the label ``passed`` still comes
from them, as always for training data.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from proxy.lens.dataset import Candidate, DataError

TIMEOUT_S = 10.0
CACHE_NAME = "visible-examples.json"


def _key(examples: list[str], code: str) -> str:
    blob = json.dumps([examples, code], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_path() -> Path:
    from proxy.lens.cli import DEFAULT_CACHE_DIR

    return Path(DEFAULT_CACHE_DIR) / CACHE_NAME


async def passes_visible(cands: list[Candidate], requests: dict[str, list[dict[str, Any]]],
                         *, path: Path | None = None, progress: bool = True) -> list[bool]:
    """For each candidate: does it pass every example its task's request shows? Results are
    cached by (examples, code) in ``runs/lens-cache/visible-examples.json``."""
    import msgspec

    import sandbox as sandbox_pkg
    from proxy.openai.protocol import ChatCompletionRequest
    from proxy.pipeline import problem as problem_mod
    from proxy.pipeline import selftest

    path = path or cache_path()
    cache: dict[str, bool] = json.loads(path.read_text()) if path.is_file() else {}
    problems = {
        task: problem_mod.extract(msgspec.convert({"model": "lens", "messages": messages},
                                                  ChatCompletionRequest))
        for task, messages in requests.items()
    }
    out: list[bool] = []
    box = sandbox_pkg.make_sandbox(sandbox_pkg.SandboxConfig())
    try:
        for n, cand in enumerate(cands, 1):
            prob = problems[cand.task_id]
            if not prob.examples:
                out.append(True)
                continue
            code = _as_tested(cand.code, prob)
            key = _key([e.test for e in prob.examples], code)
            if key not in cache:
                report = await selftest.run_tests(box, code, prob.examples, [], TIMEOUT_S)
                if report.status == "sandbox_error":
                    raise DataError(f"cannot check the request's examples: {report.error}")
                cache[key] = all(report.passed)
                if n % 50 == 0:
                    _save(path, cache)
            out.append(cache[key])
            if progress:
                print(f"\rvisible examples checked {n}/{len(cands)}", end="", file=sys.stderr)
    finally:
        await box.aclose()
        _save(path, cache)
    if cands and progress:
        print(file=sys.stderr)
    return out


def _as_tested(code: str, prob: Any) -> str:  # noqa: ANN401 - a pipeline Problem
    """The code as the pipeline would test it (the stub's imports added where missing)."""
    from proxy.pipeline.codeblocks import runnable

    return runnable(code, prob.imports) if prob.language == "python" else code


def _save(path: Path, cache: dict[str, bool]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cache, sort_keys=True))
    tmp.replace(path)
