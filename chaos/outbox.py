"""Chaos figures for the outbox, after the public PostgreSQL job-queue benchmarks: faults
caused while relays drain a backlog into the fake notification service, which counts what it
receives. For each: messages lost (must be 0), duplicates sent (notifications delivered a
second time, which at-least-once delivery allows), and the seconds from the end of the fault
to the last delivery."""

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.database import Database, create_engine
from app.outbox.models import OutboxMessage, OutboxStatus
from bench.system import stop
from chaos.common import (
    events_face,
    markdown_table,
    restart_postgres,
    wait_until_answers,
)
from fakes.notifications import Behaviour, FakeNotifications
from tests.support.database import terminate_backends_of
from tests.support.notifications import new_ids, seed_messages
from tests.support.processes import free_port, service_environment
from tests.support.servers import serving

MESSAGES = 2000
# The relays' default batch is 100 messages: a kill once 550 are delivered strikes while the
# sixth batch's sends are in flight, half of them done and not yet recorded.
MID_BATCH = 0.275
LEASE_SECONDS = 10  # OUTBOX_LEASE_SECONDS for the scenarios (30 by default)
SEND_SECONDS = 0.02  # the fake notification service's answer time
SLOW_REQUESTS = 60  # twice a replica's pool
SLOW_FOR_SECONDS = 10
DRAIN_TIMEOUT = 120.0


@dataclass(frozen=True)
class Figures:
    scenario: str
    lost: int
    duplicates: int
    drain_seconds: float
    note: str = ""


class Drain:
    """One scenario's backlog: MESSAGES pending messages and the relays that deliver them."""

    def __init__(self, url: str, database: Database, fake: FakeNotifications, log: Path) -> None:
        self.url = url
        self.database = database
        self.fake = fake
        self.log = log
        self.ids = set(new_ids(MESSAGES))

    def environment(self) -> dict[str, str]:
        return service_environment(
            self.url,
            OUTBOX_RELAY_ENABLED="true",
            NOTIFICATIONS_URL=self.fake.url,
            OUTBOX_LEASE_SECONDS=str(LEASE_SECONDS),
            NOTIFICATIONS_TIMEOUT_SECONDS="2",
            RATE_LIMIT_AUTH="100000/minute",
            LOG_LEVEL="WARNING",
        )

    def worker(self) -> subprocess.Popen[bytes]:
        return events_face("worker", env=self.environment(), log=self.log)

    @asynccontextmanager
    async def relay_past_a_quarter(self) -> AsyncIterator[subprocess.Popen[bytes]]:
        """A relay (`events-face worker`) that has delivered a quarter of the backlog."""
        worker = self.worker()
        try:
            await self.until_delivered(0.25)
            yield worker
        finally:
            stop(worker)

    def delivered(self) -> int:
        return len(self.fake.delivered_ids & self.ids)

    async def until_delivered(self, share: float) -> None:
        """Polls the fake (another process's sends are nothing this loop can await)."""
        while True:
            if self.delivered() >= share * MESSAGES:
                return
            await asyncio.sleep(0.02)

    async def seconds_to_drain(self, fault_over: float) -> float:
        """Until every message is delivered and recorded as sent (a message delivered but
        not recorded is sent again once its lease runs out: a duplicate still to come)."""
        deadline = fault_over + DRAIN_TIMEOUT
        while True:
            drained = self.delivered() >= MESSAGES and not await self.unsent_rows()
            if drained or time.monotonic() > deadline:
                return time.monotonic() - fault_over
            await asyncio.sleep(0.1)

    async def seed(self) -> None:
        async with self.database.transaction() as work:
            await work.session.execute(text("TRUNCATE outbox_messages"))
        await seed_messages(self.database, sorted(self.ids))

    async def unsent_rows(self) -> int:
        async with self.database.transaction() as work:
            unsent = select(func.count()).where(OutboxMessage.status != OutboxStatus.SENT)
            return int(await work.session.scalar(unsent) or 0)


async def no_fault(drain: Drain) -> tuple[float, str]:
    async with drain.relay_past_a_quarter():
        return await drain.seconds_to_drain(time.monotonic()), "the reference"


async def postgres_restarted_mid_drain(drain: Drain) -> tuple[float, str]:
    async with drain.relay_past_a_quarter():
        started = time.monotonic()
        await asyncio.to_thread(restart_postgres)
        over = time.monotonic()
        note = f"PostgreSQL down and back in {over - started:.1f} s"
        return await drain.seconds_to_drain(over), note


async def relay_backends_killed(drain: Drain) -> tuple[float, str]:
    async with drain.relay_past_a_quarter() as worker:
        killed = await terminate_backends_of(drain.url, worker.pid)
        over = time.monotonic()
        return await drain.seconds_to_drain(over), f"connections terminated: {killed}"


