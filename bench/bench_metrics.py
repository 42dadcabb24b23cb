"""Benchmark: the job metric panel by job on N synthetic contacts.

    python bench/bench_metrics.py                 # 10M contacts: DuckDB vs the pandas reference
    python bench/bench_metrics.py --n 1000000 --spark
    python bench/bench_metrics.py --n 100000000 --no-pandas   # out of core: time and peak memory
    python bench/bench_metrics.py --window-plan   # also DuckDB's window plan (the one Spark runs)

Contacts are generated (seeded, realistic: repeat chains, channel hopping, abandonment, sparse
surveys) into Parquet files in a temporary folder, then each engine computes the full panel by
job from those files, joining the reason -> job mapping on the way, exactly as
``jobgraph metrics compute`` does. Each engine runs in a fresh child process so its peak memory
(max RSS) is its own. The DuckDB result is checked against the reference when both run.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MAPPING = {
    "billing-question": "job.understand-my-bill",
    "unexpected-charge": "job.resolve-billing-anomaly",
    "payment-failed": "job.resolve-billing-anomaly",
    "card-lost": "job.keep-my-money-safe",
    "password-reset": "job.get-back-into-my-account",
    "address-change": "job.keep-my-details-current",
    "delivery-late": "job.get-my-order",
    "cancel-service": "job.end-my-contract",
    "technical-fault": "job.get-service-working",
    "complaint": "job.feel-heard",
    "plan-upgrade": "job.get-a-better-plan",
    # refund-status stays unmapped: its contacts form the null job group
}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(engine: str, folder: str, out: Any) -> None:
    import pandas as pd

    from jobgraph.analytics.panel import mapped_contacts

    start = time.perf_counter()
    if engine == "pandas":
        import pyarrow.dataset as ds

        from jobgraph.analytics.job_metrics import job_metric_panel

        table = ds.dataset(folder, format="parquet").to_table()
        df = table.to_pandas()
        df["job_id"] = df["reason"].map(MAPPING)
        panel = job_metric_panel(df, group_by=("job_id",))
    else:
        from jobgraph.analytics.panel import compute_panel, connect

        name, _, plan = engine.partition("-")
        backend = connect(name, spark_master="local[2]")
        t = mapped_contacts(backend, f"{folder}/*.parquet", MAPPING)
        panel = compute_panel(t, backend=backend, group_by=("job_id",), plan=plan or None)
    seconds = time.perf_counter() - start
    panel = panel.sort_values("job_id", na_position="last").reset_index(drop=True)
    out.put(
        {
            "engine": engine,
            "seconds": seconds,
            "peak_mib": _peak_mib(),
            "panel": panel.to_json(orient="records"),
            "contacts": int(pd.to_numeric(panel["contacts"]).sum()),
        }
    )


def run(engine: str, folder: Path) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_run, args=(engine, str(folder), out))
    proc.start()
    result: dict[str, Any] = out.get()
    proc.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=5_000_000)
    parser.add_argument("--no-pandas", action="store_true")
    parser.add_argument("--spark", action="store_true")
    parser.add_argument(
        "--window-plan", action="store_true", help="also time DuckDB's window plan (Spark's plan)"
    )
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this folder")
    args = parser.parse_args()

    from jobgraph.analytics.synthetic import write_parquet

    folder = args.keep or Path(tempfile.mkdtemp(prefix="jobgraph-bench-"))
    try:
        if not any(folder.glob("*.parquet")):
            start = time.perf_counter()
            write_parquet(folder, args.n, batch=args.batch)
            size = sum(f.stat().st_size for f in folder.glob("*.parquet")) / 2**20
            print(
                f"generated {args.n:,} contacts in {time.perf_counter() - start:.1f} s "
                f"({size:,.0f} MiB of Parquet)"
            )
        engines = ["duckdb"]
        if args.window_plan:
            engines.append("duckdb-window")
        if args.spark:
            engines.append("spark")
        if not args.no_pandas:
            engines.append("pandas")
        results = {e: run(e, folder) for e in engines}
        for engine, r in results.items():
            print(
                f"{engine:>13}: {r['seconds']:7.2f} s  peak RSS {r['peak_mib']:8,.0f} MiB  "
                f"({r['contacts']:,} contacts)"
            )
        if "pandas" in results:
            ratio = results["pandas"]["seconds"] / results["duckdb"]["seconds"]
            print(f"DuckDB is {ratio:.1f}x faster than the pandas reference")
        base = json.loads(results["duckdb"]["panel"])
        for engine in results:
            if engine == "duckdb":
                continue
            other = json.loads(results[engine]["panel"])
            same = _same(base, other)
            print(f"duckdb and {engine} panels agree: {same}")
            if not same:
                return 1
        print("panel (duckdb), first rows:")
        for row in base[:3]:
            keep = ("job_id", "contacts", "repeat_rate", "fcr", "abandonment_rate")
            print("  ", {k: row[k] for k in keep})
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    import math

    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for key, value in x.items():
            other = y[key]
            if isinstance(value, float) or isinstance(other, float):
                if value is None or other is None:
                    if value is not other:
                        return False
                elif not math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif value != other:
                return False
    return True


if __name__ == "__main__":
    sys.exit(main())
