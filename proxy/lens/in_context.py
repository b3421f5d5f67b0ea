"""In-context embeddings of graded candidates, for ``lens train|eval --context request``.

Each candidate is embedded *after its request*: the request's messages rendered with the
model's chat template, then ``LEAD`` (the fence the model opens its answer with), then the
code; the mean is taken over the code's tokens only (``Backend.embed_in_context``). The
request is what the pipeline itself was sent, so the scorer sees nothing a request does not
carry; in training data it is the task's prompt exactly as the harness sent it.

Training with them always goes through the pairwise head (``pairwise_train.py``), which
embeds only tasks with both a passing and a failing candidate.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from proxy.backends.base import Backend
from proxy.lens.dataset import Candidate, DataError, EmbeddingCache, code_sha

LEAD = "```python\n"
WHAT = ("llama.cpp context on the same GGUF, pooling_type=NONE: the request's messages "
        "rendered with the model's chat template (generation prompt included), then "
        "'```python\\n', then the candidate's code; the mean over the code's tokens only of "
        "the last layer's hidden state after the final norm; L2-normalised by the Lens, then "
        "standardised")


def task_requests(cands: list[Candidate]) -> dict[str, list[dict[str, Any]]]:
    """task id -> the messages its bench run sent (from the run's dataset file)."""
    from proxy.bench.datasets import DatasetError, load_tasks
    from proxy.bench.records import read_config

    out: dict[str, list[dict[str, Any]]] = {}
    for run in dict.fromkeys(c.run for c in cands):
        dataset = read_config(Path(run)).dataset
        try:
            tasks = load_tasks(dataset, "all")
        except DatasetError:  # --split applies to MBPP only
            tasks = load_tasks(dataset)
        out.update({t.task_id: t.messages for t in tasks})
    missing = sorted({c.task_id for c in cands} - out.keys())
    if missing:
        raise DataError(f"no request found for {len(missing)} task(s), e.g. {missing[:3]}")
    return out


def context_key(messages: list[dict[str, Any]], lead: str, code: str) -> str:
    blob = json.dumps([messages, lead, code], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_for(fingerprint: str, path: Path | None = None) -> EmbeddingCache:
    """The in-context embedding cache of a model (``runs/lens-cache/in-context-FP.npz``)."""
    from proxy.lens.cli import DEFAULT_CACHE_DIR

    path = path or Path(DEFAULT_CACHE_DIR) / f"in-context-{code_sha(fingerprint)[:16]}.npz"
    return EmbeddingCache(path, fingerprint)


async def embed(cache: EmbeddingCache, backend: Backend,
                items: list[tuple[list[dict[str, Any]], str]], lead: str = LEAD, *,
                progress: bool = True) -> np.ndarray:
    """(n, d) in-context embeddings of (request messages, code) items, computing only those
    not cached; one backend call per distinct request (its prompt read once)."""
    keys = [context_key(messages, lead, code) for messages, code in items]
    todo: dict[str, tuple[list[dict[str, Any]], dict[str, str]]] = {}  # request -> key -> code
    for (messages, code), key in zip(items, keys):
        if cache.get(key) is None:
            request = json.dumps(messages, sort_keys=True)
            todo.setdefault(request, (messages, {}))[1][key] = code
    total, done = sum(len(codes) for _, codes in todo.values()), 0
    for messages, codes in todo.values():
        result = await backend.embed_in_context(messages, lead, list(codes.values()))
        for key, vec in zip(codes, result.vectors):
            cache.put(key, vec)
        done += len(codes)
        cache.save()
        if progress:
            print(f"\rembedded in context {done}/{total}", end="", file=sys.stderr)
    if todo and progress:
        print(file=sys.stderr)
    return np.stack([cache.get(k) for k in keys]) if keys else np.zeros((0, 0))


async def embed_with_config(args, cands: list[Candidate]):  # noqa: ANN001 - argparse namespace
    """(vectors, model info): in-context embeddings with the model the config names."""
    from proxy.lens.cli import make_backend

    requests = task_requests(cands)
    backend = await make_backend(args.config)
    try:
        info = backend.info
        cache = cache_for(info.fingerprint, args.cache)
        print(f"embedding in context with {info.id}, cache {cache.path} ({len(cache)} cached)",
              file=sys.stderr)
        vectors = await embed(cache, backend, [(requests[c.task_id], c.code) for c in cands])
    finally:
        await backend.aclose()
    return vectors, info
