"""`events-face worker` processes: a relay killed mid-batch loses nothing, and three relays
on one database never send a message from two places at once."""

import asyncio
import signal
import sys

import pytest

from fakes.notifications import Behaviour
from tests.conftest import database_of
from tests.support.database import empty_tables
from tests.support.notifications import (
    NOTIFICATIONS_TOKEN,
    OWNER_ID,
    eventually,
    new_ids,
    seed_messages,
)
from tests.support.processes import PROJECT_ROOT, service_environment, stop

pytestmark = pytest.mark.slow


async def start_worker(database_url: str, notifications_url: str) -> asyncio.subprocess.Process:
    environment = service_environment(
        database_url,
        NOTIFICATIONS_URL=notifications_url,
        NOTIFICATIONS_TOKEN=NOTIFICATIONS_TOKEN,
        NOTIFICATIONS_OWNER_ID=OWNER_ID,
        OUTBOX_LEASE_SECONDS="3",
        OUTBOX_BATCH_SIZE="50",
        OUTBOX_POLL_INTERVAL_SECONDS="0.1",
        NOTIFICATIONS_TIMEOUT_SECONDS="1",
        LOG_LEVEL="WARNING",
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "worker",
        env=environment,
        cwd=PROJECT_ROOT,
        stdin=asyncio.subprocess.DEVNULL,
    )


async def test_a_relay_killed_mid_batch_loses_nothing(app, database_url, notifications):
    await empty_tables(database_of(app).engine)
    notifications.reset()
    notifications.behaviour = Behaviour(delay_seconds=0.02)
    ids = new_ids(300)
    await seed_messages(database_of(app), ids)

    first = await start_worker(database_url, notifications.url)
    try:
        await eventually(lambda: len(notifications.received) >= 20, timeout=30)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    finally:
        await stop(first)
    delivered_by_the_first = len(notifications.delivered_ids)
    second = await start_worker(database_url, notifications.url)
    try:
        await eventually(lambda: notifications.delivered_ids == set(ids), timeout=40)
    finally:
        await stop(second)

    assert delivered_by_the_first < len(ids)
    assert all(notifications.created(message_id) == 1 for message_id in ids)


@pytest.mark.postgresql_only("several relay processes share one PostgreSQL (SKIP LOCKED)")
async def test_three_relays_deliver_everything_and_never_the_same_message_at_once(
    app, database_url, notifications
):
    await empty_tables(database_of(app).engine)
    notifications.reset()
    notifications.behaviour = Behaviour(delay_seconds=0.005)
    ids = new_ids(1000)
    await seed_messages(database_of(app), ids)

    workers = [await start_worker(database_url, notifications.url) for _ in range(3)]
    try:
        await eventually(lambda: notifications.delivered_ids == set(ids), timeout=60)
    finally:
        for worker in workers:
            await stop(worker)

    assert notifications.overlapping == []
    assert all(notifications.created(message_id) == 1 for message_id in ids)
    assert len(notifications.received) == len(ids)


async def test_a_worker_stops_cleanly_on_sigterm(app, database_url, notifications):
    await empty_tables(database_of(app).engine)
    notifications.reset()
    ids = new_ids(1)
    await seed_messages(database_of(app), ids)
    worker = await start_worker(database_url, notifications.url)
    await eventually(lambda: notifications.delivered_ids == set(ids), timeout=30)

    worker.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(worker.wait(), 15)

    assert code == 0
