"""How much does the proxy cost on the passthrough path? Ratios against baselines measured in
the same run, on the same prompts and GGUF (timings on a shared 2-core machine are noisy, so
arms alternate round by round and only ratios are reported).

    python benchmarks/passthrough.py [--rounds 3] [--max-tokens 128]

Arms:
  direct      llama-cpp-python in this process (create_completion on the same rendered prompt)
  proxy       atlas-proxy serve (embedded backend), non-stream and stream
  llama-srv   python -m llama_cpp.server on the same GGUF
  proxy-up    atlas-proxy serve --upstream llama-srv
Nothing else may generate on the machine while this runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proxy.model_store import ensure_default_model  # noqa: E402
from tests.conftest import free_port, start_server, stop_server  # noqa: E402

PROMPTS = [
    "Write a Python function that checks whether a string is a palindrome.",
    "Write a Python function that returns the n-th Fibonacci number iteratively.",
    "Explain in two sentences what a hash map is.",
]


def timed_stream(url: str, body: dict) -> tuple[float, float, int]:
    """(time to first token, total time, completion tokens) of one streamed request."""
    start = time.perf_counter()
    first = None
    tokens = 0
    with httpx.stream("POST", url, json={**body, "stream": True,
                                          "stream_options": {"include_usage": True}},
                      timeout=600) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            # Count content chunks, as for the direct arm: llama.cpp servers stream one token
            # a chunk, and llama_cpp.server sends no usage in streams.
            if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                tokens += 1
                if first is None:
                    first = time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start, tokens


def timed_whole(url: str, body: dict) -> tuple[float, int]:
    start = time.perf_counter()
    r = httpx.post(url, json=body, timeout=600)
    r.raise_for_status()
    return time.perf_counter() - start, r.json()["usage"]["completion_tokens"]


def direct_arm(llm, prompt: str, max_tokens: int) -> tuple[float, float, int]:
    messages = [{"role": "user", "content": prompt}]
    start = time.perf_counter()
    first = None
    tokens = 0
    for chunk in llm.create_chat_completion(messages, max_tokens=max_tokens, temperature=0,
                                            stream=True):
        delta = chunk["choices"][0]["delta"]
        if delta.get("content"):
            tokens += 1
            if first is None:
                first = time.perf_counter() - start
    return first or 0.0, time.perf_counter() - start, tokens


def p50_ms(url: str, n: int = 200) -> float:
    samples = []
    with httpx.Client() as c:
        for _ in range(20):
            c.get(url)
        for _ in range(n):
            t = time.perf_counter()
            c.get(url).raise_for_status()
            samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def start_llama_server(gguf: Path, n_ctx: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--port", str(port),
         "--n_ctx", str(n_ctx), "--model_alias", "bench-upstream"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError("llama_cpp.server did not start")


def tps(tokens: list[int], seconds: list[float]) -> float:
    return sum(tokens) / sum(seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=128)
    args = ap.parse_args()
    gguf = ensure_default_model()
    n_ctx = 4096
    env = {"ATLAS_EMBEDDED_N_CTX": str(n_ctx)}
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))

    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), n_ctx=n_ctx, n_threads=os.cpu_count(), verbose=False)
    proxy = start_server(tmp, env=env, name="bench-proxy")
    llama_proc, llama_url = start_llama_server(gguf, n_ctx)
    upstream = start_server(tmp, "--upstream", llama_url, env=env, name="bench-up")
    results: dict[str, dict[str, list[float]]] = {}

    def record(arm: str, **values: float) -> None:
        for key, value in values.items():
            results.setdefault(arm, {}).setdefault(key, []).append(value)

    try:
        for rnd in range(args.rounds):
            for prompt in PROMPTS:
                body = {"messages": [{"role": "user", "content": prompt}],
                        "max_tokens": args.max_tokens, "temperature": 0}
                ttft, total, n = direct_arm(llm, prompt, args.max_tokens)
                record("direct", ttft=ttft, total=total, tokens=n)
                ttft, total, n = timed_stream(f"{proxy.base_url}/chat/completions",
                                              {**body, "model": proxy.model})
                record("proxy-stream", ttft=ttft, total=total, tokens=n)
                total, n = timed_whole(f"{proxy.base_url}/chat/completions",
                                       {**body, "model": proxy.model})
                record("proxy", total=total, tokens=n)
                ttft, total, n = timed_stream(f"{llama_url}/chat/completions",
                                              {**body, "model": "bench-upstream"})
                record("llama-srv-stream", ttft=ttft, total=total, tokens=n)
                ttft, total, n = timed_stream(f"{upstream.base_url}/chat/completions",
                                              {**body, "model": upstream.model})
                record("proxy-up-stream", ttft=ttft, total=total, tokens=n)
            print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)
        models_proxy = p50_ms(f"{proxy.base_url}/models")
        models_llama = p50_ms(f"{llama_url}/models")
    finally:
        stop_server(proxy.process)
        stop_server(upstream.process)
        os.killpg(llama_proc.pid, signal.SIGTERM)
        llama_proc.wait()

    r = {arm: {k: v for k, v in vals.items()} for arm, vals in results.items()}
    rate = {arm: tps(v["tokens"], v["total"]) for arm, v in r.items()}
    med_ttft = {arm: statistics.median(v["ttft"]) * 1000 for arm, v in r.items() if "ttft" in v}
    print(f"\nmodel {gguf.name}, {args.rounds} rounds x {len(PROMPTS)} prompts, "
          f"max_tokens {args.max_tokens}, greedy\n")
    print(f"{'arm':18} {'tok/s':>7} {'TTFT p50 ms':>12}")
    for arm in r:
        print(f"{arm:18} {rate[arm]:7.1f} {med_ttft.get(arm, float('nan')):12.0f}")
    print("\nratios (target: tok/s through the proxy / direct >= 0.97)")
    print(f"  proxy non-stream / direct       {rate['proxy'] / rate['direct']:.3f}")
    print(f"  proxy stream / direct           {rate['proxy-stream'] / rate['direct']:.3f}")
    print(f"  proxy-up stream / llama-srv     {rate['proxy-up-stream'] / rate['llama-srv-stream']:.3f}")
    print(f"  TTFT added, proxy vs direct     {med_ttft['proxy-stream'] - med_ttft['direct']:+.0f} ms")
    print(f"  TTFT added, proxy-up vs srv     "
          f"{med_ttft['proxy-up-stream'] - med_ttft['llama-srv-stream']:+.0f} ms")
    print(f"  GET /v1/models p50: proxy {models_proxy:.2f} ms, llama_cpp.server "
          f"{models_llama:.2f} ms (target <= 2 ms)")


if __name__ == "__main__":
    main()
