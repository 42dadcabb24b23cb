"""Benchmark the REST API at 10,000 entities: GET by id and search, over real HTTP.

    .venv/bin/python bench/bench_api.py [--quick] [--entities 10000] [--workers 2]
        [--connections 16] [--rate 1000] [--server-cpus 0,1] [--client-cpus 0,1]
        [--postgres URL] [--no-sqlite] [--no-postgres]

For each backend (SQLite file; PostgreSQL when --postgres or JOBGRAPH_TEST_POSTGRES_URL is
given, in a scratch schema dropped afterwards) it builds a synthetic knowledge base (the
dataset of bench_store.py), adds a viewer with a read token, starts the real server as
production would (what `jobgraph serve --workers N` runs: uvicorn with uvloop and httptools,
on 127.0.0.1 and a free port) in a subprocess, and drives it from this process with a lean
asyncio HTTP/1.1 keep-alive client. Every phase is bounded by a request count and a time limit.

Phases, each after a warm-up:
  GET closed loop   N connections send requests back to back: the most the server answers.
  GET at a rate     requests start on a fixed schedule (--rate per second) over up to N
                    connections; latency counts from the scheduled start, so queueing is
                    included (no coordinated omission). This is the target's measurement.
  search            GET /api/v1/entities?q=two words&limit=20, closed loop on 4 connections
                    and on 1.

Server CPU per request is read from /proc for the server and its workers. The target (issue 6):
GET >= 1,000 requests/s with p99 < 50 ms, search p95 < 100 ms. On a busy machine the figures
say more about the neighbours than about jobgraph: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).parent))

from bench_store import OBJECTS, VERBS, dataset, pct

from jobgraph.auth import Access, Role
from jobgraph.service import Workspace
from jobgraph.store.repository import Change

GET_TARGET_RPS = 1000
GET_TARGET_P99_MS = 50
SEARCH_TARGET_P95_MS = 100


@dataclass(frozen=True)
class Plan:
    gets: int
    rate_seconds: float
    searches: int
    warmup: int
    time_limit: float


FULL = Plan(gets=20_000, rate_seconds=10.0, searches=2_000, warmup=1_000, time_limit=60.0)
QUICK = Plan(gets=4_000, rate_seconds=3.0, searches=400, warmup=300, time_limit=20.0)


def cpus(text: str | None) -> set[int] | None:
    return {int(c) for c in text.split(",")} if text else None


def build(root: Path, url: str | None, n: int) -> tuple[list[str], str]:
    ws = Workspace.init(root, database_url=url, author="bench")
    try:
        entities = dataset(n)
        now = datetime.now(UTC)
        for start in range(0, len(entities), 2000):
            batch = entities[start : start + 2000]
            ws.kb.write([Change(e, None, "create") for e in batch], "bench", "bench data", now)
        access = Access(ws)
        access.add_user("bench", Role.VIEWER, actor="bench")
        token = access.create_token("bench", name="bench", actor="bench").secret
        return [e.id for e in entities], token
    finally:
        ws.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(root: Path, workers: int, pin: set[int] | None) -> Iterator[tuple[int, int]]:
    """The API on a free port, as `jobgraph serve --workers N` runs it (uvicorn with the app
    factory, log level warning); yields (pid, port). uvicorn is started directly: its
    workers then import the app only, not the whole command line, and start within uvicorn's
    five-second health check even on a busy machine."""
    port = free_port()
    env = {**os.environ, "JOBGRAPH_WORKSPACE": str(root)}
    env.pop("JOBGRAPH_DATABASE_URL", None)
    command = [sys.executable, "-m", "uvicorn", "jobgraph.api.app:app_from_env", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    command += ["--workers", str(workers)]
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, pin)) if pin else None,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start (see its messages above)")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if b" 200 " in s.recv(64):
                        break
            except OSError:
                time.sleep(0.2)
        yield proc.pid, port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Connection:
    """One keep-alive HTTP/1.1 connection: send a GET, read the status and the body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def get(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        start = head.lower().find(b"content-length:")
        if start >= 0:
            end = head.index(b"\r\n", start)
            await self.reader.readexactly(int(head[start + 15 : end]))
        return status

    def close(self) -> None:
        self.writer.close()


def request_bytes(path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()


async def closed_loop(
    port: int, requests: list[bytes], connections: int, time_limit: float
) -> tuple[list[float], float]:
    """Each connection sends its next request as soon as the last one is answered."""
    queue = list(reversed(requests))
    latencies: list[float] = []
    conns = [await Connection.open(port) for _ in range(connections)]
    started = time.perf_counter()

    async def run(conn: Connection) -> None:
        while queue and time.perf_counter() - started < time_limit:
            request = queue.pop()
            t = time.perf_counter()
            status = await conn.get(request)
            latencies.append(time.perf_counter() - t)
            if status != 200:
                raise RuntimeError(f"{request.split(b' ')[1].decode()} answered {status}")

    try:
        await asyncio.gather(*(run(c) for c in conns))
    finally:
        for c in conns:
            c.close()
    return latencies, time.perf_counter() - started


async def at_rate(
    port: int, requests: list[bytes], connections: int, rate: float, time_limit: float
) -> tuple[list[float], float]:
    """Start request i at start + i / rate on a free connection; latency from that moment."""
    due: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    conns = [await Connection.open(port) for _ in range(connections)]
    started = time.perf_counter()

    async def schedule() -> None:
        for i, request in enumerate(requests):
            at = started + i / rate
            wait = at - time.perf_counter()
            if wait > 0.0005:
                await asyncio.sleep(wait)
            if time.perf_counter() - started > time_limit:
                break
            due.put_nowait((at, request))
        for _ in conns:
            due.put_nowait(None)

    async def run(conn: Connection) -> None:
        while (item := await due.get()) is not None:
            at, request = item
            status = await conn.get(request)
            latencies.append(time.perf_counter() - at)
            if status != 200:
                raise RuntimeError(f"{request.split(b' ')[1].decode()} answered {status}")

    try:
        await asyncio.gather(schedule(), *(run(c) for c in conns))
    finally:
        for c in conns:
            c.close()
    return latencies, time.perf_counter() - started


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server process and its worker processes (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Result:
    label: str
    latencies: list[float]
    elapsed: float
    server_ms: float
    client_ms: float
    connections: int

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed

    def ms(self, p: float) -> float:
        return pct(self.latencies, p) * 1e3

    def line(self) -> str:
        return (
            f"  {self.label:<28} {self.rps:7,.0f} req/s  p50 {self.ms(50):7.2f}  "
            f"p95 {self.ms(95):7.2f}  p99 {self.ms(99):7.2f} ms   "
            f"CPU/req server {self.server_ms:.2f} ms, client {self.client_ms:.2f} ms   "
            f"({len(self.latencies):,} requests, {self.connections} conn.)"
        )


Run = Callable[[], Coroutine[Any, Any, tuple[list[float], float]]]


def measure(label: str, pid: int, connections: int, go: Run) -> Result:
    cpu, own = server_cpu(pid), client_cpu()
    latencies, elapsed = asyncio.run(go())
    n = max(1, len(latencies))
    result = Result(
        label,
        latencies,
        elapsed,
        (server_cpu(pid) - cpu) / n * 1e3,
        (client_cpu() - own) / n * 1e3,
        connections,
    )
    print(result.line(), flush=True)
    return result


def run(label: str, url: str | None, args: argparse.Namespace, plan: Plan, tmp: Path) -> None:
    root = tmp / f"ws-{label}"
    t = time.perf_counter()
    ids, token = build(root, url, args.entities)
    print(
        f"\n== {label}: {len(ids):,} entities (built in {time.perf_counter() - t:.1f} s), "
        f"uvicorn --workers {args.workers}, load average {os.getloadavg()[0]:.2f} ==",
        flush=True,
    )
    rnd = random.Random(3)

    def gets(n: int) -> list[bytes]:
        return [request_bytes(f"/api/v1/entities/{rnd.choice(ids)}", token) for _ in range(n)]

    def searches(n: int) -> list[bytes]:
        return [
            request_bytes(
                "/api/v1/entities?limit=20&q="
                + quote(f"{rnd.choice(VERBS)} {rnd.choice(OBJECTS).split()[-1]}"),
                token,
            )
            for _ in range(n)
        ]

    limit, conns = plan.time_limit, args.connections
    with server(root, args.workers, cpus(args.server_cpus)) as (pid, port):
        asyncio.run(closed_loop(port, gets(plan.warmup), conns, limit))
        asyncio.run(closed_loop(port, searches(plan.warmup // 10), 4, limit))
        closed = measure(
            "GET by id, closed loop",
            pid,
            conns,
            lambda: closed_loop(port, gets(plan.gets), conns, limit),
        )
        n_rate = int(args.rate * plan.rate_seconds)
        rated = measure(
            f"GET by id at {args.rate:,}/s",
            pid,
            conns,
            lambda: at_rate(port, gets(n_rate), conns, args.rate, limit),
        )
        measure("GET by id, 1 connection", pid, 1, lambda: closed_loop(port, gets(1000), 1, limit))
        found = measure(
            "search q=2 words, limit 20",
            pid,
            4,
            lambda: closed_loop(port, searches(plan.searches), 4, limit),
        )
        measure(
            "search, 1 connection",
            pid,
            1,
            lambda: closed_loop(port, searches(plan.searches // 4), 1, limit),
        )
    get_ok = rated.rps >= 0.97 * args.rate and rated.ms(99) < GET_TARGET_P99_MS
    print(
        f"  target GET >= {GET_TARGET_RPS:,}/s with p99 < {GET_TARGET_P99_MS} ms: "
        f"{'met' if get_ok and args.rate >= GET_TARGET_RPS else 'NOT met'} "
        f"(at {rated.rps:,.0f}/s p99 {rated.ms(99):.1f} ms; closed loop {closed.rps:,.0f}/s "
        f"p99 {closed.ms(99):.1f} ms)"
    )
    print(
        f"  target search p95 < {SEARCH_TARGET_P95_MS} ms: "
        f"{'met' if found.ms(95) < SEARCH_TARGET_P95_MS else 'NOT met'} "
        f"(p95 {found.ms(95):.1f} ms on 4 connections)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, shorter phases")
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--connections", type=int, default=16, help="client connections")
    parser.add_argument("--rate", type=int, default=GET_TARGET_RPS, help="GET/s, paced phase")
    parser.add_argument("--server-cpus", help="pin the server to these CPUs, e.g. 1")
    parser.add_argument("--client-cpus", help="pin this client to these CPUs, e.g. 0")
    parser.add_argument("--postgres", default=os.environ.get("JOBGRAPH_TEST_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    client = cpus(args.client_cpus)
    if client:
        os.sched_setaffinity(0, client)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # a leaner client
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
        f"server CPUs {args.server_cpus or 'any'}, client CPUs {args.client_cpus or 'any'} "
        f"(nice {os.nice(0)}); client: asyncio{'+uvloop' if 'uvloop' in sys.modules else ''} "
        f"HTTP/1.1 keep-alive, {args.connections} connections; "
        f"{'quick' if args.quick else 'full'} run; latencies in ms"
    )
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_sqlite:
            run("SQLite", None, args, plan, Path(tmp))
        if args.postgres and not args.no_postgres:
            import psycopg
            from sqlalchemy.engine import make_url

            schema = f"bench_{uuid.uuid4().hex[:10]}"
            conninfo = make_url(args.postgres).set(drivername="postgresql")
            dsn = conninfo.render_as_string(hide_password=False)
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                url = f"{args.postgres}?options={quote(f'-csearch_path={schema}')}"
                run("PostgreSQL", url, args, plan, Path(tmp))
            finally:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        elif not args.no_postgres:
            print("\n(PostgreSQL skipped: pass --postgres URL or set JOBGRAPH_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
