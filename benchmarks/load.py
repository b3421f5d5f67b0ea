"""Bounded load, disconnects and slow readers against a server on loopback; then fairness.

    python benchmarks/load.py [--url http://127.0.0.1:8080] [--clients 24] [--seconds 180]

Starts its own server (embedded default model) unless --url is given. Loopback only; every
loop is bounded in count and time, and the script stops by itself. It prints:
  - requests sent, answered (200), refused cleanly (OpenAI error object), failed otherwise
    (transport errors other than our own disconnects, 5xx, malformed bodies);
  - the server's RSS, threads and asyncio tasks at start, after warm-up and at the end
    (from /health), and RSS growth after warm-up (target: within 10%);
  - fairness: the latency of a short plain request alone, and while an `atlas` pipeline
    request runs on the same model (target: at most about one candidate generation).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import start_server, stop_server  # noqa: E402

PROMPTS = ["Say hi.", "Name a colour.", "What is 2+2?", "Write def f(): pass in Python.",
           "Count to five.", "Explain recursion in one sentence."]


class Tally:
    def __init__(self) -> None:
        self.sent = self.ok = self.refused = self.disconnected = 0
        self.failures: list[str] = []


async def one_client(base: str, model: str, tally: Tally, deadline: float,
                     rng: random.Random) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(300, connect=10)) as client:
        while time.monotonic() < deadline:
            body = {"model": model, "messages": [{"role": "user", "content": rng.choice(PROMPTS)}],
                    "max_tokens": rng.randint(4, 48), "stream": True}
            mode = rng.random()
            tally.sent += 1
            try:
                async with client.stream("POST", f"{base}/v1/chat/completions", json=body) as r:
                    if r.status_code != 200:
                        payload = json.loads(await r.aread())
                        if r.status_code < 500 or r.status_code == 503:
                            assert set(payload) == {"error"}
                            tally.refused += 1
                        else:
                            tally.failures.append(f"{r.status_code}: {payload}")
                        continue
                    lines = 0
                    done = False
                    async for line in r.aiter_lines():
                        lines += 1
                        if mode < 0.2 and lines >= 3:  # disconnect mid-stream
                            tally.disconnected += 1
                            break
                        if mode > 0.85:  # slow reader
                            await asyncio.sleep(0.3)
                        if line == "data: [DONE]":
                            done = True
                    if mode >= 0.2:
                        if done:
                            tally.ok += 1
                        else:
                            tally.failures.append("stream ended without [DONE]")
            except httpx.HTTPError as exc:
                tally.failures.append(f"transport: {type(exc).__name__}")


async def health(base: str) -> dict:
    async with httpx.AsyncClient(timeout=30) as c:
        return (await c.get(f"{base}/health")).json()


async def timed_plain(base: str, model: str) -> float:
    body = {"model": model, "messages": [{"role": "user", "content": "Say hi."}],
            "max_tokens": 8, "temperature": 0}
    async with httpx.AsyncClient(timeout=600) as c:
        t = time.perf_counter()
        (await c.post(f"{base}/v1/chat/completions", json=body)).raise_for_status()
        return time.perf_counter() - t


async def fairness(base: str, model: str) -> None:
    alone = [await timed_plain(base, model) for _ in range(3)]
    task = {"model": "atlas", "max_tokens": 512, "messages": [{"role": "user", "content":
            "Write a Python function is_prime(n) that returns True if n is prime.\n"
            ">>> is_prime(7)\nTrue\n>>> is_prime(8)\nFalse"}]}
    async with httpx.AsyncClient(timeout=900) as c:
        t0 = time.perf_counter()
        pipeline = asyncio.ensure_future(c.post(f"{base}/v1/chat/completions", json=task))
        waits = []
        while not pipeline.done() and len(waits) < 5:
            await asyncio.sleep(2)
            waits.append(await timed_plain(base, model))
        r = await pipeline
        total = time.perf_counter() - t0
    usage = r.json().get("usage", {}) if r.status_code == 200 else {}
    print(f"\nfairness: plain request alone p50 {statistics.median(alone):.2f}s; "
          f"during an atlas request ({total:.0f}s, {usage.get('completion_tokens', '?')} "
          f"completion tokens): p50 {statistics.median(waits):.2f}s, max {max(waits):.2f}s "
          f"over {len(waits)} requests")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url")
    ap.add_argument("--clients", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=180)
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-fairness", action="store_true")
    args = ap.parse_args()
    server = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        server = start_server(Path("/tmp"), env={"ATLAS_EMBEDDED_QUEUE_MAX": "16"},
                              name="load")
        base = server.root
    try:
        model = (await health(base))["model"]
        start = (await health(base))["process"]
        rng = random.Random(args.seed)
        tally = Tally()
        deadline = time.monotonic() + args.seconds
        clients = [asyncio.ensure_future(one_client(base, model, tally, deadline,
                                                    random.Random(rng.random())))
                   for _ in range(args.clients)]
        await asyncio.sleep(min(args.warmup, args.seconds))
        warm = (await health(base))["process"]
        await asyncio.gather(*clients)
        await asyncio.sleep(2)  # let cancelled generations wind down
        end = (await health(base))["process"]
        print(f"{args.clients} clients for {args.seconds:.0f}s: sent {tally.sent}, "
              f"answered {tally.ok}, refused cleanly {tally.refused}, "
              f"disconnected on purpose {tally.disconnected}, other failures "
              f"{len(tally.failures)}")
        for failure in tally.failures[:10]:
            print("  failure:", failure)
        for name, snap in (("start", start), ("after warm-up", warm), ("end", end)):
            print(f"  {name:14} rss {snap['rss_mb']:.0f} MB, threads {snap['threads']}, "
                  f"tasks {snap['tasks']}")
        growth = (end["rss_mb"] - warm["rss_mb"]) / warm["rss_mb"] * 100
        print(f"  RSS growth after warm-up: {growth:+.1f}% (target within 10%)")
        if not args.no_fairness:
            await fairness(base, model)
    finally:
        if server:
            stop_server(server.process)


if __name__ == "__main__":
    asyncio.run(main())
