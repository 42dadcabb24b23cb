"""Benchmark the knowledge base at 10,000 entities: import, export, get, search, save, validate.

    python bench/bench_store.py [--entities 10000] [--postgres URL]

Generates its dataset on the fly (a synthetic contact-centre knowledge base), prints figures.
PostgreSQL is measured too when --postgres or JOBGRAPH_TEST_POSTGRES_URL is given (a scratch
schema is created and dropped).
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from jobgraph.domain.entities import Entity, Evidence, Job, Metric, Outcome, Persona, StackRelation
from jobgraph.service import Workspace
from jobgraph.store.files import write_export

VERBS = [
    "resolve",
    "verify",
    "dispute",
    "understand",
    "cancel",
    "transfer",
    "renew",
    "report",
    "track",
    "update",
    "confirm",
    "replace",
    "activate",
    "close",
    "claim",
]
OBJECTS = [
    "a billing anomaly",
    "a card payment",
    "a delivery",
    "an account",
    "a refund",
    "a contract",
    "an address",
    "a password",
    "a subscription",
    "a claim",
    "a fee",
]
CIRCS = [
    "a charge looks wrong",
    "a card is blocked",
    "a parcel is late",
    "I move house",
    "a payment fails",
    "my plan renews",
    "I travel abroad",
    "a letter arrives",
]


def dataset(n: int, seed: int = 7) -> list[Entity]:
    rnd = random.Random(seed)
    n_jobs = int(n * 0.4)
    n_out = int(n * 0.4)
    n_small = (n - n_jobs - n_out) // 4
    out: list[Entity] = []
    for i in range(n_jobs):
        verb, obj, circ = rnd.choice(VERBS), rnd.choice(OBJECTS), rnd.choice(CIRCS)
        out.append(
            Job(
                id=f"job.{verb}-{i}",
                title=f"{verb.capitalize()} {obj} #{i}",
                owner="cx-lead",
                statement=f"When {circ}, I want to {verb} {obj}, so I can get on with my day.",
                importance=rnd.randint(1, 10),
                underserved=rnd.random() < 0.4,
                level="high_level" if i < n_small else "prime",
            )
        )
    for i in range(n_out):
        job = out[rnd.randrange(n_jobs)]
        out.append(
            Outcome(
                id=f"outcome.o-{i}",
                title=f"Outcome {i}",
                owner="cx-lead",
                job=job.id,
                statement="Minimize the time it takes to "
                f"{rnd.choice(VERBS)} {rnd.choice(OBJECTS)} when {rnd.choice(CIRCS)}",
            )
        )
    for i in range(n_small):
        out.append(
            Persona(
                id=f"persona.p-{i}",
                title=f"Persona {i}",
                owner="cx-lead",
                goals=["get it done in one contact"],
                jobs=[out[rnd.randrange(n_jobs)].id],
            )
        )
        out.append(
            Evidence(
                id=f"evidence.e-{i}",
                title=f"Interview {i}",
                owner="cx-lead",
                evidence_kind="interview",
                source="switch interviews",
                collected_on="2026-01-01",
                summary="notes",
                supports=[out[rnd.randrange(n_jobs)].id],
            )
        )
        out.append(
            StackRelation(
                id=f"stack.s-{i}",
                title=f"Stack {i}",
                owner="cx-lead",
                parent=out[i].id,
                child=out[n_small + i].id,
            )
        )
        out.append(
            Metric(
                id=f"metric.m-{i}",
                title=f"Metric {i}",
                owner="cx-lead",
                measures="repeat contacts",
                unit="percent",
                direction="decrease",
                jobs=[out[rnd.randrange(n_jobs)].id],
            )
        )
    return out


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def run(label: str, url: str | None, n: int, tmp: Path) -> None:
    entities = dataset(n)
    src = tmp / f"src-{label}"
    write_export(src, entities)
    (src / "jobgraph-export.yaml").unlink()
    ws = Workspace.init(tmp / f"ws-{label}", database_url=url, author="bench")
    try:
        t_import = timed(lambda: ws.import_folder(src, author="bench"))
        t_export = timed(lambda: ws.export(tmp / f"out-{label}"))
        t_validate = timed(ws.validate)
        ids = [e.id for e in entities]
        rnd = random.Random(1)
        gets = []
        for _ in range(2000):
            eid = rnd.choice(ids)
            gets.append(timed(functools.partial(ws.get, eid)))
        searches = []
        for _ in range(200):
            q = f"{rnd.choice(VERBS)} {rnd.choice(OBJECTS).split()[-1]}"
            searches.append(timed(functools.partial(ws.search, q, limit=20)))
        saves = []
        for i in range(100):
            rec = ws.get(ids[i])
            rename = functools.partial(
                ws.update,
                rec.id,
                {"title": f"renamed {i}"},
                expected_version=rec.version,
                author="b",
            )
            saves.append(timed(rename))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\n== {label}: {n} entities ==")
        print(
            f"import (one transaction, all checks)  {t_import:7.2f} s  "
            f"({n / t_import:,.0f} entities/s)"
        )
        print(f"export (one YAML file each)           {t_export:7.2f} s")
        print(f"validate whole knowledge base         {t_validate:7.2f} s")
        print(
            f"get by id      p50 {pct(gets, 50) * 1e3:6.2f} ms  p99 {pct(gets, 99) * 1e3:6.2f} ms"
            f"  ({len(gets) / sum(gets):,.0f} gets/s, one thread, in-process)"
        )
        print(
            f"search         p50 {pct(searches, 50) * 1e3:6.2f} ms  "
            f"p95 {pct(searches, 95) * 1e3:6.2f} ms"
        )
        print(
            f"update (save)  p50 {pct(saves, 50) * 1e3:6.2f} ms  "
            f"p99 {pct(saves, 99) * 1e3:6.2f} ms  (lint + revision + links)"
        )
        print(f"peak RSS so far {rss:,.0f} MiB; mean get {statistics.mean(gets) * 1e3:.2f} ms")
    finally:
        ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--postgres", default=os.environ.get("JOBGRAPH_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--tmp",
        type=Path,
        default=Path.cwd(),
        help="Where to put the scratch workspace (the disk being measured).",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix=".bench-") as tmp:
        run("sqlite", None, args.entities, Path(tmp))
        if args.postgres:
            import psycopg
            from sqlalchemy.engine import make_url

            conninfo = (
                make_url(args.postgres)
                .set(drivername="postgresql")
                .render_as_string(hide_password=False)
            )
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                url = f"{args.postgres}?options={quote(f'-csearch_path={schema}')}"
                run("postgresql", url, args.entities, Path(tmp))
            finally:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            print("\n(PostgreSQL not measured: pass --postgres URL)")


if __name__ == "__main__":
    main()
