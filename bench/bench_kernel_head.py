"""Benchmark: fitting the kernel head (the default embedding head) at many training examples.

    python bench/bench_kernel_head.py                       # 10,000, 30,000 and 100,000
    python bench/bench_kernel_head.py --n 100000 --landmarks 4000

The embedding head of ``combined`` is logistic regression on a MiniLM embedding plus RBF-kernel
features over up to 4,000 landmarks (:class:`jobgraph.text.classifier.KernelHead`), so its
training memory grows with examples x (384 + landmarks). The embeddings here are synthetic --
77 noisy class centres on the 384-dimensional unit sphere, like MiniLM's -- because only the
head is measured: no torch, no data set. Each size runs in a fresh child process, so its peak
resident memory (max RSS) is its own; the accuracy on 2,000 more draws is printed as a check
that it learned something.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from typing import Any


def one_fit(n: int, landmarks: int, classes: int, seed: int) -> dict[str, Any]:
    import numpy as np

    from jobgraph.text.classifier import KernelHead

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, 384)).astype(np.float32)

    def draw(rows: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, classes, rows)
        x = centres[y] + 6.0 * rng.normal(size=(rows, 384)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True), y

    x, y = draw(n)
    test_x, test_y = draw(2000)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    started = time.perf_counter()
    head = KernelHead.fit(x, y, classes, C=20.0, seed=seed, landmarks=landmarks, gamma=1.0)
    seconds = time.perf_counter() - started
    accuracy = float((head.log_proba(test_x).argmax(axis=1) == test_y).mean())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    return {"n": n, "seconds": seconds, "peak_gb": peak, "data_gb": base, "accuracy": accuracy}


def _child(queue: Any, n: int, landmarks: int, classes: int, seed: int) -> None:
    queue.put(one_fit(n, landmarks, classes, seed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="10000,30000,100000", help="comma list of example counts")
    parser.add_argument("--landmarks", type=int, default=4000)
    parser.add_argument("--classes", type=int, default=77)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    for n in (int(v) for v in args.n.split(",")):
        queue = ctx.Queue()
        child = ctx.Process(target=_child, args=(queue, n, args.landmarks, args.classes, args.seed))
        child.start()
        row = queue.get()
        child.join()
        print(
            f"kernel head  n={row['n']:>7,}  landmarks={args.landmarks}"
            f"  fit {row['seconds']:6.1f} s"
            f"  peak RSS {row['peak_gb']:.2f} GB (data alone {row['data_gb']:.2f} GB)"
            f"  held-out accuracy {row['accuracy']:.3f}"
        )


if __name__ == "__main__":
    main()