async def pool_exhausted_by_slow_requests(drain: Drain) -> tuple[float, str]:
    """The relay inside `serve`, sharing the pool with SLOW_REQUESTS requests that wait on a
    lock held on the users table for SLOW_FOR_SECONDS: each `GET /api/auth/me` reads its user
    on a connection of its own. (Catalogue reads would not do: waiting for the catalogue's
    version, they share one read, hence one connection.)"""
    port = free_port()
    server = events_face(
        "serve", "--no-migrate", "--port", str(port), env=drain.environment(), log=drain.log
    )
    base_url = f"http://127.0.0.1:{port}"
    locker = create_async_engine(drain.url)
    try:
        await asyncio.to_thread(wait_until_answers, f"{base_url}/health/ready", server)
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            registered = await http.post(
                "/api/auth/register", json={"username": "chaos", "password": "chaos-password-1"}
            )
            headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
            await drain.until_delivered(0.25)
            async with locker.connect() as lock:
                await lock.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
                slow = [
                    asyncio.create_task(http.get("/api/auth/me", headers=headers))
                    for _ in range(SLOW_REQUESTS)
                ]
                before = drain.delivered()
                await asyncio.sleep(SLOW_FOR_SECONDS)
                during = drain.delivered() - before
                await lock.rollback()
            over = time.monotonic()
            seconds = await drain.seconds_to_drain(over)
            statuses = sorted({(await request).status_code for request in slow})
        note = (
            f"{during} delivered while the pool was held; the {SLOW_REQUESTS} slow requests "
            f"answered {', '.join(map(str, statuses))}"
        )
        return seconds, note
    finally:
        await locker.dispose()
        stop(server)


async def relay_killed_at(drain: Drain, shares: tuple[float, ...], note: str) -> tuple[float, str]:
    """A relay SIGKILLed once each share of the backlog is delivered, replaced at once."""
    worker = drain.worker()
    for share in shares:
        await drain.until_delivered(share)
        worker.kill()
        worker.wait()
        worker = drain.worker()
    over = time.monotonic()
    try:
        return await drain.seconds_to_drain(over), note
    finally:
        stop(worker)


async def relay_sigkilled_mid_batch(drain: Drain) -> tuple[float, str]:
    return await relay_killed_at(drain, (MID_BATCH,), "a new relay started at once")


async def relay_killed_three_times(drain: Drain) -> tuple[float, str]:
    shares = (MID_BATCH - 0.1, MID_BATCH, MID_BATCH + 0.1)
    return await relay_killed_at(drain, shares, "SIGKILL, each time replaced at once")


Scenario = Callable[[Drain], Awaitable[tuple[float, str]]]
SCENARIOS: tuple[tuple[str, Scenario], ...] = (
    ("none: one relay drains the last 75 %", no_fault),
    ("PostgreSQL restarted mid-drain", postgres_restarted_mid_drain),
    ("the relay's backends killed (pg_terminate_backend)", relay_backends_killed),
    ("the pool exhausted by slow requests", pool_exhausted_by_slow_requests),
    ("a relay SIGKILLed mid-batch", relay_sigkilled_mid_batch),
    ("a relay killed three times in a row", relay_killed_three_times),
)


async def run_scenarios(url: str, log: Path, *, restart_postgres_too: bool) -> list[Figures]:
    results = []
    database = Database(create_engine(url))
    async with AsyncExitStack() as stack:
        stack.push_async_callback(database.dispose)
        fake = FakeNotifications()
        fake.url = await stack.enter_async_context(serving(fake.app)) + "/api/notifications"
        for name, scenario in SCENARIOS:
            if scenario is postgres_restarted_mid_drain and not restart_postgres_too:
                continue
            fake.reset()
            fake.behaviour = Behaviour(delay_seconds=SEND_SECONDS)
            drain = Drain(url, database, fake, log)
            await drain.seed()
            print(f"  {name} …", flush=True)
            seconds, note = await scenario(drain)
            if unsent := await drain.unsent_rows():
                note += f"; {unsent} rows not marked sent within {DRAIN_TIMEOUT:.0f} s"
            lost = MESSAGES - drain.delivered()
            results.append(Figures(name, lost, fake.duplicates, seconds, note))
    return results


def table(results: list[Figures]) -> str:
    header = [f"fault ({MESSAGES:,} messages)", "lost", "duplicates sent"]
    header += ["seconds to drain after the fault", ""]
    rows = [
        [r.scenario, str(r.lost), str(r.duplicates), f"{r.drain_seconds:.1f}", r.note]
        for r in results
    ]
    return markdown_table(header, "lrrrl", rows)
