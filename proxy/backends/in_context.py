"""Embeddings of answers *in the context of their request*, for the Lens.

``InContextEmbedder.embed(prompt, lead, answers)`` reads ``prompt + lead`` once, then, for
each answer, continues from that state and returns the mean over the answer's own tokens of
the model's last hidden state (after the final norm). The prompt and lead are read, never
pooled. Causal attention means a token's state depends only on what precedes it, so these
vectors are exactly those of the model reading ``prompt + lead + answer`` in one go: what
the model "thinks" of each line of code while it is answering this request, where a
code-only embedding sees the code without the task it is meant to solve (docs/lens.md).

It is its own llama.cpp context on the same GGUF (weights mmap'ed and shared), with
``pooling_type=NONE`` so every token's state comes out. llama.cpp computes logits for every
output token of an embedding context as well, so the batch is kept small: its output buffer
is ``n_batch * n_vocab`` floats (256 x 151,936 x 4 B = 156 MB for Qwen2.5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BATCH = 256  # tokens per llama_decode: bounds the logits buffer (above)
CTX = 4096  # prompt + lead + the longest answer; longer answers are cut (their tail)


class InContextEmbedder:
    def __init__(self, path: Path, threads: int, n_ctx: int = CTX) -> None:
        import llama_cpp
        from llama_cpp import Llama

        self._lib = llama_cpp
        self._llm = Llama(
            model_path=str(path), embedding=True, n_ctx=n_ctx, n_batch=BATCH, n_ubatch=BATCH,
            n_threads=threads, n_threads_batch=threads,
            pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE, verbose=False,
        )
        self._ctx = self._llm._ctx.ctx
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._dim = self._llm.n_embd()
        self.n_ctx = n_ctx

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8", "replace"), add_bos=False,
                                  special=special)

    def embed(self, prompt: str, lead: str, answers: list[str]) -> tuple[np.ndarray, int]:
        """(vectors (len(answers), d), tokens read). ``prompt`` is the rendered request with
        its special tokens; ``lead`` what the model writes before the answer (e.g. a
        fence) and ``answers`` are read as plain text."""
        context = self.tokenize(prompt, special=True) + self.tokenize(lead, special=False)
        room = self.n_ctx - len(context)
        if room < 8:
            raise ValueError(f"the request alone fills the Lens's {self.n_ctx}-token context")
        lib = self._lib
        lib.llama_memory_clear(self._mem, True)
        self._decode(context, 0)
        read = len(context)
        out = np.zeros((len(answers), self._dim), dtype=np.float32)
        for row, answer in enumerate(answers):
            tokens = self.tokenize(answer, special=False)[:room]
            if not tokens:
                continue  # an empty answer: the zero vector (the Lens's norm guards it)
            lib.llama_memory_seq_rm(self._mem, 0, len(context), -1)  # back to the prompt
            out[row] = self._decode(tokens, len(context)).mean(axis=0)
            read += len(tokens)
        return out, read

    def _decode(self, tokens: list[int], start: int) -> np.ndarray:
        """Read tokens at positions start..; their last-layer states, (len(tokens), d)."""
        lib = self._lib
        states = np.empty((len(tokens), self._dim), dtype=np.float32)
        batch = lib.llama_batch_init(BATCH, 0, 1)
        try:
            for lo in range(0, len(tokens), BATCH):
                chunk = tokens[lo : lo + BATCH]
                batch.n_tokens = len(chunk)
                for i, tok in enumerate(chunk):
                    batch.token[i] = tok
                    batch.pos[i] = start + lo + i
                    batch.n_seq_id[i] = 1
                    batch.seq_id[i][0] = 0
                    batch.logits[i] = True  # an output: its hidden state is kept
                rc = lib.llama_decode(self._ctx, batch)
                if rc != 0:
                    raise RuntimeError(f"llama_decode returned {rc}")
                for i in range(len(chunk)):
                    ptr = lib.llama_get_embeddings_ith(self._ctx, i)
                    states[lo + i] = np.ctypeslib.as_array(ptr, shape=(self._dim,))
        finally:
            lib.llama_batch_free(batch)
        return states

    def close(self) -> None:
        self._llm.close()
