"""When sales open (SPEC §8): thousands of visitors register at once, for one event.

    make bench-sales      # or: ./scripts/uv run --frozen python -m bench.sales [--quick]

6,000 distinct users each POST one registration, 64 in flight, round-robin over two processes
of each contender, on PostgreSQL: (a) for one event of 5,000 seats, (b) user i for event
i % 20 of 20 events of 250 seats. The contenders: `events-face serve --no-migrate`, and the two
limits of `bench.sales_limits` (the seat taken on the event's row, or from 16 bucket rows). A
round gives each contender in turn a fresh copy of the same database (made once from a
template: migrations, the events loaded through the sync's upserts, the users, the buckets),
starts its two processes, warms them up on an event of their own, runs (a), then (b), then
300 registrations one at a time against one process, whose CPU time is read from /proc, and
stops them. Every request carries a token of its own, minted beforehand, and an email of its
own. Afterwards the seats held (active registrations) are counted in the database: exactly
the capacity, or the run is reported as wrong and the command fails. Prints a markdown table
of the medians over the rounds and writes it into bench/README.md (unless --no-readme).
"""

import argparse
import asyncio
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import asyncpg
import orjson
import uvloop
from pwdlib import PasswordHash
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from app.auth.models import User
from app.core.database import Database, create_engine
from app.core.migrations import upgrade_to_head
from app.core.security import TokenCodec, TokenType
from app.events.service import Catalogue
from app.events.version import LatestVersion
from app.provider.records import ProviderEvent
from app.registrations.models import ACTIVE_STATUSES, Registration
from bench.load import (
    asyncpg_dsn,
    bench_environment,
    execute,
    recreate_database,
    server,
    write_readme,
)
from bench.sales_limits import BUCKETS
from bench.system import cpu_seconds, machine, require_bench_database
from tests.support.processes import free_port

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/salesbench"
README_BEGIN, README_END = "<!-- sales:begin -->", "<!-- sales:end -->"
SQLITE_BEGIN, SQLITE_END = "<!-- sales-sqlite:begin -->", "<!-- sales-sqlite:end -->"
SQLITE = "events-face on SQLite (one process)"
HOST = "127.0.0.1"
TIMEOUT_SECONDS = 120  # an answer later than this counts as none (status 0)
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
CONNECTION_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)
SPREAD_EVENTS = 20
WARM_UP = 640  # registrations, on an event of their own, before each contender's first run
ONE_AT_A_TIME = 300
ISSUER = "events-face"  # the service's default JWT_ISSUER
EVENTS = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")  # the namespace of the events' ids
SERVE = [str(Path(sys.executable).with_name("events-face")), "serve", "--no-migrate"]
LIMIT = [sys.executable, "-m", "uvicorn", "--no-access-log"]
# Each contender: how its process starts (with --port appended) and its readiness path.
CONTENDERS = {
    "events-face": (SERVE, "/health/ready"),
    "naive limit (one row)": ([*LIMIT, "bench.sales_limits:naive"], "/health"),
    "bucket limit (16 rows)": ([*LIMIT, "bench.sales_limits:buckets"], "/health"),
}
TRIVIAL = ([*LIMIT, "bench.sales_limits:trivial"], "/")


def event_id(name: str) -> uuid.UUID:
    return uuid.uuid5(EVENTS, name)


HOT, WARM, SEQUENTIAL = event_id("hot"), event_id("warm-up"), event_id("one at a time")
SPREAD = [event_id(f"spread {n}") for n in range(SPREAD_EVENTS)]


@dataclass(frozen=True)
class Answer:
    started: float
    ended: float
    status: int


@dataclass(frozen=True)
class Run:
    answers: list[Answer]
    started: float
    driver_cpu: float  # seconds of the driver's (this process's) CPU
    app_cpu: float  # seconds of the contender's processes' CPU


@dataclass(frozen=True)
class Figures:
    requests_per_second: float
    registrations_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    full_per_second: float | None  # the requests answered after the first 409
    statuses: dict[int, int]
    seats_held: int
    driver_us: float  # per request
    app_us: float  # per request, both processes


# -- the database


def with_database(database_url: str, name: str) -> str:
    return make_url(database_url).set(database=name).render_as_string(hide_password=False)


def template_url(database_url: str) -> str:
    return with_database(database_url, f"template_{make_url(database_url).database}")


