"""Benchmark ODI scoring: 1,000,000 respondents x 50 outcomes with bootstrap CIs.

    python bench/bench_odi.py [--respondents 1000000] [--outcomes 50] [--csv-respondents 100000]

Builds the survey in memory (flat arrays, as the readers produce), scores it for everyone and per
segment with 2,000 bootstrap resamples, and prints time and peak memory. It also times reading a
wide CSV file of --csv-respondents rows end to end (parse + checks + scoring).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from jobgraph.analytics.odi import score
from jobgraph.analytics.survey import Scale, Survey, read_survey


def synthetic(n: int, k: int, seed: int = 1) -> Survey:
    rng = np.random.default_rng(seed)
    imp_p = rng.uniform(0.2, 0.95, size=k)
    sat_p = rng.uniform(0.1, 0.9, size=k)
    imp = np.where(
        rng.random((n, k)) < imp_p, rng.integers(4, 6, (n, k)), rng.integers(1, 4, (n, k))
    ).astype(np.float32)
    sat = np.where(
        rng.random((n, k)) < sat_p, rng.integers(4, 6, (n, k)), rng.integers(1, 4, (n, k))
    ).astype(np.float32)
    sat[rng.random((n, k)) < 0.02] = np.nan  # some skipped answers
    ids = np.array([f"r{i}" for i in range(n)], dtype=object)
    regions = np.array(["north", "south", "east", "west", "central"])[rng.integers(0, 5, n)]
    return Survey(
        respondent_ids=ids,
        outcome_ids=tuple(f"outcome.o{j}" for j in range(k)),
        respondent=np.repeat(np.arange(n, dtype=np.int32), k),
        outcome=np.tile(np.arange(k, dtype=np.int32), n),
        importance=imp.reshape(-1),
        satisfaction=sat.reshape(-1),
        attributes=pd.DataFrame({"region": regions}, index=pd.Index(ids)),
        scale=Scale(1, 5, 4),
        source="synthetic",
    )


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--respondents", type=int, default=1_000_000)
    parser.add_argument("--outcomes", type=int, default=50)
    parser.add_argument("--boot", type=int, default=2000)
    parser.add_argument("--csv-respondents", type=int, default=100_000)
    args = parser.parse_args()

    t = time.perf_counter()
    sv = synthetic(args.respondents, args.outcomes)
    print(
        f"built {args.respondents:,} x {args.outcomes} survey "
        f"({len(sv.importance):,} ratings) in {time.perf_counter() - t:.1f} s"
    )

    import tracemalloc

    tracemalloc.start()
    t = time.perf_counter()
    table = score(sv, n_boot=args.boot)
    t_all = time.perf_counter() - t
    scoring_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    t = time.perf_counter()
    seg = score(sv, segment_by="region", n_boot=args.boot)
    t_seg = time.perf_counter() - t
    print(
        f"score, everyone:            {t_all:6.2f} s  ({len(table.scores)} outcome scores, "
        f"{args.boot} bootstrap resamples each)"
    )
    print(f"score, everyone + 5 regions: {t_seg:6.2f} s  ({len(seg.scores)} scores)")
    print(
        f"peak memory: {peak_mib():,.0f} MiB in all (building the synthetic survey included); "
        f"scoring itself allocated at most {scoring_peak:,.0f} MiB more"
    )

    n_csv = args.csv_respondents
    small = synthetic(n_csv, args.outcomes, seed=2)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide.csv"
        imp = small.importance.reshape(n_csv, -1)
        sat = small.satisfaction.reshape(n_csv, -1)
        cols = {"respondent_id": small.respondent_ids}
        for j, o in enumerate(small.outcome_ids):
            cols[f"{o}:importance"] = pd.array(imp[:, j], dtype="Int64")
            cols[f"{o}:satisfaction"] = pd.Series(sat[:, j]).astype("Int64")
        cols["region"] = small.attributes["region"].to_numpy()
        pd.DataFrame(cols).to_csv(path, index=False)
        size = path.stat().st_size / 2**20
        t = time.perf_counter()
        parsed = read_survey(path, "wide")
        t_read = time.perf_counter() - t
        t = time.perf_counter()
        score(parsed, segment_by="region", n_boot=args.boot)
        t_score = time.perf_counter() - t
    print(
        f"wide CSV {n_csv:,} x {args.outcomes} ({size:.0f} MiB): read + check {t_read:.2f} s, "
        f"score {t_score:.2f} s ({n_csv / t_read:,.0f} respondents/s to read)"
    )
    print(f"peak memory: {peak_mib():,.0f} MiB")

    from jobgraph.analytics.odi import respondent_profiles
    from jobgraph.analytics.segmentation import segment_respondents

    seg_survey = synthetic(100_000, args.outcomes, seed=3)
    t = time.perf_counter()
    result = segment_respondents(respondent_profiles(seg_survey), seg_survey.attributes)
    print(
        f"segment 100,000 x {args.outcomes} (k 2-6, 50 bootstrap refits): "
        f"{time.perf_counter() - t:.1f} s, verdict {result.verdict.value}"
    )
    print(f"peak memory: {peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
