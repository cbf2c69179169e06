"""The fake notification service, served over real HTTP, and an app whose relay sends to it."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select

from app.core.database import Database
from app.dependencies import container_of
from app.outbox.models import OutboxMessage
from fakes.notifications import NOTIFICATIONS_PATH, FakeNotifications
from tests.conftest import client_of, make_settings, running_app
from tests.support.servers import serving

NOTIFICATIONS_TOKEN = "notifications-test-token"
OWNER_ID = "7f3c2a9e-1d4b-4c8e-9a6f-2b5d8e1c0a47"
MAX_ATTEMPTS = 3


def relay_settings(database_url: str, notifications_url: str, **overrides: object):
    """Settings of an app whose relay sends to the fake, retrying fast."""
    values: dict[str, object] = {
        "outbox_relay_enabled": True,
        "notifications_url": notifications_url,
        "notifications_token": NOTIFICATIONS_TOKEN,
        "notifications_owner_id": OWNER_ID,
        "notifications_timeout_seconds": 0.5,
        "outbox_max_attempts": MAX_ATTEMPTS,
        "outbox_retry_base_seconds": 0.01,
        "outbox_poll_interval_seconds": 0.05,
        "outbox_lease_seconds": 5,
    }
    values.update(overrides)
    return make_settings(database_url, **values)


@pytest.fixture(scope="module")
async def notifications() -> AsyncIterator[FakeNotifications]:
    fake = FakeNotifications(token=NOTIFICATIONS_TOKEN)
    async with serving(fake.app) as base_url:
        fake.url = base_url + NOTIFICATIONS_PATH
        yield fake


@pytest.fixture(scope="module")
async def relay_app(database_url: str, notifications: FakeNotifications) -> AsyncIterator[FastAPI]:
    async with running_app(relay_settings(database_url, notifications.url)) as application:
        yield application


@pytest.fixture
async def api(
    relay_app: FastAPI, notifications: FakeNotifications
) -> AsyncIterator[httpx.AsyncClient]:
    notifications.reset()
    async with client_of(relay_app) as http:
        yield http


async def eventually(check: Callable[[], object], timeout: float = 20.0) -> None:
    """Polls until `check()` is truthy (awaiting it when it is a coroutine)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        await asyncio.sleep(0.05)


def new_ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


async def seed_messages(database: Database, ids: list[str]) -> None:
    """Pending notifications with these ids, written straight to the outbox."""
    rows = [
        {
            "id": uuid.UUID(message_id),
            "topic": "test",
            "payload": {"email": f"v{n}@example.com", "message": f"Сообщение {n}"},
        }
        for n, message_id in enumerate(ids)
    ]
    async with database.transaction() as work:
        for start in range(0, len(rows), 500):
            await work.session.execute(insert(OutboxMessage), rows[start : start + 500])


async def status_of(app, message_id: str) -> tuple[str, int]:
    async with container_of(app).database.transaction() as work:
        row = (
            await work.session.execute(
                select(OutboxMessage.status, OutboxMessage.attempts).where(
                    OutboxMessage.id == uuid.UUID(message_id)
                )
            )
        ).one()
    return row.status, row.attempts