def sale(name: str, seats: int, now: datetime) -> ProviderEvent:
    return ProviderEvent.model_validate(
        {
            "id": str(event_id(name)),
            "name": f"Продажи открыты: {name}",
            "place": {"id": str(uuid.uuid4()), "name": "Арена", "seats_pattern": f"A1-{seats}"},
            "event_time": now + timedelta(days=30),
            "registration_deadline": now + timedelta(days=29),
            "status": "published",
            "changed_at": now,
            "created_at": now,
        }
    )


def seats(args: argparse.Namespace) -> dict[str, int]:
    """Each event's seats, by name."""
    spread = {f"spread {n}": args.seats // SPREAD_EVENTS for n in range(SPREAD_EVENTS)}
    return {"hot": args.seats, **spread, "warm-up": WARM_UP, "one at a time": ONE_AT_A_TIME}


def capacities(args: argparse.Namespace) -> dict[uuid.UUID, int]:
    return {event_id(name): count for name, count in seats(args).items()}


def user_ids(count: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=n + 1, version=4) for n in range(count)]


def build_template(runner: asyncio.Runner, database_url: str, args: argparse.Namespace) -> None:
    """Migrated, the events loaded through the sync's own upserts, the users inserted with one
    password hash, and the bucket limit's table."""
    runner.run(recreate_database(database_url))
    upgrade_to_head(database_url)  # Alembic runs an event loop of its own
    runner.run(fill_template(database_url, args))


async def fill_template(database_url: str, args: argparse.Namespace) -> None:
    now = datetime.now(UTC)
    events = [sale(name, count, now) for name, count in seats(args).items()]
    database = Database(create_engine(database_url))
    async with database.transaction() as work:
        await Catalogue(work, LatestVersion(0)).apply(events)
    await database.dispose()
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = user_rows(args, now)
        users = [tuple(user.values()) for user in rows]
        await connection.copy_records_to_table("users", records=users, columns=list(rows[0]))
        stored = dict(await connection.fetch("SELECT id, capacity FROM events"))
        if stored != capacities(args):
            raise SystemExit(f"the events were not stored with the seats asked for: {stored}")
        await connection.execute(
            "CREATE TABLE bench_seat_buckets (event_id uuid, bucket integer, free integer,"
            " PRIMARY KEY (event_id, bucket))"
        )
        await connection.execute(
            "INSERT INTO bench_seat_buckets SELECT id, bucket,"
            " capacity / $1 + (bucket < capacity % $1)::integer"
            " FROM events, generate_series(0, $1 - 1) AS bucket",
            BUCKETS,
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def user_rows(args: argparse.Namespace, now: datetime) -> list[dict[str, object]]:
    """The users, each with the same password hash (made once: Argon2 is slow on purpose)."""
    password_hash = _password_hash()
    return [
        {
            "id": user,
            "username": f"visitor-{n}",
            "email": None,
            "password_hash": password_hash,
            "is_active": True,
            "is_staff": False,
            "created_at": now,
        }
        for n, user in enumerate(user_ids(args.users))
    ]


@cache
def _password_hash() -> str:
    return PasswordHash.recommended().hash("sales-bench-password-1")


async def fresh_copy(database_url: str) -> None:
    name = make_url(database_url).database
    template = make_url(template_url(database_url)).database
    await execute(
        asyncpg_dsn(database_url, "postgres"),
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}" TEMPLATE "{template}"',
    )


