"""Load on the list and on login, with wrk, against the served app and a minimal baseline.

    make bench            # or: ./scripts/uv run python -m bench.load [--duration 10]

Recreates the PostgreSQL database `bench` (it must end in `bench`), migrates it, loads
generated events with the sync's own upserts, registers a user, then starts two servers of one
uvicorn process each: `events-face serve --no-migrate` and `bench.baseline` (Starlette +
asyncpg doing the same work as the list). Each scenario gets a short warm-up, then a timed wrk
run at fixed concurrency, one server at a time. Prints a markdown table and writes it into
bench/README.md. Needs wrk on PATH (Debian/Ubuntu: `apt-get install -y wrk`).
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.core.database import Database, create_engine
from app.core.migrations import upgrade_to_head
from app.events.service import Catalogue
from app.events.version import LatestVersion
from app.provider.records import read_event
from app.sync.generator import generate_events
from bench.system import machine, stop
from tests.support.processes import free_port, service_environment

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"
USERNAME, PASSWORD = "bench-user", "bench-password-1"
BATCH = 1000
WRK_TIMEOUT = "30s"  # a login queued behind 31 others (Argon2) takes seconds; not an error
README_BEGIN, README_END = "<!-- load:begin -->", "<!-- load:end -->"


@dataclass(frozen=True)
class Scenario:
    label: str
    path: str
    body: str | None = None
    baseline: bool = True
    revalidate: bool = False  # sent with If-None-Match: the ETag of the page's last answer


@dataclass(frozen=True)
class Figures:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


SCENARIOS = (
    Scenario("list, first page", "/api/events"),
    Scenario("list, deep page (900 of 1000)", "/api/events?page=900"),
    Scenario("list, name filter `конференция`", f"/api/events?name={quote('конференция')}"),
    Scenario("list, first page revalidated (304)", "/api/events", revalidate=True, baseline=False),
    Scenario(
        "login (Argon2)",
        "/api/auth/login",
        body=json.dumps({"username": USERNAME, "password": PASSWORD}),
        baseline=False,
    ),
)


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit(
            "bench.load needs wrk on PATH: `apt-get install -y wrk` (Debian/Ubuntu), "
            "`brew install wrk` (macOS)"
        )


def asyncpg_dsn(database_url: str, database: str | None = None) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.set(database=database or url.database).render_as_string(hide_password=False)


async def execute(dsn: str, *statements: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def recreate_database(database_url: str) -> None:
    name = make_url(database_url).database or ""
    if not name.endswith("bench"):
        raise SystemExit("refusing to drop a database whose name does not end in 'bench'")
    await execute(
        asyncpg_dsn(database_url, "postgres"),
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}"',
    )


async def load_catalogue(database_url: str, count: int) -> None:
    events = [event for event in map(read_event, generate_events(count, seed=5)) if event]
    database = Database(create_engine(database_url))
    async with database.transaction() as work:
        catalogue = Catalogue(work, LatestVersion(0))
        for start in range(0, len(events), BATCH):
            await catalogue.apply(events[start : start + BATCH])
    await database.dispose()
    # Planner statistics and the visibility map, as a database that has lived a while has them.
    await execute(asyncpg_dsn(database_url), "VACUUM ANALYZE")


def bench_environment(database_url: str) -> dict[str, str]:
    """The served app as the Dockerfile runs it (an access line per request, one JSON object
    a line), with no background work and out of the rate limiter's reach."""
    return service_environment(
        database_url,
        RATE_LIMIT_AUTH="1000000/minute",
        LOG_LEVEL="INFO",
        LOG_FORMAT="json",
        EVENT_RETENTION_DAYS="3650",  # the start-up cleanup would delete the past events
        BASELINE_DATABASE_URL=asyncpg_dsn(database_url),
    )


