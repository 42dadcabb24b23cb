"""Contact-to-job classification on Banking77: accuracy, k-shot curves, speed and memory.

Held-out protocol (the official test split is not available here): ``train.csv`` (10,003
utterances, 77 intents) is split per intent with ``jobgraph.text.split(examples, 0.2, seed=0)``
-- each intent's rows are shuffled with ``random.Random(0)`` and round(20%) go to the test part
-- giving 8,005 training and 1,998 test utterances. k-shot runs draw k training examples per
intent with ``jobgraph.text.k_shot(train, k, seed)`` for seeds 0, 1, 2 and are scored on the
same 1,998 test utterances.

Every run is a separate process, so the peak resident memory (RSS) it reports is its own.
Single-core figures: run as

    taskset -c 1 env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        .venv/bin/python bench/bench_classify.py --methods lexical,combined,finetuned

Prints one line per run and, with --json FILE, writes every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DATA = Path("/work/shared/data/banking77/train.csv")


def one_run(
    data: Path, method: str, k: int | None, seed: int, keep: Path | None = None
) -> dict[str, Any]:
    """Train on the held-out protocol's training part, save, reload, score on the test part."""
    from jobgraph.text import Method, TrainSettings, k_shot, load, read_examples, split, train
    from jobgraph.text.evaluate import evaluate

    examples = read_examples(data, "text", "category")
    train_set, test_set = split(examples, 0.2, seed=0)
    if k is not None:
        train_set = k_shot(train_set, k, seed)
    started, cpu = time.perf_counter(), time.process_time()
    model = train(train_set, TrainSettings(method=Method(method), seed=seed))
    train_seconds = time.perf_counter() - started
    train_cpu = time.process_time() - cpu
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save(keep if keep is not None else Path(tmp) / "model")
        size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        loaded = load(folder)
        texts = list(test_set.texts)
        loaded.predict(texts[:50])  # warm-up: first-call overheads are not throughput
        timings = []
        for _ in range(3):  # the median of three: single runs vary by a fifth on this machine
            getattr(loaded.encoder, "_cache", {}).clear()  # each timed run embeds every text
            started, cpu = time.perf_counter(), time.process_time()
            loaded.predict(texts)
            timings.append((time.perf_counter() - started, time.process_time() - cpu))
        predict_seconds, predict_cpu = sorted(timings)[1]
        result = evaluate(loaded, test_set)
        cascade: dict[str, Any] = {}
        if loaded.fast is not None:
            sure = loaded.fast.predict_proba(texts).max(axis=1) >= loaded.fast_threshold
            loaded.fast = None  # the full model alone, on every contact
            alone = evaluate(loaded, test_set)
            cascade = {
                "fast_threshold": round(model.fast_threshold, 4),
                "answered_fast": round(float(sure.mean()), 4),
                "full_model_alone_accuracy": round(alone.accuracy, 4),
            }
    return {
        "method": method,
        "k": k,
        "seed": seed,
        "n_train": len(train_set),
        "n_test": len(test_set),
        "accuracy": round(result.accuracy, 4),
        "macro_f1": round(result.macro_f1, 4),
        "ece": round(result.ece, 4),
        "lexical_weight": model.lexical_weight,
        "coverage_at_0.5": round(result.coverage, 4),
        "covered_accuracy_at_0.5": round(result.covered_accuracy or 0.0, 4),
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(train_cpu, 1),
        "predictions_per_second": round(len(texts) / predict_seconds, 1),
        "predictions_per_cpu_second": round(len(texts) / predict_cpu, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model_mb": round(size_mb, 1),
        "threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or os.cpu_count(),
        **cascade,
    }


def cascade_curve(data: Path, folder: Path) -> None:
    """For a kept model with a first stage, on the held-out part: how many contacts the first
    stage answers, the accuracy, and the measured predictions per second, at several
    thresholds (the model's own first, then fixed ones; "full" = the full model alone)."""
    import numpy as np

    from jobgraph.text import load, read_examples, split

    model = load(folder)
    if model.fast is None:
        sys.exit(f"{folder}: this model has no first stage")
    _, test_set = split(read_examples(data, "text", "category"), 0.2, seed=0)
    texts = list(test_set.texts)
    truth = np.array([model.labels.index(label) for label in test_set.labels])
    fast = model.fast
    own = model.fast_threshold
    model.predict(texts[:50])  # warm-up
    print(f"threads {os.environ.get('OMP_NUM_THREADS', os.cpu_count())}, {len(texts)} contacts")
    for cut in (own, 0.99, 0.95, 0.9, 0.8, 0.7, 0.5, 0.0, None):
        model.fast, model.fast_threshold = (None, 1.0) if cut is None else (fast, cut)
        getattr(model.encoder, "_cache", {}).clear()
        started = time.perf_counter()
        proba = model.predict_proba(texts)
        seconds = time.perf_counter() - started
        answered = (
            float((fast.predict_proba(texts).max(axis=1) >= cut).mean()) if cut is not None else 0
        )
        accuracy = float((proba.argmax(axis=1) == truth).mean())
        name = "full" if cut is None else f"{cut:.4f}" + (" (the model's)" if cut == own else "")
        print(
            f"threshold {name:>20}  first stage answers {answered:6.1%}  accuracy "
            f"{accuracy:.4f}  {len(texts) / seconds:7.0f} predictions/s",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--methods", default="lexical,combined,finetuned")
    parser.add_argument("--k-shots", default="5,10,all", help="comma list; 'all' = full data")
    parser.add_argument("--seeds", default="0,1,2", help="seeds for the k-shot draws")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--keep", type=Path, help="with one method and k: keep its model folder")
    parser.add_argument(
        "--curve",
        type=Path,
        metavar="MODEL_DIR",
        help="a kept cascaded model: accuracy and speed at several first-stage thresholds",
    )
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "K", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        method, k, seed = args.one
        kept = one_run(args.data, method, None if k == "all" else int(k), int(seed), args.keep)
        print(json.dumps(kept))
        return
    if args.curve:
        cascade_curve(args.data, args.curve)
        return
    if not args.data.is_file():
        sys.exit(f"{args.data}: not found; pass --data path/to/banking77/train.csv")
    runs: list[dict[str, Any]] = []
    for method in args.methods.split(","):
        for k in args.k_shots.split(","):
            seeds = ["0"] if k == "all" else args.seeds.split(",")
            for seed in seeds:
                proc = subprocess.run(
                    [sys.executable, __file__, "--data", str(args.data), "--one", method, k, seed],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if proc.returncode:
                    print(proc.stderr, file=sys.stderr)
                    sys.exit(f"run {method} k={k} seed={seed} failed")
                run = json.loads(proc.stdout.strip().splitlines()[-1])
                runs.append(run)
                print(
                    f"{method:10} k={k:>3} seed={seed}  acc {run['accuracy']:.4f}  "
                    f"macro-F1 {run['macro_f1']:.4f}  ECE {run['ece']:.3f}  "
                    f"cov@0.5 {run['coverage_at_0.5']:.3f} "
                    f"(acc {run['covered_accuracy_at_0.5']:.3f})"
                    f"  train {run['train_seconds']:.0f}s (CPU {run['train_cpu_seconds']:.0f}s)"
                    f"  {run['predictions_per_second']:.0f}/s"
                    f" ({run['predictions_per_cpu_second']:.0f}/CPU-s)  "
                    f"RSS {run['peak_rss_mb']:.0f} MB  model {run['model_mb']:.0f} MB"
                    + (
                        f"  fast stage answers {run['answered_fast']:.1%}, full model alone "
                        f"{run['full_model_alone_accuracy']:.4f}"
                        if "answered_fast" in run
                        else ""
                    ),
                    flush=True,
                )
    print("\nmean over seeds:")
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["method"], run["k"]), []).append(run)
    for (method, k), group in groups.items():
        accs = [r["accuracy"] for r in group]
        spread = f" ± {statistics.stdev(accs):.4f}" if len(accs) > 1 else ""
        print(
            f"{method:10} k={'all' if k is None else k:>3}  acc {statistics.fmean(accs):.4f}"
            f"{spread}  macro-F1 {statistics.fmean(r['macro_f1'] for r in group):.4f}"
            f"  ({len(group)} seed(s))"
        )
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2) + "\n")


if __name__ == "__main__":
    main()