async def seats_held(database_url: str, events: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Each event's active registrations, counted in the database (either)."""
    database = Database(create_engine(database_url))
    try:
        async with database.transaction() as work:
            rows = await work.session.execute(
                select(Registration.event_id, func.count())
                .where(
                    Registration.stored_status.in_(ACTIVE_STATUSES),
                    Registration.event_id.in_(events),
                )
                .group_by(Registration.event_id)
            )
            held = {event: count for event, count in rows}
    finally:
        await database.dispose()
    return {event: 0 for event in events} | held


# -- SQLite: one process, one writer


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def build_sqlite_template(runner: asyncio.Runner, path: Path, args: argparse.Namespace) -> None:
    """As for PostgreSQL: migrated, the events through the sync's upserts, the users."""
    path.unlink(missing_ok=True)
    upgrade_to_head(sqlite_url(path))
    runner.run(fill_sqlite(sqlite_url(path), args))


async def fill_sqlite(database_url: str, args: argparse.Namespace) -> None:
    now = datetime.now(UTC)
    database = Database(create_engine(database_url))
    try:
        async with database.transaction() as work:
            events = [sale(name, count, now) for name, count in seats(args).items()]
            await Catalogue(work, LatestVersion(0)).apply(events)
            await work.session.execute(insert(User), user_rows(args, now))
    finally:
        await database.dispose()


# -- the driver


def registration_requests(
    codec: TokenCodec,
    users: list[uuid.UUID],
    events: list[uuid.UUID],
    label: str,
    ports: list[int],
) -> list[bytes]:
    """User n registers for events[n % len(events)] at ports[n % len(ports)], with a token
    minted for this request: each request as it goes on the wire."""
    made = []
    for n, user in enumerate(users):
        token, _ = codec.encode(str(user), TokenType.ACCESS, 3600)
        body = orjson.dumps({"full_name": f"Посетитель {n}", "email": f"{label}-{n}@example.com"})
        head = (
            f"POST /api/events/{events[n % len(events)]}/register HTTP/1.1\r\n"
            f"Host: {HOST}:{ports[n % len(ports)]}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        made.append(head.encode() + body)
    return made


async def drive(ports: list[int], batch: list[bytes], concurrency: int) -> list[Answer]:
    """Sends request n to ports[n % len(ports)], `concurrency` at a time: each worker sends its
    next request as soon as its last is answered, on a kept-alive connection to each port.
    HTTP/1.1 by hand, so that the client's CPU stays small beside the servers' on two cores
    (aiohttp's took two to four times as much)."""
    answers = [Answer(0, 0, 0)] * len(batch)
    order = iter(range(len(batch)))

    async def worker() -> None:
        streams: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        for n in order:
            port, started = ports[n % len(ports)], time.perf_counter()
            try:
                async with asyncio.timeout(TIMEOUT_SECONDS):
                    if port not in streams:
                        streams[port] = await asyncio.open_connection(HOST, port)
                    reader, writer = streams[port]
                    writer.write(batch[n])
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = CONTENT_LENGTH.search(head)
                    await reader.readexactly(int(length[1]) if length else 0)
                status = int(head[9:12])
                if not length or CONNECTION_CLOSE.search(head):
                    streams.pop(port)[1].close()
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                status = 0
                if port in streams:
                    streams.pop(port)[1].close()
            answers[n] = Answer(started, time.perf_counter(), status)
        for _, writer in streams.values():
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return answers


def timed(
    runner: asyncio.Runner, ports: list[int], batch: list[bytes], concurrency: int, pids: list[int]
) -> Run:
    app_before, driver_before = sum(map(cpu_seconds, pids)), time.process_time()
    started = time.perf_counter()
    answers = runner.run(drive(ports, batch, concurrency))
    driver_cpu = time.process_time() - driver_before
    return Run(answers, started, driver_cpu, sum(map(cpu_seconds, pids)) - app_before)


def figures(run: Run, held: int) -> Figures:
    answers = run.answers
    ended = max(answer.ended for answer in answers)
    created = [answer.ended for answer in answers if answer.status == 201]
    full = min((answer.ended for answer in answers if answer.status == 409), default=ended)
    after_full = [answer for answer in answers if answer.ended > full]
    cuts = statistics.quantiles([(a.ended - a.started) * 1000 for a in answers], n=100)
    return Figures(
        requests_per_second=len(answers) / (ended - run.started),
        registrations_per_second=len(created) / (max(created) - run.started) if created else 0,
        p50_ms=cuts[49],
        p95_ms=cuts[94],
        p99_ms=cuts[98],
        full_per_second=len(after_full) / (ended - full) if after_full else None,
        statuses=dict(sorted(Counter(answer.status for answer in answers).items())),
        seats_held=held,
        driver_us=run.driver_cpu / len(answers) * 1e6,
        app_us=run.app_cpu / len(answers) * 1e6,
    )


# -- the rounds


@dataclass
class Results:
    scenarios: dict[str, dict[str, list[Figures]]]  # scenario → contender → one per round
    one_at_a_time_ms: dict[str, list[float]]  # contender → app CPU per registration
    wrong: list[str]


def scenarios(args: argparse.Namespace) -> dict[str, list[uuid.UUID]]:
    return {
        f"one event × {args.seats:,} seats": [HOT],
        f"{SPREAD_EVENTS} events × {args.seats // SPREAD_EVENTS:,} seats": SPREAD,
    }


def check_seats(
    label: str, held: dict[uuid.UUID, int], expected: dict[uuid.UUID, int], created: int
) -> list[str]:
    wrong = [
        f"{label}: event {event} holds {seats:,} seats, its capacity is {expected[event]:,}"
        for event, seats in held.items()
        if seats != expected[event]
    ]
    if created != sum(held.values()):
        wrong.append(f"{label}: {created:,} answers 201, {sum(held.values()):,} seats held")
    for line in wrong:
        print(f"\n!!! ERROR: {line} !!!\n", file=sys.stderr, flush=True)
    return wrong


@contextmanager
def two_processes(
    command: list[str], ready: str, env: dict[str, str]
) -> Iterator[tuple[list[int], list[int]]]:
    """Two processes of `command`, each on a port of its own, until the block ends however it
    ends; yields their ports and pids."""
    with ExitStack() as stack:
        ports = [free_port(), free_port()]
        processes = [
            stack.enter_context(
                server([*command, "--port", str(port)], env, f"http://{HOST}:{port}{ready}")
            )
            for port in ports
        ]
        yield ports, [process.pid for process in processes]


def contender_round(
    runner: asyncio.Runner, name: str, args: argparse.Namespace, results: Results
) -> None:
    runner.run(fresh_copy(args.database_url))
    env = bench_environment(args.database_url)
    with two_processes(*CONTENDERS[name], env) as (ports, pids):
        measure_round(runner, name, args, results, Served(args.database_url, env, ports, pids))


def sqlite_round(
    runner: asyncio.Runner, template: Path, args: argparse.Namespace, results: Results
) -> None:
    """events-face alone, one process (SQLite has one writer), on a copy of the template."""
    copy = template.with_name("sales.db")
    shutil.copyfile(template, copy)
    env = bench_environment(sqlite_url(copy))
    port = free_port()
    with server([*SERVE, "--port", str(port)], env, f"http://{HOST}:{port}/health/ready") as app:
        measure_round(
            runner, SQLITE, args, results, Served(sqlite_url(copy), env, [port], [app.pid])
        )


@dataclass(frozen=True)
class Served:
    database_url: str
    env: dict[str, str]
    ports: list[int]
    pids: list[int]


def measure_round(
    runner: asyncio.Runner, name: str, args: argparse.Namespace, results: Results, served: Served
) -> None:
    """The warm-up, (a), (b) and the requests one at a time, against the processes started."""
    codec = TokenCodec(served.env["JWT_SECRET_KEY"], ISSUER)
    users, expected, ports, pids = user_ids(args.users), capacities(args), served.ports, served.pids
    warm_up = registration_requests(codec, users[:WARM_UP], [WARM], "warm-up", ports)
    runner.run(drive(ports, warm_up, args.concurrency))
    for label, events in scenarios(args).items():
        batch = registration_requests(codec, users, events, "visitor", ports)
        run = timed(runner, ports, batch, args.concurrency, pids)
        held = runner.run(seats_held(served.database_url, events))
        created = sum(answer.status == 201 for answer in run.answers)
        results.wrong += check_seats(f"{name}, {label}", held, expected, created)
        found = figures(run, sum(held.values()))
        results.scenarios[label][name].append(found)
        print(f"  {name}, {label}: {found}", flush=True)
    one = users[:ONE_AT_A_TIME]
    batch = registration_requests(codec, one, [SEQUENTIAL], "one-at-a-time", ports[:1])
    run = timed(runner, ports[:1], batch, 1, pids[:1])
    if any(answer.status != 201 for answer in run.answers):
        statuses = Counter(answer.status for answer in run.answers)
        results.wrong.append(f"{name}, one at a time: {dict(statuses)}")
    results.one_at_a_time_ms[name].append(run.app_cpu / len(batch) * 1000)
    print(f"  {name}, one at a time: {results.one_at_a_time_ms[name][-1]:.2f} ms", flush=True)


def driver_ceiling(runner: asyncio.Runner, args: argparse.Namespace) -> Figures:
    """The driver against two processes of a server that does nothing."""
    env = bench_environment(args.database_url)
    codec = TokenCodec(env["JWT_SECRET_KEY"], ISSUER)
    with two_processes(*TRIVIAL, env) as (ports, pids):
        batch = registration_requests(codec, user_ids(args.users), [HOT], "trivial", ports)
        runner.run(drive(ports, batch[:WARM_UP], args.concurrency))
        run = timed(runner, ports, batch, args.concurrency, pids)
    return figures(run, 0)


# -- the report


def median(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def number(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def table(args: argparse.Namespace, results: Results) -> str:
    (hot, one), (spread, many) = scenarios(args).items()

    def cells(scenario: str, field: str, digits: int = 0) -> list[str]:
        runs = results.scenarios[scenario]
        return [number(median(getattr(f, field) for f in runs[name]), digits) for name in runs]

    def held(scenario: str, events: list[uuid.UUID], shown: str) -> list[str]:
        capacity = sum(capacities(args)[event] for event in events)
        cells = []
        for runs in results.scenarios[scenario].values():
            counts = [f"{f.seats_held:,}" for f in runs if f.seats_held != capacity]
            cells.append(f"**{', '.join(counts)} ≠ {capacity:,}**" if counts else shown)
        return cells

    latencies = zip(*(cells(hot, f"p{q}_ms", 1) for q in (50, 95, 99)), strict=True)
    rates, p99s = cells(spread, "requests_per_second"), cells(spread, "p99_ms", 1)
    spread_rates = zip(rates, p99s, strict=True)
    rows = [
        (f"{hot}: requests/s", cells(hot, "requests_per_second")),
        ("… registrations/s (the 201s)", cells(hot, "registrations_per_second")),
        ("… p50 / p95 / p99 ms", [" / ".join(three) for three in latencies]),
        ("… the 409s once full: requests/s", cells(hot, "full_per_second")),
        ("… seats held afterwards", held(hot, one, f"{args.seats:,}")),
        (f"{spread}: requests/s (p99 ms)", [f"{r} ({p99})" for r, p99 in spread_rates]),
        ("… registrations/s (the 201s)", cells(spread, "registrations_per_second")),
        (
            "… seats held afterwards",
            held(spread, many, f"{len(many)} × {capacities(args)[many[0]]:,}"),
        ),
        (
            "app CPU per registration, one request at a time (ms)",
            [number(median(ms), 2) for ms in results.one_at_a_time_ms.values()],
        ),
    ]
    names = list(results.one_at_a_time_ms)
    lines = ["| load | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    lines += [f"| {label} | " + " | ".join(values) + " |" for label, values in rows]
    return "\n".join(lines)


def other_answers(results: Results) -> str:
    """Any answer but 201 and 409 (0: no answer), by run."""
    lines = [
        f"{name}, {scenario}, round {n}: {f.statuses}"
        for scenario, runs in results.scenarios.items()
        for name, figures_by_round in runs.items()
        for n, f in enumerate(figures_by_round, 1)
        if set(f.statuses) - {201, 409}
    ]
    return "".join(f"\n\nOther answers: {line}." for line in lines)


def targets(args: argparse.Namespace, results: Results) -> str:
    """SPEC §8's targets, as ratios of the medians."""
    (hot, _), (spread, _) = scenarios(args).items()
    ours, naive, buckets = CONTENDERS

    def m(scenario: str, name: str, field: str) -> float:
        return median(getattr(f, field) for f in results.scenarios[scenario][name]) or 0.0

    def ratio(scenario: str, field: str, yardstick: str) -> str:
        theirs = m(scenario, yardstick, field)
        return f"{m(scenario, ours, field) / theirs:.2f}" if theirs else "—"

    cpu = median(results.one_at_a_time_ms[ours])
    return (
        "Against SPEC §8's targets: on the hot event "
        f"{ratio(hot, 'registrations_per_second', buckets)} of the bucket limit's "
        f"registrations/s (target ≥ 1) with p99 {m(hot, ours, 'p99_ms'):.0f} ms (≤ 300); "
        f"spread, {ratio(spread, 'requests_per_second', naive)} of the naive limit's "
        f"requests/s (≥ 0.8); once full, {ratio(hot, 'full_per_second', naive)} of its 409s/s "
        f"(≥ 0.5); {number(cpu, 2)} ms of app CPU a registration (≤ 2.5)."
    )


def report(args: argparse.Namespace, results: Results, ceiling: Figures, postgres: str) -> str:
    runs = [f for by_name in results.scenarios.values() for fs in by_name.values() for f in fs]
    driver = [f.driver_us for f in runs]
    wrong = "".join(f"\n\n**WRONG: {line}**" for line in results.wrong)
    return (
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, Python "
        f"{platform.python_version()}, PostgreSQL {postgres} on localhost; {args.users:,} "
        f"users, one registration each, {args.concurrency} in flight, round-robin over two "
        "processes of each contender (one uvicorn process each, uvloop, httptools; ours log "
        "each request as a JSON line, to /dev/null); each figure is the median of "
        f"{args.rounds} rounds that alternate between the contenders, each on a fresh copy of "
        "the same database. The driver (this process: HTTP/1.1 by hand on uvloop, connections "
        "kept alive) against two processes of a server that does nothing: "
        f"{ceiling.requests_per_second:,.0f} requests/s, {ceiling.driver_us:.0f} µs of its CPU "
        "a request (a core's worth: "
        f"{1e6 / ceiling.driver_us:,.0f} requests/s); in the runs above it spent "
        f"{min(driver):.0f}–{max(driver):.0f} µs a request.\n\n"
        f"{table(args, results)}\n\n{targets(args, results)}{other_answers(results)}{wrong}\n"
    )


async def postgres_version(database_url: str) -> str:
    connection = await asyncpg.connect(asyncpg_dsn(database_url, "postgres"))
    try:
        return str(await connection.fetchval("SHOW server_version")).split()[0]
    finally:
        await connection.close()


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--rounds", type=int, help="rounds per contender (median); 3")
    parser.add_argument("--users", type=int, help="registrations per scenario; 6000")
    parser.add_argument(
        "--seats", type=int, help="the hot event's seats, 20 times the spread's; 5000"
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="1 round, 1,200 users, 1,000 seats")
    parser.add_argument("--no-readme", action="store_true", help="print, do not write README")
    parser.add_argument(
        "--sqlite", action="store_true", help="events-face alone, one process, on SQLite"
    )
    args = parser.parse_args()
    defaults = (1, 1200, 1000) if args.quick else (3, 6000, 5000)
    for field, default in zip(("rounds", "users", "seats"), defaults, strict=True):
        if getattr(args, field) is None:
            setattr(args, field, default)
    if args.users <= args.seats or args.seats % SPREAD_EVENTS or args.users < WARM_UP:
        parser.error(f"need users > seats ≥ {SPREAD_EVENTS}, seats a multiple of 20, users ≥ 640")
    return args


def new_results(args: argparse.Namespace, names: Iterable[str]) -> Results:
    names = list(names)
    return Results(
        {label: {name: [] for name in names} for label in scenarios(args)},
        {name: [] for name in names},
        [],
    )


def postgres_run(runner: asyncio.Runner, args: argparse.Namespace) -> tuple[str, Results]:
    require_bench_database(args.database_url)
    build_template(runner, template_url(args.database_url), args)
    print(f"template ready: {args.users:,} users, {len(capacities(args))} events", flush=True)
    ceiling = driver_ceiling(runner, args)
    print(f"  the driver against a trivial server: {ceiling}", flush=True)
    results = new_results(args, CONTENDERS)
    for round_number in range(args.rounds):
        print(f"round {round_number + 1} of {args.rounds}:", flush=True)
        for name in CONTENDERS:
            contender_round(runner, name, args, results)
    return report(args, results, ceiling, runner.run(postgres_version(args.database_url))), results


def sqlite_run(runner: asyncio.Runner, args: argparse.Namespace) -> tuple[str, Results]:
    results = new_results(args, [SQLITE])
    with tempfile.TemporaryDirectory(prefix="sales-bench-") as directory:
        template = Path(directory) / "template.db"
        build_sqlite_template(runner, template, args)
        print(f"template ready: {args.users:,} users, {len(capacities(args))} events", flush=True)
        for round_number in range(args.rounds):
            print(f"round {round_number + 1} of {args.rounds}:", flush=True)
            sqlite_round(runner, template, args, results)
    text = (
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version} (WAL, a file in /tmp); "
        f"the same requests, {args.concurrency} in flight, to one process; medians of "
        f"{args.rounds} rounds, each on a fresh copy of the same database.\n\n"
        f"{table(args, results)}{other_answers(results)}"
        + "".join(f"\n\n**WRONG: {line}**" for line in results.wrong)
        + "\n"
    )
    return text, results


def main() -> None:
    args = arguments()
    # SIGTERM unwinds like Ctrl-C does, so that the servers are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        text, results = sqlite_run(runner, args) if args.sqlite else postgres_run(runner, args)
    print(text)
    if not args.no_readme:
        write_readme(
            text, *((SQLITE_BEGIN, SQLITE_END) if args.sqlite else (README_BEGIN, README_END))
        )
    if results.wrong:
        raise SystemExit("ERROR: seats held differ from the capacity (see above)")


if __name__ == "__main__":
    main()