@contextmanager
def server(
    command: list[str], env: dict[str, str], ready_url: str, startup_seconds: float = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs `command` until the block ends, however it ends; waits for `ready_url` to answer."""
    # Its lines go nowhere: what writing them costs the server is measured, not the sink's.
    process = subprocess.Popen(  # noqa: S603
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + startup_seconds
        while not answers(ready_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start: {' '.join(command)}")
            time.sleep(0.2)
        yield process
    finally:
        stop(process)


def answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code < 500
    except httpx.TransportError:
        return False


def register(base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/api/auth/register", json={"username": USERNAME, "password": PASSWORD}
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def comparable_page(base_url: str, path: str, token: str) -> object:
    """The page, with `next`/`previous` reduced to path and query (the ports differ)."""
    response = httpx.get(f"{base_url}{path}", headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    page = response.json()
    for link in ("next", "previous"):
        if page[link]:
            page[link] = httpx.URL(page[link]).raw_path.decode()
    return page


def wrk(
    url: str, scenario: Scenario, token: str, args: argparse.Namespace, seconds: int
) -> Figures:
    env = {**os.environ, "WRK_TOKEN": token, "WRK_METHOD": "POST" if scenario.body else "GET"}
    if scenario.body:
        env["WRK_BODY"] = scenario.body
    if scenario.revalidate:
        answer = httpx.get(url + scenario.path, headers={"Authorization": f"Bearer {token}"})
        env["WRK_IF_NONE_MATCH"] = answer.headers["etag"]
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s"]
    command += [f"--timeout={WRK_TIMEOUT}"]
    command += ["-s", str(BENCH_DIR / "wrk.lua"), url + scenario.path]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    figures = json.loads(output.stdout.strip().splitlines()[-1])
    return Figures(
        requests_per_second=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=figures["non_2xx"] + figures["socket_errors"],
    )


def median_round(rounds: list[Figures]) -> Figures:
    return sorted(rounds, key=lambda figures: figures.requests_per_second)[len(rounds) // 2]


def measure(
    targets: list[str], scenario: Scenario, token: str, args: argparse.Namespace
) -> list[Figures]:
    """Warms each target up, then times `args.rounds` rounds that alternate between the
    targets, so that all meet the same background load; returns each one's median round."""
    for url in targets:
        wrk(url, scenario, token, args, seconds=2)  # pools, caches, prepared statements
    rounds: dict[str, list[Figures]] = {url: [] for url in targets}
    for _ in range(args.rounds):
        for url in targets:
            rounds[url].append(wrk(url, scenario, token, args, seconds=args.duration))
    medians = [median_round(rounds[url]) for url in targets]
    for url, figures in zip(targets, medians, strict=True):
        print(f"  {url}{scenario.path}: {figures}", flush=True)
    return medians


def cell(figures: Figures | None) -> str:
    if figures is None:
        return "— | — | —"
    errors = f" ({figures.errors} errors)" if figures.errors else ""
    rate = f"{figures.requests_per_second:,.0f}{errors}"
    return f"{rate} | {figures.p50_ms:.1f} | {figures.p99_ms:.1f}"


def ratio(ours: Figures, baseline: Figures | None) -> str:
    if baseline is None:
        return "—"
    return f"{ours.requests_per_second / baseline.requests_per_second:.2f}"


Row = tuple[Scenario, dict[str, Figures]]


def table(rows: list[Row]) -> str:
    lines = [
        "| scenario | `serve` req/s | p50 ms | p99 ms | plain `uvicorn` req/s | p50 ms | p99 ms "
        "| baseline req/s | p50 ms | p99 ms | ratio `serve` | ratio `uvicorn` |",
        "|---|" + "---:|" * 11,
    ]
    for scenario, figures in rows:
        serve, uvicorn, baseline = figures["serve"], figures["uvicorn"], figures.get("baseline")
        lines.append(
            f"| {scenario.label} | {cell(serve)} | {cell(uvicorn)} | {cell(baseline)} "
            f"| {ratio(serve, baseline)} | {ratio(uvicorn, baseline)} |"
        )
    return "\n".join(lines)


def report(rows: list[Row], memory: dict[str, float], args: argparse.Namespace) -> str:
    rss = ", ".join(f"`{name}` {mib:.0f} MiB" for name, mib in memory.items())
    return (
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, Python "
        f"{platform.python_version()}, PostgreSQL on localhost, {args.events:,} events; "
        f"`wrk -t{args.threads} -c{args.connections} -d{args.duration}s --timeout "
        f"{WRK_TIMEOUT}`; each figure is the median of {args.rounds} rounds that alternate "
        "between the servers (after a 2 s warm-up each); each server is one uvicorn "
        "process (uvloop, httptools), loaded one at a time; ours log each request as a JSON "
        "line (to /dev/null). Resident memory after the reads (`serve` also registered the "
        f"bench's user: one Argon2 hash): {rss}.\n\n"
        f"{table(rows)}\n"
    )


def write_readme(text: str, begin: str = README_BEGIN, end: str = README_END) -> None:
    """Puts `text` between the markers `begin` and `end` of bench/README.md."""
    readme = BENCH_DIR / "README.md"
    current = readme.read_text()
    start, end_at = current.index(begin) + len(begin), current.index(end)
    readme.write_text(f"{current[:start]}\n{text}{current[end_at:]}")


def print_and_record(text: str, wrong: list[str], *, to_readme: bool, begin: str, end: str) -> int:
    """Prints the figures and what was wrong; writes them into bench/README.md only when
    nothing was, and when asked; the exit status."""
    print(text)
    for line in wrong:
        print(f"!!! ERROR: {line} !!!", file=sys.stderr)
    if to_readme and not wrong:
        write_readme(text, begin, end)
    return 1 if wrong else 0


# What each server runs: ours as the Dockerfile runs it and as plain uvicorn, and the yardstick.
SERVERS = {
    "serve": [str(Path(sys.executable).with_name("events-face")), "serve", "--no-migrate"],
    "uvicorn": [sys.executable, "-m", "uvicorn", "app.main:app"],
    "baseline": [sys.executable, "-m", "uvicorn", "bench.baseline:app", "--no-access-log"],
}


def resident_mib(process: subprocess.Popen[bytes]) -> float:
    status = Path(f"/proc/{process.pid}/status").read_text()
    [kib] = [line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")]
    return int(kib) / 1024


def run_scenarios(args: argparse.Namespace, database_url: str) -> str:
    env = bench_environment(database_url)
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in SERVERS}
    with ExitStack() as stack:
        processes = {
            name: stack.enter_context(
                server(
                    [*command, "--port", urls[name].rsplit(":", 1)[1]],
                    env,
                    f"{urls[name]}/api/events"
                    if name == "baseline"
                    else f"{urls[name]}/health/ready",  # as a load balancer polls it
                )
            )
            for name, command in SERVERS.items()
        }
        token = register(urls["serve"])
        rows: list[Row] = []
        memory: dict[str, float] = {}
        for scenario in SCENARIOS:
            if scenario.body and not memory:  # before the logins: each hash holds 64 MiB a while
                memory = {name: resident_mib(processes[name]) for name in ("serve", "uvicorn")}
            print(f"{scenario.label}:", flush=True)
            names = [name for name in SERVERS if scenario.baseline or name != "baseline"]
            if scenario.baseline:
                expected = comparable_page(urls["serve"], scenario.path, token)
                for name in names:
                    if comparable_page(urls[name], scenario.path, token) != expected:
                        raise SystemExit(f"{name}'s page differs from ours: {scenario.path}")
            figures = measure([urls[name] for name in names], scenario, token, args)
            rows.append((scenario, dict(zip(names, figures, strict=True))))
    return report(rows, memory, args)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per server (median)")
    parser.add_argument("--no-readme", action="store_true", help="print, do not write README")
    args = parser.parse_args()
    require_wrk()
    # SIGTERM unwinds like Ctrl-C does, so that the servers are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    asyncio.run(recreate_database(args.database_url))
    upgrade_to_head(args.database_url)
    asyncio.run(load_catalogue(args.database_url, args.events))
    print(f"loaded {args.events:,} events into {make_url(args.database_url).database}")
    text = run_scenarios(args, args.database_url)
    print(text)
    if not args.no_readme:
        write_readme(text)


if __name__ == "__main__":
    main()
