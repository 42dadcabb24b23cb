"""Benchmark the REST API at 10,000 entities: GET by id and search, over real HTTP.

    python bench/bench_api.py [--entities 10000] [--requests 6000] [--concurrency 16]
                              [--workers 2] [--postgres URL] [--no-sqlite]

Builds a synthetic knowledge base (the dataset of bench_store.py), adds a user and a read
token, starts `uvicorn` on 127.0.0.1 in a subprocess and drives it from this process with a
small asyncio HTTP/1.1 keep-alive client (bounded: a fixed number of requests, and a time
limit). Prints requests/s and p50/p95/p99 latency. PostgreSQL is measured too when --postgres
or JOBGRAPH_TEST_POSTGRES_URL is given (a scratch schema, dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).parent))

from bench_store import OBJECTS, VERBS, dataset, pct

from jobgraph.auth import Access, Role
from jobgraph.service import Workspace
from jobgraph.store.repository import Change

TIME_LIMIT = 120.0


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


def start_server(root: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JOBGRAPH_WORKSPACE": str(root)}
    env.pop("JOBGRAPH_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "jobgraph.api.app:app_from_env",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b"200" in s.recv(64):
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start within 30 s")


async def _fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def drive(port: int, paths: list[str], token: str, concurrency: int) -> list[float]:
    """Send every path once over ``concurrency`` keep-alive connections; latencies in s."""
    queue = list(reversed(paths))
    latencies: list[float] = []
    started = time.monotonic()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue and time.monotonic() - started < TIME_LIMIT:
                path = queue.pop()
                request = (
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {token}\r\n\r\n"
                ).encode()
                t = time.perf_counter()
                status = await _fetch(reader, writer, request)
                latencies.append(time.perf_counter() - t)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}")
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server process and its worker processes (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measure(
    label: str, server: int, port: int, paths: list[str], token: str, concurrency: int
) -> None:
    asyncio.run(drive(port, paths[:200], token, concurrency))  # warm up
    cpu = server_cpu(server)
    t = time.perf_counter()
    lat = asyncio.run(drive(port, paths, token, concurrency))
    elapsed = time.perf_counter() - t
    per_request = (server_cpu(server) - cpu) / len(lat)
    print(
        f"{label:<22} {len(lat) / elapsed:7,.0f} req/s  p50 {pct(lat, 50) * 1e3:6.2f} ms  "
        f"p95 {pct(lat, 95) * 1e3:6.2f} ms  p99 {pct(lat, 99) * 1e3:6.2f} ms  "
        f"server CPU {per_request * 1e3:5.2f} ms/req  "
        f"({len(lat)} requests, {concurrency} connections)"
    )


def run(label: str, url: str | None, args: argparse.Namespace, tmp: Path) -> None:
    root = tmp / f"ws-{label}"
    t = time.perf_counter()
    ids, token = build(root, url, args.entities)
    print(
        f"\n== {label}: {len(ids)} entities (built in {time.perf_counter() - t:.1f} s), "
        f"{args.workers} worker(s) =="
    )
    rnd = random.Random(3)
    gets = [f"/api/v1/entities/{rnd.choice(ids)}" for _ in range(args.requests)]
    searches = [
        f"/api/v1/entities?q={quote(rnd.choice(VERBS) + ' ' + rnd.choice(OBJECTS).split()[-1])}"
        f"&limit=20"
        for _ in range(max(200, args.requests // 5))
    ]
    port = free_port()
    server = start_server(root, port, args.workers)
    try:
        measure("GET /entities/{id}", server.pid, port, gets, token, args.concurrency)
        measure("GET, 1 connection", server.pid, port, gets[:1000], token, 1)
        measure("search ?q=&limit=20", server.pid, port, searches, token, args.concurrency)
        measure("search, 1 connection", server.pid, port, searches[:300], token, 1)
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=6_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", default=os.environ.get("JOBGRAPH_TEST_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_sqlite:
            run("SQLite", None, args, Path(tmp))
        if args.postgres:
            import psycopg
            from sqlalchemy.engine import make_url

            schema = f"bench_{uuid.uuid4().hex[:10]}"
            conninfo = make_url(args.postgres).set(drivername="postgresql")
            dsn = conninfo.render_as_string(hide_password=False)
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                url = f"{args.postgres}?options={quote(f'-csearch_path={schema}')}"
                run("PostgreSQL", url, args, Path(tmp))
            finally:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
