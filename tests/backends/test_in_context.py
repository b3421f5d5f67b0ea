"""In-context embeddings on the real default model: the prompt is read once and each answer
continues from it, so an answer's vector must not depend on which other answers share the
call or in what order, and must depend on the request it follows."""

from __future__ import annotations

import numpy as np
import pytest

from proxy.backends.in_context import InContextEmbedder
from proxy.model_store import ensure_default_model

PROMPT = ("<|im_start|>user\nWrite a function add(a, b) that returns the sum of a and b."
          "<|im_end|>\n<|im_start|>assistant\n")
OTHER = ("<|im_start|>user\nWrite a function add(a, b) that returns the product of a and b."
         "<|im_end|>\n<|im_start|>assistant\n")
A = "def add(a, b):\n    return a + b\n"
B = "def add(a, b):\n    return a * b\n"


@pytest.fixture(scope="module")
def embedder():
    e = InContextEmbedder(ensure_default_model(), threads=2, n_ctx=512)
    yield e
    e.close()


def _cos(u: np.ndarray, v: np.ndarray) -> float:
    return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))


def test_answers_do_not_leak_into_each_other(embedder) -> None:
    both, read = embedder.embed(PROMPT, "```python\n", [A, B])
    assert both.shape == (2, 896) and np.isfinite(both).all()
    alone_b, _ = embedder.embed(PROMPT, "```python\n", [B])
    swapped, _ = embedder.embed(PROMPT, "```python\n", [B, A])
    # Same tokens at the same positions after the same prefix: equal up to float noise.
    assert _cos(both[1], alone_b[0]) > 0.9999 and _cos(both[0], swapped[1]) > 0.9999
    assert read > len(embedder.tokenize(A, special=False)) * 2  # prompt once + both answers


def test_the_request_changes_the_vector(embedder) -> None:
    (sum_ctx,), _ = embedder.embed(PROMPT, "```python\n", [A])
    (product_ctx,), _ = embedder.embed(OTHER, "```python\n", [A])
    (bare,), _ = embedder.embed("", "", [A])
    assert _cos(sum_ctx, product_ctx) < 0.9999  # same code, other task: another reading
    assert _cos(sum_ctx, bare) < _cos(sum_ctx, product_ctx)  # no task at all: further still


def test_long_answers_are_cut_and_empty_ones_are_zero(embedder) -> None:
    vectors, _ = embedder.embed(PROMPT, "```python\n", ["x = 1\n" * 400, ""])
    assert np.isfinite(vectors).all() and np.linalg.norm(vectors[0]) > 0
    assert not vectors[1].any()
    with pytest.raises(ValueError, match="fills"):
        embedder.embed("word " * 600, "", [A])
