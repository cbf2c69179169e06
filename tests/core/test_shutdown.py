"""SIGTERM on a real `events-face serve`: readiness turns 503 while everything else is still
served, then the process stops, hands its outbox claims and its sync lease back at once (long
before they would run out) and exits 0."""

import asyncio
import signal
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from app.outbox.models import OutboxMessage, OutboxStatus
from app.sync.models import Lease, SyncRun
from app.sync.service import SYNC_LEASE
from fakes.notifications import Behaviour
from fakes.provider import Behaviour as ProviderBehaviour
from fakes.provider import FakeProvider
from tests.conftest import database_of
from tests.support.auth import access_token, bearer
from tests.support.database import empty_tables
from tests.support.notifications import (
    NOTIFICATIONS_TOKEN,
    OWNER_ID,
    eventually,
    new_ids,
    notifications,
    seed_messages,
)
from tests.support.processes import service_environment, start_server, stop, wait_until_ready
from tests.support.servers import served_provider

__all__ = ["notifications"]
pytestmark = pytest.mark.slow

DRAIN_SECONDS = 2.0
MESSAGES = 300


@pytest.fixture
async def slow_provider() -> AsyncIterator[FakeProvider]:
    """A provider whose first page takes long enough for a sync run to be going at SIGTERM."""
    fake = FakeProvider(behaviour=ProviderBehaviour(delay_seconds=6))
    async with served_provider(fake):
        yield fake


async def rows(app, query) -> int:
    async with database_of(app).transaction() as work:
        return int(await work.session.scalar(query) or 0)


def claimed_messages():
    return select(func.count()).where(OutboxMessage.lease_holder.is_not(None))


def sync_leases():
    return select(func.count()).select_from(Lease).where(Lease.name == SYNC_LEASE)


async def test_sigterm_drains_then_hands_the_leases_back_and_exits_0(
    app, database_url, notifications, slow_provider
):
    await empty_tables(database_of(app).engine)
    notifications.reset()
    notifications.behaviour = Behaviour(delay_seconds=0.3)
    await seed_messages(database_of(app), new_ids(MESSAGES))
    environment = service_environment(
        database_url,
        SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS),
        OUTBOX_RELAY_ENABLED="true",
        NOTIFICATIONS_URL=notifications.url,
        NOTIFICATIONS_TOKEN=NOTIFICATIONS_TOKEN,
        NOTIFICATIONS_OWNER_ID=OWNER_ID,
        SYNC_INTERVAL_SECONDS="3600",
        EVENTS_PROVIDER_URL=slow_provider.url,
        LOG_LEVEL="WARNING",
    )
    server, base_url = await start_server(environment)
    try:
        assert await wait_until_ready(f"{base_url}/health/ready", server, 30) == 200
        async with httpx.AsyncClient(base_url=base_url) as http:
            headers = bearer(await access_token(http))
            # Both under way: the relay's claims and the first sync run's lease (each starts
            # on its own, in no given order).
            await eventually(lambda: rows(app, claimed_messages()), timeout=15)
            await eventually(lambda: rows(app, sync_leases()), timeout=15)

            server.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            await asyncio.sleep(0.3)
            ready = await http.get("/health/ready")
            me = await http.get("/api/auth/me", headers=headers)
            code = await asyncio.wait_for(server.wait(), DRAIN_SECONDS + 20)
            stopped_after = time.monotonic() - signalled
    finally:
        await stop(server)

    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert me.status_code == 200
    assert me.headers["connection"] == "close"
    assert code == 0
    assert DRAIN_SECONDS <= stopped_after < DRAIN_SECONDS + 15
    assert await rows(app, claimed_messages()) == 0
    assert await rows(app, sync_leases()) == 0
    unsent = select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING)
    assert 0 < await rows(app, unsent) < MESSAGES
    interrupted = select(func.count()).where(SyncRun.error == "interrupted by shutdown")
    assert await rows(app, interrupted) == 1
