"""Check-in at the door (SPEC §4.6): door staff scan distinct tickets through two replicas.

    make bench-checkin    # or: ./scripts/uv run --frozen python -m bench.checkin [--tickets N]

One event with N confirmed registrations (inserted directly, with their tickets issued) and a
door user, on PostgreSQL (the database `checkinbench`, recreated). Two processes of
`events-face serve --no-migrate`, as the Dockerfile runs them, with a known TICKET_SIGNING_KEY,
so that the bench signs the tokens itself. N scans of N distinct tickets, 64 in flight,
round-robin over the two processes, each with a nonce of its own: the first scans (200 ok); then
the same N tickets scanned again with new nonces (409 already-checked-in); then the first N
scans sent again with their nonces (the first answer replayed). Afterwards the database must
hold N check-ins and 2N scans, or the command fails. Prints a markdown table and writes it into
bench/README.md (unless --no-readme).
"""

import argparse
import asyncio
import base64
import uuid
from collections import Counter
from datetime import UTC, datetime

import asyncpg
import orjson

from app.core.database import Database, create_engine
from app.core.migrations import upgrade_to_head
from app.core.security import TokenCodec, TokenType
from app.events.service import Catalogue
from app.events.version import LatestVersion
from app.tickets.signing import TicketClaims, TicketKeys
from bench.load import asyncpg_dsn, bench_environment, print_and_record, recreate_database
from bench.sales import (
    HOST,
    ISSUER,
    SERVE,
    _password_hash,
    drive,
    event_id,
    sale,
    timed,
    two_processes,
)
from bench.system import machine, require_bench_database

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/checkinbench"
README_BEGIN, README_END = "<!-- checkin:begin -->", "<!-- checkin:end -->"
SEED = bytes(range(32))
EVENT = "check-in"
WARM_UP = 200  # scans, of tickets of their own, before the figures
DOOR_USER = uuid.UUID(int=1, version=4)
VISITOR_USER = uuid.UUID(int=2, version=4)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--tickets", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-readme", action="store_true")
    return parser.parse_args()


def registration_ids(count: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=n + 1_000, version=4) for n in range(count)]


async def fill(database_url: str, tickets: int) -> None:
    now = datetime.now(UTC)
    database = Database(create_engine(database_url))
    async with database.transaction() as work:
        await Catalogue(work, LatestVersion(0)).apply([sale(EVENT, tickets, now)])
    await database.dispose()
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for user, name, door in ((DOOR_USER, "door", True), (VISITOR_USER, "visitor", False)):
            await connection.execute(
                "INSERT INTO users (id, username, password_hash, is_active, is_staff, is_door,"
                " created_at) VALUES ($1, $2, $3, true, false, $4, $5)",
                user,
                name,
                _password_hash(),
                door,
                now,
            )
        columns = [
            "id", "event_id", "user_id", "full_name", "email", "email_key", "status",
            "code_hash", "code_sent_at", "codes_resent", "failed_attempts", "created_at",
            "confirmed_at", "ticket_version", "ticket_issued_at", "ticket_changed_at",
        ]  # fmt: skip
        event = event_id(EVENT)
        ticket = ("confirmed", "-", now, 0, 0, now, now, 1, now, now)
        rows = [
            (
                registration,
                event,
                VISITOR_USER,
                f"Посетитель {n}",
                f"v{n}@x.org",
                f"v{n}@x.org",
                *ticket,
            )
            for n, registration in enumerate(registration_ids(tickets))
        ]
        await connection.copy_records_to_table("registrations", records=rows, columns=columns)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def scans(codec: TokenCodec, tickets: list[uuid.UUID], ports: list[int], label: str) -> list[bytes]:
    """Scan n of tickets[n] at ports[n % 2], with the nonce `label-n`: each request as it goes
    on the wire."""
    keys = TicketKeys([SEED])
    bearer, _ = codec.encode(str(DOOR_USER), TokenType.ACCESS, 3600)
    made = []
    for n, registration in enumerate(tickets):
        token = keys.sign(TicketClaims(registration, event_id(EVENT), 1))
        body = orjson.dumps(
            {"event_id": str(event_id(EVENT)), "token": token, "nonce": f"{label}-{n}"}
        )
        head = (
            f"POST /api/checkin HTTP/1.1\r\nHost: {HOST}:{ports[n % len(ports)]}\r\n"
            f"Authorization: Bearer {bearer}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        made.append(head.encode() + body)
    return made


async def counted(database_url: str) -> tuple[int, int]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        checked_in = await connection.fetchval(
            "SELECT count(*) FROM registrations WHERE checked_in_at IS NOT NULL"
        )
        recorded = await connection.fetchval("SELECT count(*) FROM checkin_scans")
    finally:
        await connection.close()
    return checked_in, recorded


def main() -> int:
    args = arguments()
    require_bench_database(args.database_url)
    env = {
        **bench_environment(args.database_url),
        "TICKET_SIGNING_KEY": base64.urlsafe_b64encode(SEED).decode().rstrip("="),
    }
    codec = TokenCodec(env["JWT_SECRET_KEY"], ISSUER)
    tickets = registration_ids(args.tickets)
    rows = []
    wrong = []
    with asyncio.Runner() as runner:
        runner.run(recreate_database(args.database_url))
        upgrade_to_head(args.database_url)
        runner.run(fill(args.database_url, args.tickets))
        with two_processes(SERVE, "/health/ready", env) as (ports, pids):
            runner.run(drive(ports, scans(codec, tickets[:WARM_UP], ports, "warm-up"), 8))
            first = scans(codec, tickets[WARM_UP:], ports, "first")
            phases = {
                "first scans (200 ok)": (first, 200),
                "scanned again (409 already-checked-in)": (
                    scans(codec, tickets[WARM_UP:], ports, "again"),
                    409,
                ),
                "the first scans resent with their nonces (replayed)": (first, 200),
            }
            for label, (batch, expected) in phases.items():
                run = timed(runner, ports, batch, args.concurrency, pids)
                statuses = Counter(answer.status for answer in run.answers)
                if statuses != {expected: len(batch)}:
                    wrong.append(f"{label}: {dict(statuses)}")
                latencies = sorted(answer.ended - answer.started for answer in run.answers)
                p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
                seconds = max(answer.ended for answer in run.answers) - run.started
                rows.append(
                    f"| {label} | {len(batch) / seconds:,.0f} | {p99:,.0f} |"
                    f" {run.app_cpu / len(batch) * 1000:.2f} |"
                )
        checked_in, recorded = runner.run(counted(args.database_url))
    if (checked_in, recorded) != (args.tickets, 2 * args.tickets - WARM_UP):
        wrong.append(f"{checked_in:,} check-ins and {recorded:,} scans recorded")
    text = "\n".join(
        [
            f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, PostgreSQL on localhost;"
            f" two processes of `events-face serve`, {args.concurrency} in flight,"
            f" {args.tickets - WARM_UP:,} distinct tickets of one event"
            f" (after {WARM_UP} to warm up).",
            "",
            "| scans | per second | p99 ms | app CPU ms per scan |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"Counted afterwards: {checked_in:,} check-ins, {recorded:,} scans recorded.",
            "",
        ]
    )
    return print_and_record(
        text, wrong, to_readme=not args.no_readme, begin=README_BEGIN, end=README_END
    )


if __name__ == "__main__":
    raise SystemExit(main())
