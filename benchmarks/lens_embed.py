"""What the Lens's embeddings cost on the embedded backend: memory of the embedding context
and time to embed one candidate, against the time to generate it.

    python benchmarks/lens_embed.py [--repeats 5] [--variants]

Measured through ``EmbeddedBackend.embed`` (the code path the Lens uses), in one process:

  1. load the backend and generate 150 tokens greedily (this pages the mmap'ed weights in
     and gives the generation speed on this machine, now);
  2. memory before / after the first ``embed`` call, which creates the second llama.cpp
     context (``RssAnon`` = private memory the context really touched; ``VmSize`` = address
     space it reserved; the weights are mmap'ed and shared, so ``RssFile`` barely moves);
  3. median wall time to embed a ~150-token candidate, alone and as a batch of 3, and after
     a long (~800-token) text to show the worst-case memory touched.

``--variants`` also builds stand-alone embedding contexts with a smaller n_ctx / n_ubatch
and reports their memory, to size the context (the backend's own one is ``n_ctx`` wide).
All numbers are printed with the machine's load average: on a shared 2-core machine the
times are upper bounds. No assertion is made on any time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CANDIDATE = '''def find_longest_increasing_run(values: list[int]) -> tuple[int, int]:
    """Return (start, length) of the longest strictly increasing run in values."""
    if not values:
        return (0, 0)
    best_start, best_len = 0, 1
    start = 0
    for i in range(1, len(values)):
        if values[i] <= values[i - 1]:
            start = i
        length = i - start + 1
        if length > best_len:
            best_start, best_len = start, length
    return (best_start, best_len)


def merge_intervals(intervals):
    intervals = sorted(intervals)
    merged = []
    for lo, hi in intervals:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged
'''


def mem() -> dict[str, int]:
    """Selected /proc/self/status fields, in MiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmSize"):
            out[key] = int(value.split()[0]) // 1024
    return out


def fmt(m: dict[str, int]) -> str:
    return "  ".join(f"{k} {v} MiB" for k, v in m.items())


async def main_async(args: argparse.Namespace) -> None:
    from proxy.backends.embedded import EmbeddedBackend
    from proxy.config import EmbeddedConfig, ModelConfig
    from proxy.openai.protocol import CompletionRequest

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    m0 = mem()
    backend = EmbeddedBackend(EmbeddedConfig(), ModelConfig())
    n_tok = await backend.count_tokens(CANDIDATE)
    print(f"candidate: {n_tok} tokens")
    req = CompletionRequest(model="x", prompt="# Python\n" + CANDIDATE[:200], max_tokens=150,
                            temperature=0.0)
    t = time.perf_counter()
    generated = 0
    async for event in backend.complete(req):
        if type(event).__name__ == "Usage":
            generated = event.completion_tokens
    gen_s = time.perf_counter() - t
    m1 = mem()
    print(f"generation: {generated} tokens in {gen_s:.2f} s ({generated / gen_s:.1f} tok/s)")
    print(f"after load+generate:    {fmt(m1)}  "
          f"(load cost RssAnon +{m1['RssAnon'] - m0['RssAnon']})")

    t = time.perf_counter()
    first = await backend.embed([CANDIDATE])
    first_s = time.perf_counter() - t
    m2 = mem()
    dim = len(first.vectors[0])
    print(f"first embed (creates the context): {first_s:.2f} s, d = {dim}")
    print(f"after embedding context: {fmt(m2)}")
    print(f"  embedding context cost: RssAnon +{m2['RssAnon'] - m1['RssAnon']} MiB, "
          f"VmSize +{m2['VmSize'] - m1['VmSize']} MiB, "
          f"RssFile +{m2['RssFile'] - m1['RssFile']} MiB")

    singles = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        await backend.embed([CANDIDATE])
        singles.append(time.perf_counter() - t)
    triples = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        await backend.embed([CANDIDATE, CANDIDATE.replace("values", "xs"), CANDIDATE[:600]])
        triples.append(time.perf_counter() - t)
    one = statistics.median(singles)
    three = statistics.median(triples)
    per_tok_gen = gen_s / max(generated, 1)
    print(f"embed 1 x {n_tok} tokens: median {one * 1000:.0f} ms "
          f"(min {min(singles) * 1000:.0f}) over {args.repeats}")
    print(f"embed batch of 3 candidates: median {three * 1000:.0f} ms")
    print(f"ratio: embedding one candidate / generating it ({n_tok} tokens at the measured "
          f"speed) = {one / (per_tok_gen * n_tok):.3f}")

    long_text = CANDIDATE * 4
    n_long = await backend.count_tokens(long_text)
    t = time.perf_counter()
    await backend.embed([long_text])
    long_s = time.perf_counter() - t
    m3 = mem()
    print(f"embed 1 x {n_long} tokens: {long_s:.2f} s; after it: {fmt(m3)} "
          f"(RssAnon +{m3['RssAnon'] - m1['RssAnon']} MiB over before the context)")
    await backend.aclose()
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.variants:
        variants(backend.path)


