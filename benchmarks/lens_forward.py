"""Time of the Lens's numpy forward pass for k candidates, and its share of a Lens call.

    python benchmarks/lens_forward.py [--weights lens_weights/NAME.json] [--k 3] [--repeats 2000]

With ``--weights``, the shipped model is timed; without, a d=896 model of the same shape
whose weights are drawn at random *for timing only* (the cost of a forward pass does not
depend on the values; nothing here is saved or scored). Prints the median and 99th
percentile per call and, with ``--embed-s`` (a measured embedding time for k candidates,
e.g. from benchmarks/lens_embed.py), the forward pass as a fraction of the whole Lens call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.lens.model import LensModel, init_params
from proxy.lens.store import load


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path)
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--dim", type=int, default=896)
    p.add_argument("--repeats", type=int, default=2000)
    p.add_argument("--embed-s", type=float, help="measured embedding time for k candidates")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    if args.weights:
        model, _ = load(args.weights)
        what = str(args.weights)
    else:
        model = LensModel(params=init_params(args.dim, rng), mean=np.zeros(args.dim),
                          std=np.ones(args.dim))
        what = f"timing-only model of shape {args.dim}->512->128->1"
    # Un-normalised vectors of a realistic scale (the embedded backend's are not unit norm).
    vectors = rng.normal(scale=3.0, size=(args.k, model.dim))
    from proxy.lens.model import forward

    model.energy(vectors)  # builds the float32 copies
    x32 = model.features(vectors).astype(np.float32)
    ways = {
        "LensModel.energy (row by row, what the scorer runs)": lambda: model.energy(vectors),
        "one (k, d) matrix product (for comparison)": lambda: forward(model._cast, x32),
    }
    for _ in range(50):
        for f in ways.values():
            f()
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):  # interleaved, so machine load hits both alike
        for name, f in ways.items():
            t = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t)
    print(f"{what}, k={args.k}, {args.repeats} calls each, load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores:")
    for name, ts in times.items():
        ts.sort()
        print(f"  {name}: median {statistics.median(ts) * 1e6:.0f} us, "
              f"p99 {ts[int(0.99 * (len(ts) - 1))] * 1e6:.0f} us")
    med = statistics.median(times[next(iter(ways))])
    if args.embed_s:
        print(f"forward / (embedding + forward) = {med / (args.embed_s + med):.2e}")


if __name__ == "__main__":
    main()
