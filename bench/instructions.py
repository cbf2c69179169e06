"""Instructions per request, counted by valgrind's callgrind: unlike requests per second on a
shared machine, the count repeats within half a percent whatever else the machine does.

    ./scripts/uv run python -m bench.instructions [--servers serve uvicorn baseline]

Loads the `bench` database as `bench.load` does (unless --reuse), then, for each server in
turn: starts it under `valgrind --tool=callgrind --instr-atstart=no` (uninstrumented until
asked), warms each scenario up, counts the instructions of --requests requests sent
--concurrency at a time, and prints the count per request. Needs valgrind
(`apt-get install -y valgrind`).

The servers: `serve` is `events-face serve` (what the Dockerfile runs), `uvicorn` is plain
`uvicorn app.main:app`, `baseline` is bench/baseline.py.
"""

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx

from app.core.migrations import upgrade_to_head
from app.core.security import TokenCodec, TokenType
from bench.load import (
    DEFAULT_DATABASE_URL,
    bench_environment,
    load_catalogue,
    recreate_database,
    server,
)
from bench.system import machine
from tests.support.processes import free_port

SCENARIOS = {
    "first page": "/api/events",
    "deep page (900 of 1000)": "/api/events?page=900",
    "name filter": f"/api/events?name={quote('конференция')}",
    # The first page again, revalidated: If-None-Match with the ETag of its last answer.
    "first page, 304": "/api/events#revalidate",
}
TOTALS = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)
STARTUP_SECONDS = 300  # a Python server takes a minute or two to start under valgrind


def command(name: str, port: int) -> list[str]:
    if name == "serve":
        return [str(Path(sys.executable).with_name("events-face")), "serve", "--no-migrate"]
    target = "app.main:app" if name == "uvicorn" else "bench.baseline:app"
    extra = ["--no-access-log"] if name == "baseline" else []
    return [sys.executable, "-m", "uvicorn", target, "--log-level", "warning", *extra]


def with_port(argv: list[str], port: int) -> list[str]:
    return [*argv, "--port", str(port)]


async def send(base_url: str, path: str, token: str, count: int, concurrency: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    path, _, revalidate = path.partition("#")
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as http:
        if revalidate:
            etag = (await http.get(path)).headers.get("etag")
            http.headers["If-None-Match"] = etag or '"none"'
        queue = iter(range(count))

        async def worker() -> None:
            for _ in queue:
                response = await http.get(path)
                if response.status_code >= 400:
                    raise SystemExit(f"{path}: {response.status_code} {response.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def callgrind(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True)  # noqa: S603, S607


def count(
    pid: int, base_url: str, path: str, token: str, args: argparse.Namespace, out: Path
) -> float:
    asyncio.run(send(base_url, path, token, args.warmup, args.concurrency))
    callgrind("--zero", str(pid))
    callgrind("--instr=on", str(pid))
    asyncio.run(send(base_url, path, token, args.requests, args.concurrency))
    callgrind("--instr=off", str(pid))
    before = set(out.parent.glob(f"{out.name}*"))
    callgrind("--dump", str(pid))
    [dump] = set(out.parent.glob(f"{out.name}*")) - before
    return int(TOTALS.search(dump.read_text())[1]) / args.requests


def measure(
    name: str, env: dict[str, str], args: argparse.Namespace, token: str
) -> dict[str, float]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "callgrind.out"
        valgrind = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
        ]
        ready = f"{base_url}/health/live" if name != "baseline" else f"{base_url}/api/events"
        started = time.monotonic()
        with server(
            [*valgrind, *with_port(command(name, port), port)], env, ready, STARTUP_SECONDS
        ) as process:
            print(
                f"{name}: started under valgrind in {time.monotonic() - started:.0f} s", flush=True
            )
            return {
                label: count(process.pid, base_url, path, token, args, out)
                for label, path in SCENARIOS.items()
            }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--servers", nargs="+", default=["serve", "uvicorn", "baseline"])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("bench.instructions needs valgrind: `apt-get install -y valgrind`")
    if not args.reuse:
        asyncio.run(recreate_database(args.database_url))
        upgrade_to_head(args.database_url)
        asyncio.run(load_catalogue(args.database_url, args.events))
    env = bench_environment(args.database_url)
    # The list checks the token, not the user: any well-signed access token will do.
    codec = TokenCodec(env["JWT_SECRET_KEY"], "events-face")
    token, _ = codec.encode(str(uuid.uuid4()), TokenType.ACCESS, 3600)
    results = {name: measure(name, env, args, token) for name in args.servers}
    print(
        f"\n{machine()}; {args.requests} requests {args.concurrency} at a time, after {args.warmup}"
    )
    print("| scenario | " + " | ".join(args.servers) + " |")
    print("|---|" + "---:|" * len(args.servers))
    for label in SCENARIOS:
        cells = " | ".join(f"{results[name][label] / 1e6:.2f} M" for name in args.servers)
        print(f"| {label} | {cells} |")


if __name__ == "__main__":
    main()