def variants(path: Path) -> None:
    """Stand-alone embedding contexts of several shapes, each in a fresh subprocess: memory
    after a ~200-token and a ~800-token embed, and whether the ~800-token vector equals the
    one of the backend's shape (n_ubatch = n_ctx = 8192), i.e. whether a smaller ubatch
    changes what is pooled."""
    import subprocess

    shapes = ((8192, 8192, False), (8192, 512, False), (4096, 512, False), (2048, 512, False),
              (8192, 8192, True), (8192, 512, True))
    ref = None
    for n_ctx, n_ubatch, flash in shapes:
        code = f"""
import sys, json; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from lens_embed import mem, CANDIDATE
from llama_cpp import Llama, LLAMA_POOLING_TYPE_MEAN
import time
m0 = mem()
llm = Llama(model_path={str(path)!r}, embedding=True, n_ctx={n_ctx}, n_batch={n_ctx},
            n_ubatch={n_ubatch}, flash_attn={flash}, pooling_type=LLAMA_POOLING_TYPE_MEAN,
            verbose=False)
m1 = mem()
t = time.perf_counter(); llm.embed([CANDIDATE], normalize=False); dt = time.perf_counter() - t
m2 = mem()
long = llm.embed([CANDIDATE * 4], normalize=False)[0]
m3 = mem()
print(json.dumps(dict(ctx=m1['RssAnon'] - m0['RssAnon'], vm=m1['VmSize'] - m0['VmSize'],
      short=m2['RssAnon'] - m0['RssAnon'], long=m3['RssAnon'] - m0['RssAnon'],
      ms=round(dt * 1000), vec=[float(v) for v in long])))
"""
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        line = out.stdout.strip().splitlines()[-1:] or ["{}"]
        try:
            import json

            r = json.loads(line[0])
        except ValueError:
            print(f"n_ctx {n_ctx} n_ubatch {n_ubatch} flash {flash}: failed: {out.stderr[-300:]}")
            continue
        import numpy as np

        vec = np.asarray(r.pop("vec"))
        if ref is None:
            ref = vec
        cos = float(vec @ ref / (np.linalg.norm(vec) * np.linalg.norm(ref)))
        print(f"n_ctx {n_ctx:5d} n_ubatch {n_ubatch:5d} flash_attn {flash!s:5}: context RssAnon "
              f"+{r['ctx']} MiB (VmSize +{r['vm']}), after a ~200-token embed +{r['short']}, "
              f"after ~800 tokens +{r['long']}; embed {r['ms']} ms; 800-token vector vs the "
              f"first shape: cosine {cos:.6f}, max |diff| {np.abs(vec - ref).max():.2e}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--variants", action="store_true")
    p.add_argument("--only-variants", action="store_true")
    args = p.parse_args()
    if args.only_variants:
        from proxy.backends.embedded import resolve_model_path
        from proxy.config import EmbeddedConfig

        variants(resolve_model_path(EmbeddedConfig())[0])
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
